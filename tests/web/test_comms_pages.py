"""Statement pages: the list, drafting through the form, one statement with its approvals, release and versions.

Every form goes through `comms.service` as the API does; these tests drive the pages as a browser would (signed in
through the login form, CSRF token from the page) and check what was written, what was refused, and what each
reader is shown.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.audit.models import AuditEvent
from cybercrisis.comms.models import Communication, CommunicationApproval, CommunicationVersion, Publication
from tests.conftest import Actor, World, count
from tests.web.conftest import HTML, csrf_on, sign_in

NOW = datetime.now(UTC).replace(second=0, microsecond=0)


@pytest.fixture
def people(world: World) -> dict[str, Actor]:
    """CERT-FR drafts; the German crisis authority and ENISA approve; CERT-EE is on no list."""
    world.community("csirts-network")  # the default escalation model's first stage
    world.org("CERT-FR", country="FR")
    world.org("BSI-CRISIS", type_="crisis-authority", country="DE")
    world.org("ENISA", type_="eu-body", country=None)
    world.org("CERT-EE", country="EE")
    return {
        "fr": world.user("CERT-FR"),
        "fr_viewer": world.user("CERT-FR", roles=("viewer",)),
        "fr_coord": world.user("CERT-FR", roles=("coordinator",)),
        "de": world.user("BSI-CRISIS", roles=("coordinator",)),
        "de_analyst": world.user("BSI-CRISIS"),
        "enisa": world.user("ENISA", roles=("coordinator",)),
        "ee": world.user("CERT-EE", roles=("coordinator",)),
    }


def post(client: TestClient, path: str, data: dict[str, Any]) -> Any:
    return client.post(path, data=data, headers=HTML, follow_redirects=False)


def text_of(page: str) -> str:
    """The visible words of a page, tags dropped and entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def crisis(client: TestClient, actor: Actor, **over: Any) -> str:
    body = {
        "title": "Grid ransomware wave",
        "justification": "Significant impact in two Member States",
        "tlp": "green",
        **over,
    }
    r = client.post("/api/v1/crises", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def draft(client: TestClient, people: dict[str, Actor], **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Ransomware at grid operators: what the public should know",
        "body": "Two grid operators were hit.\nPower supply is not affected.",
        "translations": {"fr": {"title": "Rançongiciel chez des opérateurs", "body": "Deux opérateurs touchés."}},
        "approvers": [people["de"].org_id, people["enisa"].org_id],
        "tlp": "amber",
        **over,
    }
    r = client.post("/api/v1/communications", json=body, headers=people["fr"].headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def page(client: TestClient, cid: str) -> str:
    r = client.get(f"/communications/{cid}", headers=HTML)
    assert r.status_code == 200, r.text
    return r.text


def fresh(db: Session, sid: str) -> Communication:
    """The communication as committed now (ends the session's snapshot first)."""
    db.rollback()
    c = db.get(Communication, sid)
    assert c is not None
    return c


def comms_audit(db: Session, tag: str = "comms:%") -> int:
    return count(db, AuditEvent, AuditEvent.tag.like(tag))


def new_form(client: TestClient, people: dict[str, Actor], **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "csrf_token": over.pop("csrf_token") if "csrf_token" in over else csrf_on(client, "/communications/new"),
        "crisis": "",
        "kind": "statement",
        "language": "en",
        "title": "Hospitals under attack: what we know",
        "body": "Several hospitals were hit by ransomware.",
        "tr_lang": ["de", ""],
        "tr_title": ["Angriffe auf Krankenhäuser", ""],
        "tr_body": ["Mehrere Krankenhäuser wurden getroffen.", ""],
        "approvers": [people["de"].org_id, people["enisa"].org_id],
        "embargo_until": "",
        "tlp": "amber",
        "action": "save",
    }
    data.update(over)
    return data


# --- list and page ----------------------------------------------------------------------------------------------


def test_list_and_page_show_a_statement_to_its_readers_and_nothing_to_others(
    client: TestClient, people: dict[str, Actor]
) -> None:
    cid_crisis = crisis(client, people["fr_coord"], share_with={"organisations": [people["de"].org_id]})
    embargo = (NOW + timedelta(days=1)).replace(hour=9, minute=0)
    s = draft(client, people, crisis=cid_crisis, embargo_until=embargo.isoformat())
    lines = draft(client, people, kind="lines-to-take", title="If asked about attribution", translations={})

    sign_in(client, people["de"].email)  # an approver: reads both, and the crisis
    listing = client.get("/communications", headers=HTML)
    assert listing.status_code == 200 and 'href="/communications"' in listing.text
    row = re.search(rf'<tr>\s*<th scope="row"><a href="/communications/{s["id"]}".*?</tr>', listing.text, re.S)
    assert row, listing.text
    words = text_of(row.group(0))
    for expected in (
        "Ransomware at grid operators",
        "Statement",
        "Draft",
        "Grid ransomware wave",
        f"{embargo:%Y-%m-%d %H:%M}",
        "waiting for 2 approvals",
        "BSI-CRISIS, ENISA",
        "TLP:AMBER",
    ):
        assert expected in words, (expected, words)
    assert f'href="/crises/{cid_crisis}"' in row.group(0)
    assert "If asked about attribution" in listing.text and "Lines to take" in listing.text
    assert 'href="/communications/new"' in listing.text and "Draft a statement" in listing.text
    # Filters: by state and by crisis.
    only_crisis = client.get(f"/communications?crisis={cid_crisis}", headers=HTML).text
    assert s["id"] in only_crisis and lines["id"] not in only_crisis
    assert s["id"] not in client.get("/communications?state=released", headers=HTML).text
    assert s["id"] in client.get("/communications?state=draft", headers=HTML).text
    bad = client.get("/communications?state=published", headers=HTML)
    assert bad.status_code == 422 and "is not a state" in bad.text

    p = page(client, s["id"])
    words = text_of(p)
    # The text and its translation side by side, one column per language.
    assert re.search(r'<article class="card lang-column" lang="en".*?Power supply is not affected', p, re.S)
    assert re.search(r'<article class="card lang-column" lang="fr".*?Deux opérateurs touchés', p, re.S)
    assert "English (main text)" in words and "French" in words
    assert f'<a href="/crises/{cid_crisis}">Grid ransomware wave</a>' in p
    assert "Waiting for 2 approvals: BSI-CRISIS, ENISA" in words
    assert f"Embargoed until {embargo:%Y-%m-%d %H:%M} UTC" in words
    assert "it will be released automatically at the embargo time" in words
    assert 'id="approve-form"' in p and 'id="changes-form"' in p  # a coordinator of an approver organisation
    assert 'id="edit-form"' in p and 'id="release-form"' not in p and 'id="withdraw-form"' not in p
    assert "Drafted" in words  # the timeline
    assert "Lines to take are internal guidance for spokespeople: they are never released" in text_of(
        page(client, lines["id"])
    )

    sign_in(client, people["de_analyst"].email)  # an approver organisation's analyst: edits, does not approve
    p = page(client, s["id"])
    assert 'id="approve-form"' not in p and 'id="changes-form"' not in p and 'id="edit-form"' in p
    assert "Draft a statement" in client.get("/communications", headers=HTML).text

    sign_in(client, people["fr_viewer"].email)  # the owner's viewer: reads, no forms, no button
    p = page(client, s["id"])
    for form_id in ("approve-form", "changes-form", "edit-form", "release-form", "withdraw-form"):
        assert f'id="{form_id}"' not in p, form_id
    assert "Draft a statement" not in client.get("/communications", headers=HTML).text
    assert client.get("/communications/new", headers=HTML).status_code == 403

    sign_in(client, people["ee"].email)  # on no list: sees nothing, not even that it exists
    listing = client.get("/communications", headers=HTML).text
    assert s["id"] not in listing and "Ransomware at grid" not in listing
    for path in (f"/communications/{s['id']}", f"/communications/{s['id']}/compare?from=1&to=1"):
        missing = client.get(path, headers=HTML)
        assert missing.status_code == 404 and "Ransomware at grid" not in missing.text, path
    assert client.get(f"/communications?crisis={cid_crisis}", headers=HTML).status_code == 422


# --- drafting ---------------------------------------------------------------------------------------------------


def test_a_statement_is_drafted_through_the_form(client: TestClient, people: dict[str, Actor], db: Session) -> None:
    cid_crisis = crisis(client, people["fr_coord"])
    sign_in(client, people["fr"].email)
    form = client.get(f"/communications/new?crisis={cid_crisis}", headers=HTML).text
    assert 'id="communication-form"' in form
    assert re.search(rf'<option value="{cid_crisis}" selected>Grid ransomware wave', form)
    # Approvers by group: crisis authorities, CSIRTs, EU bodies.
    groups = re.findall(r'<optgroup label="([^"]+)"', form)
    assert groups[:3] == [
        "National cyber crisis management authorities",
        "National CSIRTs",
        "EU institutions, bodies and agencies",
    ], groups
    assert re.search(
        r'<optgroup label="National cyber crisis management authorities">\s*<option value="' + people["de"].org_id, form
    )
    # A draft is never public, and TLP:RED could not reach the approvers: neither is offered.
    assert 'value="clear"' not in form and 'value="red"' not in form

    r = post(
        client, "/communications/new", new_form(client, people, crisis=cid_crisis, embargo_until="2031-05-04T09:30")
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"].endswith("?done=created")
    sid = r.headers["location"].split("?")[0].removeprefix("/communications/")
    c = fresh(db, sid)
    assert c.owner_org_id == people["fr"].org_id and c.crisis_id == cid_crisis
    assert c.approvers == [people["de"].org_id, people["enisa"].org_id] and c.tlp == "amber"
    assert c.embargo_until == datetime(2031, 5, 4, 9, 30, tzinfo=UTC)  # datetime-local read as UTC
    assert c.translations == {
        "de": {"title": "Angriffe auf Krankenhäuser", "body": "Mehrere Krankenhäuser wurden getroffen."}
    }  # the empty block ignored
    assert count(db, AuditEvent, AuditEvent.tag == "comms:communication:create", AuditEvent.object_id == sid) == 1
    words = text_of(client.get(r.headers["location"], headers=HTML).text)
    assert "The draft is saved as version 1." in words and "Embargoed until 2031-05-04 09:30 UTC" in words

    sign_in(client, people["enisa"].email)  # an approver reads it at once
    assert "Hospitals under attack" in page(client, sid)


def test_draft_form_errors_keep_the_input_and_write_nothing(
    client: TestClient, people: dict[str, Actor], db: Session
) -> None:
    sign_in(client, people["fr"].email)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"title": "  ", "body": ""}, "title"),
        ({"approvers": []}, "approvers"),
        ({"approvers": ["identity--00000000-0000-4000-8000-000000000000"]}, "approvers"),
        ({"crisis": "crisis--00000000-0000-4000-8000-000000000000"}, "crisis"),
        ({"kind": "press-release"}, "kind"),
        ({"language": "xx"}, "language"),
        ({"embargo_until": "tomorrow"}, "embargo_until"),
        ({"tlp": "red"}, "tlp"),
        ({"tr_lang": ["en", ""]}, "tr-0"),  # the main text's language
        ({"tr_lang": ["", ""]}, "tr-0"),  # a translation without its language
        ({"tr_lang": ["de", "de"], "tr_title": ["A", "B"], "tr_body": ["a", "b"]}, "tr-1"),  # twice
        ({"tr_lang": ["", "fr"], "tr_title": ["", "Titre"], "tr_body": ["", ""]}, "tr-1"),  # no text
    ]
    for over, field in cases:
        r = post(client, "/communications/new", new_form(client, people, **{"body": "Keep this text", **over}))
        assert r.status_code == 422, (over, r.text)
        assert 'class="error-summary"' in r.text, over
        # The message sits next to its field, and what was typed is still there.
        assert re.search(rf'id="f-{field}-error"', r.text), (over, field, r.text)
        assert "Keep this text" in r.text or "body" in over, over
        assert "Angriffe auf Krankenhäuser" in r.text or "tr_lang" in over, over
    untold = post(
        client, "/communications/new", new_form(client, people, tr_lang=["fr"], tr_title=["Titre"], tr_body=[""])
    )
    assert re.search(r'id="f-tr-0-error">Give the text in French.<', untold.text), untold.text
    both = post(client, "/communications/new", new_form(client, people, title="", body="", approvers=[]))
    for field in ("title", "body", "approvers"):
        assert f'id="f-{field}-error"' in both.text, field

    # "More languages" shows the form again with one more empty block, keeping everything; nothing is saved.
    more = post(client, "/communications/new", new_form(client, people, action="more-languages"))
    assert more.status_code == 200 and 'class="error-summary"' not in more.text
    assert len(re.findall(r'<fieldset class="translation-block', more.text)) == 3
    assert "Angriffe auf Krankenhäuser" in more.text and 'value="Hospitals under attack: what we know"' in more.text
    assert re.search(rf'<option value="{people["enisa"].org_id}" selected>', more.text)

    # Without the CSRF token, or without the right to draft: refused.
    assert post(client, "/communications/new", new_form(client, people, csrf_token="")).status_code == 403
    sign_in(client, people["fr_viewer"].email)
    data = new_form(client, people, csrf_token=csrf_on(client, "/communications"))
    assert post(client, "/communications/new", data).status_code == 403
    assert count(db, Communication) == 0 and comms_audit(db) == 0


