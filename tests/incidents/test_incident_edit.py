"""Editing an incident after it was recorded (issue 19): its details, its marking and recipients, its observables,
through the API and through its pages, by those the authority policy allows and by nobody else."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.audit.models import AuditEvent
from cybercrisis.incidents.models import Sighting
from tests.conftest import Actor, World, count
from tests.incidents.test_incidents_api import create
from tests.web.conftest import HTML, csrf_on, sign_in


@pytest.fixture
def cast(world: World) -> dict[str, Actor]:
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    world.org("CERT-EE", country="EE", communities=("csirts-network",))
    return {
        "fr": world.user("CERT-FR"),
        "de": world.user("CERT-Bund"),
        "ee": world.user("CERT-EE"),
        "viewer": world.user("CERT-FR", roles=("viewer",)),
    }


def events(db: Session, incident_id: str, tag: str) -> list[AuditEvent]:
    db.rollback()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.object_id == incident_id, AuditEvent.tag == tag)))


def sharing(tlp: str, **share_with: list[str]) -> dict[str, Any]:
    return {"tlp": tlp, "share_with": share_with}


# --- marking and recipients ----------------------------------------------------------------------------------


def test_the_originator_narrows_the_recipients_and_those_taken_off_lose_access(
    client: TestClient, cast: dict[str, Actor], world: World, db: Session
) -> None:
    inc = create(client, cast["fr"])
    url = f"/api/v1/incidents/{inc['id']}"
    assert client.get(url, headers=cast["ee"].headers).status_code == 200  # via the CSIRTs Network

    r = client.put(
        f"{url}/sharing", json=sharing("amber", organisations=[world.orgs["CERT-Bund"]]), headers=cast["fr"].headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["tlp"] == "amber"
    assert r.json()["share_with"]["organisations"] == [world.orgs["CERT-Bund"]]
    assert r.json()["share_with"]["communities"] == []
    assert client.get(url, headers=cast["de"].headers).status_code == 200
    assert client.get(url, headers=cast["ee"].headers).status_code == 404
    [event] = events(db, inc["id"], "incidents:incident:share")
    assert json.loads(event.summary)["tlp"] == ["amber", "amber"]
    timeline = client.get(f"{url}/timeline", headers=cast["fr"].headers).json()
    assert "incidents:incident:share" in [e["tag"] for e in timeline]


def test_only_the_originator_changes_the_marking_and_a_refusal_changes_nothing(
    client: TestClient, cast: dict[str, Actor], world: World, db: Session
) -> None:
    inc = create(client, cast["fr"])
    url = f"/api/v1/incidents/{inc['id']}/sharing"
    wider = sharing("green", communities=["csirts-network"])
    for who in ("de", "viewer"):  # a recipient with write rights; the originator's own viewer
        r = client.put(url, json=wider, headers=cast[who].headers)
        assert r.status_code == 403, (who, r.text)
    # What the TLP admits is checked, naming the field.
    r = client.put(url, json=sharing("amber+strict", communities=["csirts-network"]), headers=cast["fr"].headers)
    assert r.status_code == 422 and "share_with.communities" in r.text
    r = client.put(url, json=sharing("purple"), headers=cast["fr"].headers)
    assert r.status_code == 422 and "tlp" in r.text
    after = client.get(f"/api/v1/incidents/{inc['id']}", headers=cast["fr"].headers).json()
    assert (after["tlp"], after["share_with"], after["version"]) == (inc["tlp"], inc["share_with"], inc["version"])
    assert events(db, inc["id"], "incidents:incident:share") == []


def test_marking_red_names_the_one_who_did_it(client: TestClient, cast: dict[str, Actor]) -> None:
    inc = create(client, cast["fr"])
    r = client.put(f"/api/v1/incidents/{inc['id']}/sharing", json=sharing("red"), headers=cast["fr"].headers)
    assert r.status_code == 200, r.text
    assert r.json()["share_with"]["users"] == [cast["fr"].user_id]
    assert client.get(f"/api/v1/incidents/{inc['id']}", headers=cast["fr"].headers).status_code == 200
    assert client.get(f"/api/v1/incidents/{inc['id']}", headers=cast["de"].headers).status_code == 404


# --- observables ---------------------------------------------------------------------------------------------


def test_removing_an_observable_unlinks_it_here_only_and_ends_the_correlation(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    fr = create(client, cast["fr"])
    de = create(client, cast["de"], title="Same C2 seen in Germany", countries=["DE"])
    corr = client.get(f"/api/v1/incidents/{fr['id']}/correlations", headers=cast["fr"].headers).json()
    assert [c["incident"] for c in corr["items"]] == [de["id"]]

    url = f"/api/v1/incidents/{fr['id']}/observables/remove"
    both = {
        "observables": [
            {"type": "domain-name", "value": "c2[.]evil.example"},
            {"type": "ipv4-addr", "value": "198.51.100.7"},
        ]
    }
    r = client.post(url, json=both, headers=cast["fr"].headers)
    assert r.json() == {"removed": 2}, r.text
    assert client.get(f"/api/v1/incidents/{fr['id']}", headers=cast["fr"].headers).json()["observables"] == []
    assert len(client.get(f"/api/v1/incidents/{de['id']}", headers=cast["de"].headers).json()["observables"]) == 2
    corr = client.get(f"/api/v1/incidents/{fr['id']}/correlations", headers=cast["fr"].headers).json()
    assert corr["items"] == []
    [event] = events(db, fr["id"], "incidents:observable:remove")
    assert json.loads(event.summary) == {"removed": 2}
    # Again: nothing to remove, nothing recorded.
    assert client.post(url, json=both, headers=cast["fr"].headers).json() == {"removed": 0}
    assert len(events(db, fr["id"], "incidents:observable:remove")) == 1


def test_a_reader_cannot_remove_observables_and_a_bad_value_names_its_line(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    inc = create(client, cast["fr"])
    url = f"/api/v1/incidents/{inc['id']}/observables/remove"
    one = {"observables": [{"type": "ipv4-addr", "value": "198.51.100.7"}]}
    assert client.post(url, json=one, headers=cast["de"].headers).status_code == 403
    assert client.post(url, json=one, headers=cast["viewer"].headers).status_code == 403
    bad = {"observables": [{"type": "ipv4-addr", "value": "198.51.100.7"}, {"type": "ipv4-addr", "value": "nope"}]}
    r = client.post(url, json=bad, headers=cast["fr"].headers)
    assert r.status_code == 422 and "observables[1]" in r.text
    db.rollback()
    assert count(db, Sighting, Sighting.incident_id == inc["id"]) == 2


# --- the pages -----------------------------------------------------------------------------------------------


@pytest.fixture
def fr_page(client: TestClient, cast: dict[str, Actor]) -> TestClient:
    assert sign_in(client, cast["fr"].email).status_code == 303
    return client


def edit_data(inc: dict[str, Any], **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": inc["version"],
        "title": inc["title"],
        "description": inc["description"],
        "pap": "amber",
        "countries": ["FR"],
        "sectors": ["energy"],
        "rsit": "malicious-code/infected-system",
        "impact_severity": "red",
    }
    data.update(over)
    return data


def test_the_edit_page_saves_the_details_and_the_incident_page_confirms_it(
    fr_page: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    client = fr_page
    inc = create(client, cast["fr"])
    edit = f"/incidents/{inc['id']}/edit"
    form = client.get(edit, headers=HTML)
    assert form.status_code == 200
    assert 'value="Ransomware at a regional grid operator"' in form.text  # filled with the incident as it is
    token = csrf_on(client, edit)
    data = edit_data(inc, title="Ransomware at two grid operators", impact_severity="yellow", users_affected="12000")
    r = client.post(edit, data={"csrf_token": token, **data}, headers=HTML, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/incidents/{inc['id']}?saved=details"
    shown = client.get(r.headers["location"], headers=HTML)
    assert "Your changes are saved." in shown.text and "Ransomware at two grid operators" in shown.text
    after = client.get(f"/api/v1/incidents/{inc['id']}", headers=cast["fr"].headers).json()
    assert (after["title"], after["impact_severity"], after["facts"]["users_affected"]) == (
        "Ransomware at two grid operators",
        "yellow",
        12000,
    )
    assert after["version"] == inc["version"] + 1
    assert "title" in json.loads(events(db, inc["id"], "incidents:incident:update")[0].summary)["fields"]


def test_the_edit_page_shows_every_error_at_once_and_a_stale_version_keeps_what_was_typed(
    fr_page: TestClient, cast: dict[str, Actor]
) -> None:
    client = fr_page
    inc = create(client, cast["fr"])
    edit = f"/incidents/{inc['id']}/edit"
    token = csrf_on(client, edit)
    bad = edit_data(inc, title="x", financial_loss_eur="a lot", users_affected="many")
    r = client.post(edit, data={"csrf_token": token, **bad}, headers=HTML)
    assert r.status_code == 422
    for field in ("f-title-error", "f-financial_loss_eur-error", "f-users_affected-error"):
        assert f'id="{field}"' in r.text, field
    # Someone else saved in between: the form comes back with the typed title and says what to do.
    assert (
        client.patch(
            f"/api/v1/incidents/{inc['id']}",
            json={"version": inc["version"], "outlook": "improving"},
            headers=cast["fr"].headers,
        ).status_code
        == 200
    )
    r = client.post(edit, data={"csrf_token": token, **edit_data(inc, title="My late edit")}, headers=HTML)
    assert r.status_code == 409
    assert "changed this incident since you opened this form" in r.text and 'value="My late edit"' in r.text
    assert client.get(f"/api/v1/incidents/{inc['id']}", headers=cast["fr"].headers).json()["title"] == inc["title"]


def test_another_organisation_gets_no_edit_form_and_its_posts_change_nothing(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    inc = create(client, cast["fr"])
    assert sign_in(client, cast["de"].email).status_code == 303
    page = client.get(f"/incidents/{inc['id']}", headers=HTML)
    assert page.status_code == 200
    assert f"/incidents/{inc['id']}/edit" not in page.text and "observables/remove" not in page.text
    assert client.get(f"/incidents/{inc['id']}/edit", headers=HTML).status_code == 403
    token = csrf_on(client, f"/incidents/{inc['id']}")
    r = client.post(
        f"/incidents/{inc['id']}/edit", data={"csrf_token": token, **edit_data(inc, title="Hijacked")}, headers=HTML
    )
    assert r.status_code == 403
    r = client.post(
        f"/incidents/{inc['id']}/sharing",
        data={"csrf_token": token, "tlp": "clear"},
        headers=HTML,
    )
    assert r.status_code == 403
    r = client.post(
        f"/incidents/{inc['id']}/observables/remove",
        data={"csrf_token": token, "observable_type": "ipv4-addr", "value": "198.51.100.7"},
        headers=HTML,
    )
    assert r.status_code == 403
    after = client.get(f"/api/v1/incidents/{inc['id']}", headers=cast["fr"].headers).json()
    assert (after["title"], after["tlp"], len(after["observables"])) == (inc["title"], "amber", 2)


def test_observables_are_added_defanged_and_removed_from_the_incident_page(
    fr_page: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    client = fr_page
    inc = create(client, cast["fr"])
    path = f"/incidents/{inc['id']}"
    token = csrf_on(client, path)
    r = client.post(
        f"{path}/observables",
        data={"csrf_token": token, "observables": "hxxp://payload[.]evil[.]example/x.exe\n198.51.100.7\n"},
        headers=HTML,
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"{path}?added=1#observables"
    shown = client.get(r.headers["location"], headers=HTML).text
    assert "1 observable added." in shown and "http://payload.evil.example/x.exe" in shown
    r = client.post(
        f"{path}/observables", data={"csrf_token": token, "observables": "ipv4-addr 999.1.1.1"}, headers=HTML
    )
    assert r.status_code == 422 and 'id="f-add-observables-error"' in r.text and "999.1.1.1" in r.text
    r = client.post(
        f"{path}/observables/remove",
        data={"csrf_token": token, "observable_type": "url", "value": "http://payload.evil.example/x.exe"},
        headers=HTML,
        follow_redirects=False,
    )
    assert r.status_code == 303
    values = [o["value"] for o in client.get(f"/api/v1{path}", headers=cast["fr"].headers).json()["observables"]]
    assert sorted(values) == ["198.51.100.7", "c2.evil.example"]
    assert [e.tag for e in events(db, inc["id"], "incidents:observable:remove")] == ["incidents:observable:remove"]


def test_the_sharing_form_shows_the_tlp_rule_next_to_the_field(fr_page: TestClient, cast: dict[str, Actor]) -> None:
    client = fr_page
    inc = create(client, cast["fr"])
    edit = f"/incidents/{inc['id']}/edit"
    token = csrf_on(client, edit)
    r = client.post(
        f"/incidents/{inc['id']}/sharing",
        data={"csrf_token": token, "tlp": "amber+strict", "communities": ["csirts-network"]},
        headers=HTML,
    )
    assert r.status_code == 422 and 'id="s-communities-error"' in r.text
    r = client.post(
        f"/incidents/{inc['id']}/sharing",
        data={"csrf_token": token, "tlp": "amber+strict", "organisations": []},
        headers=HTML,
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith("?saved=sharing")
    assert client.get(r.headers["location"], headers=HTML).text.count("The marking and recipients are saved.") == 1
    db_inc = client.get(f"/api/v1/incidents/{inc['id']}", headers=cast["fr"].headers).json()
    assert db_inc["tlp"] == "amber+strict" and db_inc["share_with"]["communities"] == []


def test_export_links_on_the_incident_page_serve_stix_and_misp_to_the_signed_in_reader(
    fr_page: TestClient, cast: dict[str, Actor]
) -> None:
    client = fr_page
    inc = create(client, cast["fr"])
    page = client.get(f"/incidents/{inc['id']}", headers=HTML).text
    for link in (f"/api/v1/incidents/{inc['id']}/stix", f"/api/v1/incidents/{inc['id']}/misp"):
        assert f'href="{link}"' in page
        r = client.get(link)  # the page's session cookie, as the browser sends it
        assert r.status_code == 200, link
    assert client.get(f"/api/v1/incidents/{inc['id']}/stix").json()["type"] == "bundle"
