"""The server-rendered pages, driven like a browser would: form posts with the session's CSRF token."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response  # what starlette.testclient returns
from sqlalchemy.orm import Session

from cybercrisis.documents.models import Document
from tests.conftest import Actor, World, count
from tests.web.conftest import HTML, csrf_on, sign_in


def create_document_via_form(client: TestClient, **fields: str | list[str]) -> Response:
    data = {
        "csrf_token": csrf_on(client, "/documents/new"),
        "title": "Draft",
        "kind": "sop",
        "tlp": "amber+strict",
        "body": "",
        "users": "",
        **fields,
    }
    return client.post("/documents", data=data, headers=HTML, follow_redirects=False)


def test_login_page_renders_a_labelled_form_and_sets_the_login_csrf_cookie(client: TestClient) -> None:
    r = client.get("/login", headers=HTML)
    assert r.status_code == 200
    assert '<label for="email">' in r.text
    assert '<label for="password">' in r.text
    assert "cc_login_csrf" in r.headers["set-cookie"]
    assert "content-security-policy" in r.headers


def test_wrong_password_shows_an_error_and_answers_401(client: TestClient, fr: Actor) -> None:
    r = sign_in(client, fr.email, "not the password")
    assert r.status_code == 401
    assert "Wrong e-mail or password." in r.text
    assert 'aria-describedby="login-error"' in r.text
    assert fr.email in r.text  # the e-mail typed is kept
    assert "cc_session" not in client.cookies


def test_pages_redirect_to_the_login_page_when_signed_out(client: TestClient) -> None:
    r = client.get("/directory?country=DE", headers=HTML, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/directory"


def test_overview_shows_who_i_am_and_my_organisation(signed_in: TestClient, fr: Actor) -> None:
    r = signed_in.get("/", headers=HTML)
    assert r.status_code == 200
    assert fr.email in r.text
    assert "CERT-XF" in r.text
    assert "Organisation admin" in r.text
    assert "National CSIRT" in r.text


def test_directory_lists_organisations_and_filters_by_country(client: TestClient, world: World, fr: Actor) -> None:
    world.org("CERT-XD", country="DE")
    world.org("CERT-XE", country="EE")
    sign_in(client, fr.email)

    everything = client.get("/directory", headers=HTML)
    assert everything.status_code == 200
    assert all(f"{short} organisation" in everything.text for short in ("CERT-XD", "CERT-XE", "CERT-XF"))
    assert "3 organisations" in everything.text
    assert '<option value="DE">Germany</option>' in everything.text

    german = client.get("/directory?country=DE", headers=HTML)
    assert "CERT-XD organisation" in german.text
    assert "CERT-XE organisation" not in german.text
    assert "CERT-XF organisation" not in german.text
    assert "1 organisation match" in german.text
    assert '<option value="DE" selected>Germany</option>' in german.text


def test_directory_search_and_paging_keep_the_filters_in_the_url(client: TestClient, world: World, fr: Actor) -> None:
    for i in range(3):
        world.org(f"NCSC-{i}", country="EE")
    sign_in(client, fr.email)
    r = client.get("/directory?q=ncsc", headers=HTML)
    assert "3 organisations match" in r.text
    assert "CERT-XF organisation" not in r.text
    assert "Next page" not in r.text


def test_an_unknown_country_filter_is_shown_as_a_message_with_422(signed_in: TestClient) -> None:
    r = signed_in.get("/directory?country=XX", headers=HTML)
    assert r.status_code == 422
    assert "is not an ISO 3166-1 alpha-2 country code" in r.text


def test_organisation_page_shows_only_the_contacts_the_reader_may_see(
    client: TestClient, world: World, fr: Actor
) -> None:
    world.org("CERT-XB", country="DE", communities=("csirts-network",))
    world.org("CERT-XC", country="NL")
    bund = world.user("CERT-XB", roles=("org-admin",))
    org_b = world.orgs["CERT-XB"]
    contacts = [
        ("email", "Public desk", "desk@xb.example", "clear", {}),
        ("phone", "Peer line", "+49 2", "green", {}),
        ("phone", "Red line", "+49 666", "red", {"users": [bund.email]}),
        (
            "secure-channel",
            "Strict channel",
            "strict-channel-xb",
            "amber+strict",
            {"organisations": [world.orgs["CERT-XC"]]},
        ),
    ]
    for kind, label, value, tlp, share in contacts:
        r = client.post(
            "/api/v1/contacts",
            headers=bund.headers,
            json={"organisation": org_b, "kind": kind, "label": label, "value": value, "tlp": tlp, "share_with": share},
        )
        assert r.status_code == 201, r.text

    sign_in(client, fr.email)
    page = client.get(f"/directory/{org_b}", headers=HTML)
    assert page.status_code == 200
    assert "desk@xb.example" in page.text
    assert "TLP:CLEAR" in page.text
    assert "+49 2" in page.text
    assert "TLP:GREEN" in page.text
    assert "Red line" not in page.text
    assert "+49 666" not in page.text
    assert "Strict channel" not in page.text
    assert "strict-channel-xb" not in page.text
    assert "Add a contact" not in page.text  # not the reader's organisation


def test_org_admin_adds_and_deletes_a_contact_of_their_own_organisation(signed_in: TestClient, fr: Actor) -> None:
    org_page = f"/directory/{fr.org_id}"
    token = csrf_on(signed_in, org_page)
    r = signed_in.post(
        f"{org_page}/contacts",
        headers=HTML,
        follow_redirects=False,
        data={
            "csrf_token": token,
            "kind": "phone",
            "label": "Night duty",
            "value": "+33 9 99",
            "pgp_fingerprint": "",
            "tlp": "amber+strict",
            "organisations": [fr.org_id],
        },
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"{org_page}#contacts"
    page = signed_in.get(org_page, headers=HTML)
    assert "Night duty" in page.text
    assert "TLP:AMBER+STRICT" in page.text

    delete = re.search(rf'action="({org_page}/contacts/contact--[^"/]+/delete)"', page.text)
    assert delete
    r = signed_in.post(delete.group(1), data={"csrf_token": token}, headers=HTML, follow_redirects=False)
    assert r.status_code == 303
    assert "Night duty" not in signed_in.get(org_page, headers=HTML).text


def test_a_bad_contact_form_is_shown_again_with_the_message_and_the_input(signed_in: TestClient, fr: Actor) -> None:
    org_page = f"/directory/{fr.org_id}"
    r = signed_in.post(
        f"{org_page}/contacts",
        headers=HTML,
        data={
            "csrf_token": csrf_on(signed_in, org_page),
            "kind": "pgp",
            "label": "Team key",
            "value": "team@xf.example",
            "pgp_fingerprint": "not-a-fingerprint",
            "tlp": "green",
        },
    )
    assert r.status_code == 422
    assert "A PGP fingerprint is 40 hexadecimal characters" in r.text
    assert 'value="team@xf.example"' in r.text
    assert 'value="not-a-fingerprint"' in r.text
    assert 'aria-describedby="c-pgp-help c-pgp-error"' in r.text


def test_post_without_csrf_token_is_refused_and_changes_nothing(signed_in: TestClient, fr: Actor, db: Session) -> None:
    r = signed_in.post(
        "/documents",
        headers=HTML,
        follow_redirects=False,
        data={"title": "Forged", "kind": "sop", "tlp": "clear", "body": ""},
    )
    assert r.status_code == 403
    assert "did not come from this site" in r.text
    assert count(db, Document) == 0

    r = signed_in.post(
        "/account/tokens", headers=HTML, data={"name": "forged", "expires_days": "30", "csrf_token": "wrong"}
    )
    assert r.status_code == 403
    assert "cc_" not in r.text


def test_document_created_through_the_form_is_then_visible(signed_in: TestClient, fr: Actor) -> None:
    r = create_document_via_form(
        signed_in, title="Crisis plan extract", body="Line one\nLine two", organisations=[fr.org_id]
    )
    assert r.status_code == 303
    location = r.headers["location"]
    assert location.startswith("/documents/document--")

    page = signed_in.get(location, headers=HTML)
    assert page.status_code == 200
    assert "Crisis plan extract" in page.text
    assert 'class="tlp-banner tlp-amber-strict"' in page.text
    assert "CERT-XF" in page.text  # the share list shows names, not ids
    assert "Created" in page.text  # the timeline
    assert "Crisis plan extract" in signed_in.get("/documents", headers=HTML).text
    assert "Crisis plan extract" in signed_in.get("/", headers=HTML).text


def test_a_document_without_marking_is_refused_with_422_and_the_input_kept(signed_in: TestClient) -> None:
    r = create_document_via_form(signed_in, title="Unmarked", tlp="")
    assert r.status_code == 422
    assert "Choose a TLP label" in r.text
    assert 'value="Unmarked"' in r.text


def test_tlp_white_is_refused_with_a_pointer_to_clear(signed_in: TestClient) -> None:
    r = create_document_via_form(signed_in, title="Old marking", tlp="white")
    assert r.status_code == 422
    assert "TLP 2.0 calls it CLEAR" in r.text


def test_a_document_the_reader_may_not_see_answers_a_404_page(client: TestClient, world: World, fr: Actor) -> None:
    world.org("CERT-XB", country="DE")
    bund = world.user("CERT-XB")
    r = client.post(
        "/api/v1/documents",
        headers=bund.headers,
        json={"title": "Bund internal", "tlp": "amber+strict", "body": "secret body"},
    )
    assert r.status_code == 201, r.text
    doc_id = r.json()["id"]

    sign_in(client, fr.email)
    page = client.get(f"/documents/{doc_id}", headers=HTML)
    assert page.status_code == 404
    assert "Not found" in page.text
    assert "Bund internal" not in page.text
    assert "secret body" not in page.text
    assert "Bund internal" not in client.get("/documents", headers=HTML).text


def test_editing_a_document_changed_meanwhile_shows_a_conflict(signed_in: TestClient, fr: Actor) -> None:
    location = create_document_via_form(signed_in, title="Version one").headers["location"]
    token = csrf_on(signed_in, location)
    first = signed_in.post(
        f"{location}/edit",
        headers=HTML,
        follow_redirects=False,
        data={"csrf_token": token, "version": "1", "title": "Version two", "kind": "sop"},
    )
    assert first.status_code == 303
    stale = signed_in.post(
        f"{location}/edit",
        headers=HTML,
        data={"csrf_token": token, "version": "1", "title": "My other edit", "kind": "sop"},
    )
    assert stale.status_code == 409
    assert "changed this document since you opened it" in stale.text
    assert 'value="My other edit"' in stale.text  # the user's text is not lost
    assert "Version two" in signed_in.get(location, headers=HTML).text


def test_owner_changes_marking_and_recipients_through_the_sharing_form(
    signed_in: TestClient, world: World, fr: Actor
) -> None:
    other = world.org("CERT-XN", country="NL")
    location = create_document_via_form(signed_in, title="To widen").headers["location"]
    r = signed_in.post(
        f"{location}/sharing",
        headers=HTML,
        follow_redirects=False,
        data={"csrf_token": csrf_on(signed_in, location), "tlp": "amber", "organisations": [other]},
    )
    assert r.status_code == 303
    page = signed_in.get(location, headers=HTML)
    assert "TLP:AMBER</strong>" in page.text
    assert "CERT-XN" in page.text
    assert "Marking or recipients changed" in page.text
    assert "tlp: amber+strict → amber" in page.text


def test_amber_recipient_passes_a_document_on_to_its_constituents(client: TestClient, world: World, fr: Actor) -> None:
    world.org("CERT-XB", country="DE")
    hospital = world.org("Hospital", type_="entity", parent="CERT-XF")
    bund = world.user("CERT-XB")
    r = client.post(
        "/api/v1/documents",
        headers=bund.headers,
        json={"title": "Amber advisory", "tlp": "amber", "share_with": {"organisations": [fr.org_id]}},
    )
    doc_id = r.json()["id"]

    sign_in(client, fr.email)
    page = client.get(f"/documents/{doc_id}", headers=HTML)
    assert "Pass on to my constituents" in page.text
    assert "Hospital" in page.text
    assert "Save marking and recipients" not in page.text  # only the originator edits the share list
    r = client.post(
        f"/documents/{doc_id}/pass-on",
        headers=HTML,
        follow_redirects=False,
        data={"csrf_token": csrf_on(client, f"/documents/{doc_id}"), "organisations": [hospital]},
    )
    assert r.status_code == 303
    timeline = client.get(f"/documents/{doc_id}", headers=HTML).text
    assert "Passed on to constituents" in timeline
    assert "passed on to: Hospital" in timeline  # by name, not by id
    assert hospital not in timeline.split('id="h-timeline"')[1]


def test_token_created_in_the_ui_is_shown_once_and_works_as_bearer(
    signed_in: TestClient, fr: Actor, app: FastAPI
) -> None:
    r = signed_in.post(
        "/account/tokens",
        headers=HTML,
        data={"csrf_token": csrf_on(signed_in, "/account/tokens"), "name": "MISP sync", "expires_days": "30"},
    )
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    shown = re.search(r'id="new-token"[^>]*value="(cc_[^"]+)"', r.text)
    assert shown
    token = shown.group(1)

    later = signed_in.get("/account/tokens", headers=HTML)
    assert token not in later.text
    assert "MISP sync" in later.text
    assert token[:10] in later.text

    with TestClient(app) as fresh:
        me = fresh.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["email"] == fr.email