# --- co-editing, versions and comparing -------------------------------------------------------------------------


def edit_form(client: TestClient, sid: str, **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "csrf_token": over.pop("csrf_token") if "csrf_token" in over else csrf_on(client, f"/communications/{sid}"),
        "version": 1,
        "title": "Ransomware at grid operators: what the public should know",
        "body": "Two grid operators were hit.\nPower supply is restored.",
        "tr_lang": ["fr", "de"],
        "tr_title": ["Rançongiciel chez des opérateurs", "Ransomware bei Netzbetreibern"],
        "tr_body": ["Deux opérateurs touchés.", "Zwei Netzbetreiber betroffen."],
        "embargo_until": "",
        "action": "save",
    }
    data.update(over)
    return data


def test_an_approver_edits_a_new_version_and_the_versions_compare(
    client: TestClient, people: dict[str, Actor], db: Session
) -> None:
    s = draft(client, people)
    sign_in(client, people["de"].email)  # an approver organisation co-edits
    form = page(client, s["id"])
    assert re.search(
        r'<form method="post" action="/communications/[^"]+/edit" id="edit-form">\s*'
        r'<input type="hidden" name="csrf_token" value="[^"]+">\s*'
        r'<input type="hidden" name="version" value="1">',
        form,
    )
    r = post(client, f"/communications/{s['id']}/edit", edit_form(client, s["id"]))
    assert r.status_code == 303, r.text
    c = fresh(db, s["id"])
    assert c.current_version == 2 and set(c.translations) == {"de", "fr"}
    assert count(db, CommunicationVersion, CommunicationVersion.communication_id == s["id"]) == 2
    assert comms_audit(db, "comms:communication:edit") == 1
    p = client.get(r.headers["location"], headers=HTML).text
    words = text_of(p)
    assert "Your change is saved as a new version." in words and "German" in words
    assert f'href="/communications/{s["id"]}/compare?from=1&amp;to=2"' in p

    # A stale version is refused with a message; what was typed stays; nothing is written.
    stale = post(client, f"/communications/{s['id']}/edit", edit_form(client, s["id"], body="Stale change"))
    assert stale.status_code == 409
    assert "The text changed since you read it" in text_of(stale.text) and "Stale change" in stale.text
    # "More languages" adds a block to the edit form and saves nothing.
    more = post(
        client, f"/communications/{s['id']}/edit", edit_form(client, s["id"], version=2, action="more-languages")
    )
    assert more.status_code == 200 and len(re.findall(r'<fieldset class="translation-block', more.text)) == 3
    assert '<details class="card form-card communication-form" id="edit" open>' in more.text
    assert 'class="error-summary"' not in more.text and "Rançongiciel chez des opérateurs" in more.text
    # Emptying a block removes that translation; a bad one is refused next to its block.
    bad = post(client, f"/communications/{s['id']}/edit", edit_form(client, s["id"], version=2, tr_lang=["fr", "zz"]))
    assert bad.status_code == 422 and 'id="e-tr-1-error"' in bad.text
    c = fresh(db, s["id"])
    assert c.current_version == 2 and comms_audit(db, "comms:communication:edit") == 1

    compare = client.get(f"/communications/{s['id']}/compare?from=1&to=2", headers=HTML)
    assert compare.status_code == 200
    words = text_of(compare.text)
    assert "Changes from version 1 to version 2" in words and "Text (English)" in words
    assert "Text (German)" in words and "Title (German)" in words and "Title (French)" not in words
    # Side by side, word by word: the words that went, struck out, and those that came, marked (issue 19).
    assert '<span class="visually-hidden">[removed: </span>not affected<span' in compare.text
    assert '<span class="visually-hidden">[added: </span>restored<span' in compare.text
    assert "Power supply is " in compare.text
    missing = client.get(f"/communications/{s['id']}/compare?from=1&to=9", headers=HTML)
    assert missing.status_code == 404 and "No version 9" in missing.text
    assert client.get(f"/communications/{s['id']}/compare?from=x", headers=HTML).status_code == 422

    sign_in(client, people["ee"].email)  # not on the list: 404, nothing written
    r = post(
        client,
        f"/communications/{s['id']}/edit",
        edit_form(client, s["id"], csrf_token=csrf_on(client, "/communications"), version=2),
    )
    assert r.status_code == 404 and comms_audit(db, "comms:communication:edit") == 1


# --- approvals, release and withdrawal --------------------------------------------------------------------------


def test_approvers_approve_or_ask_for_changes_through_the_forms(
    client: TestClient, people: dict[str, Actor], db: Session
) -> None:
    s = draft(client, people)
    sign_in(client, people["de"].email)
    token = csrf_on(client, f"/communications/{s['id']}")
    # Asking for changes needs a comment: refused, nothing written.
    r = post(client, f"/communications/{s['id']}/request-changes", {"csrf_token": token, "version": 1, "comment": "  "})
    assert r.status_code == 422 and 'id="ch-comment-error"' in r.text
    assert count(db, CommunicationApproval) == 0
    r = post(
        client,
        f"/communications/{s['id']}/request-changes",
        {"csrf_token": token, "version": 1, "comment": "Say that supply is restored"},
    )
    assert r.status_code == 303 and r.headers["location"].endswith("?done=changes#approvals")
    words = text_of(client.get(r.headers["location"], headers=HTML).text)
    assert "BSI-CRISIS Changes requested Say that supply is restored" in words
    assert "Your organisation asked for changes to this version" in words
    # An approval of a version that is not the current one is refused.
    r = post(client, f"/communications/{s['id']}/approve", {"csrf_token": token, "version": 7})
    assert r.status_code == 409 and "The text changed since you read it" in text_of(r.text)
    # Approving replaces the organisation's request for changes on this version.
    r = post(client, f"/communications/{s['id']}/approve", {"csrf_token": token, "version": 1, "comment": "OK"})
    assert r.status_code == 303
    db.rollback()
    row = db.scalars(select(CommunicationApproval)).one()
    assert row.org_id == people["de"].org_id and row.verdict == "approve" and row.comment == "OK"
    assert comms_audit(db, "comms:communication:approve") == 1
    assert comms_audit(db, "comms:communication:request-changes") == 1

    sign_in(client, people["de_analyst"].email)  # no right to approve: refused even when posted
    r = post(
        client,
        f"/communications/{s['id']}/approve",
        {"csrf_token": csrf_on(client, f"/communications/{s['id']}"), "version": 1},
    )
    assert r.status_code == 403 and comms_audit(db, "comms:communication:approve") == 1
    sign_in(client, people["fr"].email)  # the owner is not an approver here
    r = post(
        client,
        f"/communications/{s['id']}/approve",
        {"csrf_token": csrf_on(client, f"/communications/{s['id']}"), "version": 1},
    )
    assert r.status_code == 403 and count(db, CommunicationApproval) == 1


def test_a_statement_is_released_once_every_approval_is_in_and_links_its_public_page(
    client: TestClient, people: dict[str, Actor], db: Session
) -> None:
    s = draft(client, people, embargo_until=(NOW - timedelta(minutes=5)).isoformat())
    sign_in(client, people["fr"].email)
    p = page(client, s["id"])
    words = text_of(p)
    assert "Not releasable yet." in words and "Waiting for approval of version 1 from BSI-CRISIS, ENISA." in words
    assert 'id="release-form"' not in p and 'id="withdraw-form"' in p
    # Posting the release anyway: refused, with the reason, nothing written.
    r = post(client, f"/communications/{s['id']}/release", {"csrf_token": csrf_on(client, "/communications")})
    assert r.status_code == 409 and "Waiting for approval from: BSI-CRISIS, ENISA" in text_of(r.text)
    assert count(db, Publication) == 0

    for who in ("de", "enisa"):
        sign_in(client, people[who].email)
        token = csrf_on(client, f"/communications/{s['id']}")
        r = post(client, f"/communications/{s['id']}/approve", {"csrf_token": token, "version": 1})
        assert r.status_code == 303, r.text
    sign_in(client, people["fr"].email)
    p = page(client, s["id"])
    assert "Every approver organisation approved version 1." in text_of(p) and 'id="release-form"' in p
    assert post(client, f"/communications/{s['id']}/release", {}).status_code == 403  # no CSRF token
    assert count(db, Publication) == 0
    r = post(client, f"/communications/{s['id']}/release", {"csrf_token": csrf_on(client, "/communications")})
    assert r.status_code == 303, r.text
    db.rollback()
    pub = db.scalars(select(Publication)).one()
    assert pub.communication_id == s["id"] and pub.tlp == "clear"
    assert comms_audit(db, "comms:communication:release") == 1
    p = client.get(r.headers["location"], headers=HTML).text
    assert f'href="/public/{pub.id}"' in p and "The statement was released" in text_of(p)
    for form_id in ("release-form", "withdraw-form", "edit-form"):
        assert f'id="{form_id}"' not in p, form_id
    # Released once: a second release is refused.
    again = post(client, f"/communications/{s['id']}/release", {"csrf_token": csrf_on(client, "/communications")})
    assert again.status_code == 409 and count(db, Publication) == 1
    public = client.get(f"/public/{pub.id}", headers=HTML)
    assert public.status_code == 200 and "Deux opérateurs touchés" in public.text
    assert 'href="/public">Public statements</a>' in public.text  # the footer link, on every page


def test_the_owner_withdraws_a_draft_and_it_no_longer_changes(
    client: TestClient, people: dict[str, Actor], db: Session
) -> None:
    s = draft(client, people)
    sign_in(client, people["de"].email)  # not the owner: refused
    r = post(client, f"/communications/{s['id']}/withdraw", {"csrf_token": csrf_on(client, "/communications")})
    assert r.status_code == 403 and "Only the owner organisation withdraws" in text_of(r.text)
    sign_in(client, people["fr"].email)
    assert post(client, f"/communications/{s['id']}/withdraw", {}).status_code == 403  # no CSRF token
    assert comms_audit(db, "comms:communication:withdraw") == 0
    r = post(client, f"/communications/{s['id']}/withdraw", {"csrf_token": csrf_on(client, "/communications")})
    assert r.status_code == 303
    c = fresh(db, s["id"])
    assert c.state == "withdrawn" and comms_audit(db, "comms:communication:withdraw") == 1
    p = client.get(r.headers["location"], headers=HTML).text
    words = text_of(p)
    assert "Withdrawn by its owner: it will not be released." in words and "Withdrawn" in words
    assert "draft → withdrawn" in words  # the timeline
    for form_id in ("release-form", "withdraw-form", "edit-form", "approve-form"):
        assert f'id="{form_id}"' not in p, form_id
    sign_in(client, people["de"].email)
    r = post(
        client, f"/communications/{s['id']}/approve", {"csrf_token": csrf_on(client, "/communications"), "version": 1}
    )
    assert r.status_code == 409 and "was withdrawn" in text_of(r.text) and count(db, CommunicationApproval) == 0


def test_a_crisis_the_reader_may_not_see_is_never_named(client: TestClient, people: dict[str, Actor]) -> None:
    hidden = crisis(
        client, people["fr_coord"], title="French-only crisis", tlp="amber+strict", share_with={"organisations": []}
    )
    s = draft(client, people, crisis=hidden)
    sign_in(client, people["fr"].email)  # the owner reads the crisis: named and linked
    assert f'<a href="/crises/{hidden}">French-only crisis</a>' in page(client, s["id"])
    assert "selected>French-only crisis" in client.get(f"/communications/new?crisis={hidden}", headers=HTML).text

    sign_in(client, people["de"].email)  # an approver reads the statement, not the crisis
    for path in (f"/communications/{s['id']}", "/communications", f"/communications/{s['id']}/compare"):
        shown = client.get(path, headers=HTML)
        assert shown.status_code == 200, path
        assert hidden not in shown.text and "French-only crisis" not in shown.text, path  # timeline included
    assert client.get(f"/communications?crisis={hidden}", headers=HTML).status_code == 422
    form = client.get(f"/communications/new?crisis={hidden}", headers=HTML)
    assert form.status_code == 200 and hidden not in form.text  # an unreadable crisis is not chosen
