"""Coordinated public communication through the API: drafts, co-editing, approvals, release, withdrawal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.access.models import Share
from cybercrisis.audit.models import AuditEvent
from cybercrisis.comms.models import (
    Communication,
    CommunicationApproval,
    CommunicationVersion,
    Publication,
)
from cybercrisis.comms.tasks import release_due
from cybercrisis.config import Settings
from cybercrisis.crises.models import Crisis
from cybercrisis.db import new_id, unit_of_work, utcnow
from cybercrisis.notify.models import OutboxMessage
from tests.comms.conftest import PUBLIC_BASE, Cast, approve_all, draft, rows, statement, verdict
from tests.conftest import count
from tests.notify.helpers import outbox

API = "/api/v1/communications"


def written(db: Session) -> tuple[int, ...]:
    return tuple(
        count(db, m)
        for m in (
            Communication,
            CommunicationVersion,
            CommunicationApproval,
            Publication,
            Share,
            AuditEvent,
            OutboxMessage,
        )
    )


def targets(db: Session, event: str) -> set[str]:
    return {m.target for m in outbox(db, OutboxMessage.event == event)}


def add_crisis(factory: sessionmaker[Session], owner_org_id: str, *, exercise: bool = False) -> str:
    """A crisis readable by its owner organisation only (TLP:AMBER, shared with nobody)."""
    crisis_id = new_id("crisis")
    with unit_of_work(factory) as s:
        s.add(
            Crisis(
                id=crisis_id,
                owner_org_id=owner_org_id,
                tlp="amber",
                title="Grid ransomware",
                justification="multi-member-state-impact",
                stage="technical",
                exercise=exercise,
            )
        )
    return crisis_id


# --- drafting ---------------------------------------------------------------------------------------------------


def test_draft_is_shared_with_its_approvers_versioned_audited_and_notified(
    client: TestClient, cast: Cast, db: Session
) -> None:
    c = draft(client, cast, share_with={"organisations": [cast["fr"].org_id]})
    de, enisa = cast["de_coord"].org_id, cast["enisa_coord"].org_id
    assert c["id"].startswith("communication--")
    assert (c["state"], c["version"], c["versions"], c["kind"], c["tlp"]) == ("draft", 1, 1, "statement", "amber")
    assert [a["id"] for a in c["approvers"]] == [de, enisa]
    assert [a["short_name"] for a in c["waiting_for"]] == ["CERT-Bund", "ENISA"]
    assert c["approvals"] == [] and c["publication"] is None and c["public_url"] is None
    assert c["translations"] == {
        "fr": {"title": "Rançongiciel chez des gestionnaires de réseau", "body": "Deux gestionnaires touchés."}
    }
    # The approvers were added to the share list (the owner's own organisation needs no share row).
    assert c["share_with"]["organisations"] == sorted([cast["fr"].org_id, de, enisa])
    for who in ("de", "de_coord", "enisa_coord", "fr_viewer"):
        assert client.get(f"{API}/{c['id']}", headers=cast[who].headers).json()["title"] == c["title"]
    listed = client.get(API, headers=cast["enisa_coord"].headers).json()
    assert [(i["id"], i["waiting_for"]) for i in listed["items"]] == [(c["id"], [de, enisa])]
    versions = client.get(f"{API}/{c['id']}/versions", headers=cast["de"].headers).json()
    assert [(v["version"], v["title"], v["languages"]) for v in versions] == [(1, c["title"], ["fr"])]
    # Every approver organisation is asked, nobody else; the audit records ids and states, not the text.
    assert targets(db, "comms:communication:approval-requested") == {"comms@cert-bund.example", "comms@enisa.example"}
    [event] = rows(db, AuditEvent, AuditEvent.object_id == c["id"])
    assert event.tag == "comms:communication:create" and "Ransomware" not in event.summary
    timeline = client.get(f"{API}/{c['id']}/timeline", headers=cast["fr"].headers).json()
    assert [e["tag"] for e in timeline] == ["comms:communication:create"]


def test_bad_drafts_are_refused_with_the_field_and_nothing_is_written(
    client: TestClient, cast: Cast, db: Session, session_factory: sessionmaker[Session]
) -> None:
    hidden_crisis = add_crisis(session_factory, cast["ee_coord"].org_id)
    fr = cast["fr"]
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"approvers": []}, 422, "approvers"),
        ({"approvers": ["organisation--00000000-0000-4000-8000-000000000000"]}, 422, "approvers"),
        ({"tlp": "red"}, 422, "tlp"),
        ({"tlp": "white"}, 422, "tlp"),
        ({"tlp": "clear"}, 422, "tlp"),
        ({"language": "english"}, 422, "language"),
        ({"language": "xx"}, 422, "language"),
        ({"translations": {"zz": {"title": "t", "body": "b"}}}, 422, "translations.zz"),
        ({"translations": {"en": {"title": "t", "body": "b"}}}, 422, "translations.en"),
        ({"translations": {"de": {"title": "t", "body": "  "}}}, 422, "translations.de.body"),
        ({"title": "   "}, 422, "title"),
        ({"body": ""}, 422, "body"),
        ({"kind": "press-release"}, 422, "kind"),
        ({"embargo_until": "2030-01-01T10:00:00"}, 422, "embargo_until"),
        ({"crisis": hidden_crisis}, 422, "crisis"),
        ({"share_with": {"organisations": ["organisation--nope"]}}, 422, "share_with.organisations"),
        ({"unexpected": 1}, 422, "unexpected"),
    ]
    before = written(db)
    for over, status, field in cases:
        r = client.post(API, json=statement(cast, **over), headers=fr.headers)
        assert r.status_code == status, (over, r.text)
        assert field in {e["field"] for e in r.json()["errors"]}, (over, r.json())
    missing = statement(cast)
    del missing["approvers"]
    assert client.post(API, json=missing, headers=fr.headers).status_code == 422
    red = client.post(API, json=statement(cast, tlp="red"), headers=fr.headers).json()
    assert red["detail"] == "a statement draft must reach its approvers: use AMBER+STRICT or wider"
    # Without the permission to write communications: 403.
    assert client.post(API, json=statement(cast), headers=cast["fr_viewer"].headers).status_code == 403
    assert written(db) == before


def test_draft_is_invisible_to_organisations_it_is_not_shared_with(
    client: TestClient, cast: Cast, db: Session, session_factory: sessionmaker[Session]
) -> None:
    crisis = add_crisis(session_factory, cast["fr"].org_id)
    c = draft(client, cast, crisis=crisis, tlp="amber+strict")
    other = draft(client, cast, title="Second statement")
    ee = cast["ee_coord"].headers
    before = written(db)
    cid = c["id"]
    for method, path, body in [
        ("GET", f"{API}/{cid}", None),
        ("GET", f"{API}/{cid}/versions", None),
        ("GET", f"{API}/{cid}/diff?from=1&to=1", None),
        ("GET", f"{API}/{cid}/timeline", None),
        ("PATCH", f"{API}/{cid}", {"version": 1, "title": "Hijacked"}),
        ("POST", f"{API}/{cid}/approve", {"version": 1}),
        ("POST", f"{API}/{cid}/request-changes", {"version": 1, "comment": "no"}),
        ("POST", f"{API}/{cid}/release", None),
        ("POST", f"{API}/{cid}/withdraw", None),
    ]:
        r = client.request(method, path, json=body, headers=ee)
        assert r.status_code == 404, (method, path, r.text)
    assert client.get(API, headers=ee).json()["items"] == []
    assert written(db) == before
    # The crisis is shown to those who may read it (its owner), not to the approvers who may not.
    assert client.get(f"{API}/{cid}", headers=cast["fr"].headers).json()["crisis"] == crisis
    assert client.get(f"{API}/{cid}", headers=cast["de"].headers).json()["crisis"] is None
    # Filters: by crisis and by state; an unknown state is refused.
    by_crisis = client.get(f"{API}?crisis={crisis}", headers=cast["fr"].headers).json()["items"]
    assert [i["id"] for i in by_crisis] == [cid]
    drafts = client.get(f"{API}?state=draft&limit=1", headers=cast["fr"].headers).json()
    assert [i["id"] for i in drafts["items"]] == [other["id"]] and drafts["next"]
    page2 = client.get(f"{API}?state=draft&limit=1&cursor={drafts['next']}", headers=cast["fr"].headers).json()
    assert [i["id"] for i in page2["items"]] == [cid] and page2["next"] is None
    assert client.get(f"{API}?state=approved", headers=cast["fr"].headers).json()["items"] == []
    assert client.get(f"{API}?state=published", headers=cast["fr"].headers).status_code == 422
    assert client.get(API).status_code == 401


# --- co-editing -------------------------------------------------------------------------------------------------


def test_co_editing_makes_versions_with_a_per_field_diff_and_refuses_stale_versions(
    client: TestClient, cast: Cast, db: Session
) -> None:
    c = draft(client, cast)
    url = f"{API}/{c['id']}"
    # An analyst of an approver organisation co-edits the text.
    r = client.patch(
        url,
        json={
            "version": 1,
            "body": c["body"] + "\nCall 112 in an emergency.",
            "translations": {
                "fr": {"title": "Rançongiciel", "body": "Deux touchés."},
                "de": {"title": "Ransomware", "body": "Zwei Betreiber."},
            },
        },
        headers=cast["de"].headers,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["version"], r.json()["versions"], sorted(r.json()["translations"])) == (2, 2, ["de", "fr"])
    # The same version again is stale: 409, nothing written.
    before = written(db)
    stale = client.patch(url, json={"version": 1, "title": "Other"}, headers=cast["fr"].headers)
    assert stale.status_code == 409 and "version 1, now 2" in stale.json()["detail"]
    # Nothing changed: no new version. Bad values: 422. Outsiders and viewers: 404 and 403.
    same = client.patch(url, json={"version": 2, "title": c["title"]}, headers=cast["fr"].headers)
    assert same.json()["version"] == 2
    assert client.patch(url, json={"version": 2, "title": ""}, headers=cast["fr"].headers).status_code == 422
    assert (
        client.patch(
            url, json={"version": 2, "embargo_until": "2030-01-01T00:00:00"}, headers=cast["fr"].headers
        ).status_code
        == 422
    )
    assert client.patch(url, json={"version": 2, "title": "x"}, headers=cast["fr_viewer"].headers).status_code == 403
    # Only the owner changes the approvers.
    r = client.patch(url, json={"version": 2, "approvers": [cast["de"].org_id]}, headers=cast["de"].headers)
    assert r.status_code == 403
    assert written(db) == before
    # The owner edits the title: version 3. The diff is per field, with a unified diff of each text.
    assert (
        client.patch(url, json={"version": 2, "title": "Grid ransomware: advice"}, headers=cast["fr"].headers).json()[
            "version"
        ]
        == 3
    )
    diff = client.get(f"{url}/diff?from=1&to=3", headers=cast["enisa_coord"].headers).json()
    fields = {ch["field"]: ch for ch in diff["changes"]}
    assert set(fields) == {
        "title",
        "body",
        "translations.de.title",
        "translations.de.body",
        "translations.fr.title",
        "translations.fr.body",
    }
    assert "+Call 112 in an emergency." in fields["body"]["diff"]
    assert (fields["translations.de.body"]["before"], fields["translations.de.body"]["after"]) == (
        None,
        "Zwei Betreiber.",
    )
    assert fields["title"]["after"] == "Grid ransomware: advice"
    assert client.get(f"{url}/diff?from=1&to=9", headers=cast["fr"].headers).status_code == 404
    versions = client.get(f"{url}/versions", headers=cast["fr"].headers).json()
    assert [(v["version"], v["created_by"]) for v in versions] == [
        (1, cast["fr"].user_id),
        (2, cast["de"].user_id),
        (3, cast["fr"].user_id),
    ]
    tags = [e["tag"] for e in client.get(f"{url}/timeline", headers=cast["fr"].headers).json()]
    assert tags == ["comms:communication:create", "comms:communication:edit", "comms:communication:edit"]


# --- approvals --------------------------------------------------------------------------------------------------


def test_verdicts_need_an_approver_organisation_the_right_and_the_current_version(
    client: TestClient, cast: Cast, db: Session
) -> None:
    c = draft(client, cast)
    before = written(db)
    assert verdict(client, cast["de"], c).status_code == 403  # an analyst: no approving right
    assert verdict(client, cast["ee_coord"], c).status_code == 404  # neither approver nor owner: cannot see it
    assert verdict(client, cast["de_coord"], c, version=2).status_code == 409
    r = client.post(
        f"{API}/{c['id']}/request-changes", json={"version": 1, "comment": "  "}, headers=cast["de_coord"].headers
    )
    assert r.status_code == 422
    assert written(db) == before
    # The owner's organisation is not on this approvers list; its verdict is its own consent to the version (the
    # job releases no version an approver edited without it), and the approvers are still waited for.
    r = verdict(client, cast["fr_coord"], c)
    assert r.status_code == 200 and r.json()["state"] == "draft"


def test_every_approver_approving_the_current_version_approves_it(client: TestClient, cast: Cast, db: Session) -> None:
    c = draft(client, cast, approvers=[cast["de_coord"].org_id, cast["enisa_coord"].org_id, cast["fr"].org_id])
    # An approver asks for changes; the owner is told, with the comment.
    r = verdict(client, cast["de_coord"], c, comment="Name the CSIRT hotline.")
    assert r.status_code == 200 and r.json()["state"] == "draft"
    [msg] = outbox(db, OutboxMessage.event == "comms:communication:changes-requested")
    assert msg.target == "comms@cert-fr.example" and "Name the CSIRT hotline." in msg.body
    # The same organisation approves the same version: its verdict is replaced, not added.
    assert verdict(client, cast["de_coord"], c).json()["state"] == "draft"
    assert verdict(client, cast["fr_coord"], c).json()["state"] == "draft"  # the owner's own organisation
    assert count(db, CommunicationApproval, CommunicationApproval.org_id == cast["de_coord"].org_id) == 1
    out = verdict(client, cast["enisa_coord"], c, comment=None).json()
    assert out["state"] == "approved" and out["waiting_for"] == []
    assert [(a["org_short_name"], a["verdict"], a["version"]) for a in out["approvals"]] == [
        ("CERT-Bund", "approve", 1),
        ("CERT-FR", "approve", 1),
        ("ENISA", "approve", 1),
    ]
    assert targets(db, "comms:communication:approved") == {"comms@cert-fr.example"}
    # Changing its mind on the current version makes it a draft again.
    back = verdict(client, cast["enisa_coord"], c, comment="Wait for the press office.").json()
    assert back["state"] == "draft" and [w["short_name"] for w in back["waiting_for"]] == ["ENISA"]
    tags = [e["tag"] for e in client.get(f"{API}/{c['id']}/timeline", headers=cast["fr"].headers).json()]
    assert tags.count("comms:communication:approve") == 3 and tags.count("comms:communication:request-changes") == 2


def test_an_edit_after_approval_starts_a_new_version_that_must_be_approved_again(
    client: TestClient, cast: Cast, db: Session
) -> None:
    c = approve_all(client, cast, draft(client, cast))
    r = client.patch(f"{API}/{c['id']}", json={"version": 1, "body": "Updated advice."}, headers=cast["de"].headers)
    assert r.status_code == 200, r.text
    edited = r.json()
    assert (edited["state"], edited["version"]) == ("draft", 2)
    assert [w["short_name"] for w in edited["waiting_for"]] == ["CERT-Bund", "ENISA"]
    assert {a["version"] for a in edited["approvals"]} == {1}  # the old approvals stay on record
    # An approval of the old version is refused; approvers are asked again for version 2.
    assert verdict(client, cast["de_coord"], c, version=1).status_code == 409
    asked = outbox(db, OutboxMessage.event == "comms:communication:approval-requested")
    assert sorted(m.payload["version"] for m in asked) == [1, 1, 2, 2]
    # Changing the embargo is an edit too: the approvers agreed to a release time.
    again = approve_all(client, cast, edited)
    later = (utcnow() + timedelta(days=1)).isoformat()
    r = client.patch(f"{API}/{c['id']}", json={"version": 2, "embargo_until": later}, headers=cast["fr"].headers)
    assert (r.json()["state"], r.json()["version"]) == ("draft", 3) and again["version"] == 2


def test_owner_changes_the_approvers_and_new_ones_get_the_draft(client: TestClient, cast: Cast, db: Session) -> None:
    c = draft(client, cast, approvers=[cast["de_coord"].org_id])
    assert verdict(client, cast["de_coord"], c).json()["state"] == "approved"
    ee = cast["ee_coord"]
    assert client.get(f"{API}/{c['id']}", headers=ee.headers).status_code == 404
    # Adding CERT-EE shares the draft with it and waits for its approval (no new text version).
    r = client.patch(
        f"{API}/{c['id']}",
        json={"version": 1, "approvers": [cast["de_coord"].org_id, ee.org_id]},
        headers=cast["fr"].headers,
    )
    assert (r.json()["state"], r.json()["version"], r.json()["waiting_for"][0]["id"]) == ("draft", 1, ee.org_id)
    assert client.get(f"{API}/{c['id']}", headers=ee.headers).status_code == 200
    assert "comms@cert-ee.example" in targets(db, "comms:communication:approval-requested")
    # Removing it again leaves CERT-Bund's approval of version 1: approved.
    r = client.patch(
        f"{API}/{c['id']}", json={"version": 1, "approvers": [cast["de_coord"].org_id]}, headers=cast["fr"].headers
    )
    assert r.json()["state"] == "approved"
    assert (
        client.patch(f"{API}/{c['id']}", json={"version": 1, "approvers": []}, headers=cast["fr"].headers).status_code
        == 422
    )


# --- release ----------------------------------------------------------------------------------------------------


def test_release_is_refused_before_approvals_and_embargo_then_publishes_the_approved_text(
    client: TestClient, cast: Cast, db: Session, session_factory: sessionmaker[Session]
) -> None:
    embargo = utcnow().replace(microsecond=0) + timedelta(hours=2)
    c = draft(client, cast, embargo_until=embargo.isoformat())
    release = f"{API}/{c['id']}/release"
    fr = cast["fr"].headers
    before = written(db)
    r = client.post(release, headers=fr)
    assert r.status_code == 409 and r.json()["detail"] == "waiting for approval from: CERT-Bund, ENISA (version 1)"
    assert verdict(client, cast["de_coord"], c).status_code == 200
    r = client.post(release, headers=fr)
    assert r.status_code == 409 and r.json()["detail"].startswith("waiting for approval from: ENISA")
    approve_all(client, cast, c)
    after_approvals = written(db)
    r = client.post(release, headers=fr)
    assert r.status_code == 409 and r.json()["detail"] == f"embargoed until {embargo.isoformat()}"
    assert client.post(release, headers=cast["de_coord"].headers).status_code == 403  # an approver, not the owner
    assert written(db) == after_approvals and after_approvals[3] == before[3] == 0
    # The embargo passes.
    with unit_of_work(session_factory) as s:
        s.execute(
            update(Communication)
            .where(Communication.id == c["id"])
            .values(embargo_until=utcnow() - timedelta(seconds=1))
        )
    r = client.post(release, headers=fr)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["state"] == "released" and out["released_at"] and out["publication"].startswith("publication--")
    assert out["public_url"] == f"{PUBLIC_BASE}public/{out['publication']}"
    [pub] = rows(db, Publication)
    assert (pub.tlp, pub.owner_org_id, pub.title, pub.body, pub.communication_version) == (
        "clear",
        cast["fr"].org_id,
        c["title"],
        c["body"],
        1,
    )
    assert pub.translations == c["translations"]
    assert targets(db, "comms:communication:released") == {
        "comms@cert-bund.example",
        "comms@enisa.example",
        "comms@cert-fr.example",
    }
    # Released once: again is 409, and the text no longer changes.
    after = written(db)
    assert client.post(release, headers=fr).json()["detail"].startswith("already released")
    assert client.patch(f"{API}/{c['id']}", json={"version": 1, "title": "x"}, headers=fr).status_code == 409
    assert verdict(client, cast["de_coord"], c).status_code == 409
    assert client.post(f"{API}/{c['id']}/withdraw", headers=fr).status_code == 409
    assert written(db) == after
    tags = [e["tag"] for e in client.get(f"{API}/{c['id']}/timeline", headers=fr).json()]
    assert tags[-2:] == ["comms:communication:release", "comms:publication:create"]


def test_lines_to_take_are_approved_but_never_released(
    client: TestClient, cast: Cast, db: Session, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    c = approve_all(client, cast, draft(client, cast, kind="lines-to-take"))
    before = written(db)
    r = client.post(f"{API}/{c['id']}/release", headers=cast["fr"].headers)
    assert r.status_code == 409 and "never released publicly" in r.json()["detail"]
    assert release_due(session_factory, settings, utcnow() + timedelta(days=30)) == 0
    assert written(db) == before
    assert client.get("/api/v1/public/publications").json()["items"] == []


def test_release_due_releases_approved_statements_at_their_embargo_time_once(
    client: TestClient, cast: Cast, db: Session, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    embargo = datetime(2031, 3, 4, 9, 30, tzinfo=UTC)
    c = draft(client, cast, embargo_until=embargo.isoformat())
    unapproved = draft(client, cast, title="Still in review", embargo_until=None)
    no_embargo = approve_all(client, cast, draft(client, cast, title="Immediate advice", embargo_until=None))
    approve_all(client, cast, c)
    assert verdict(client, cast["de_coord"], unapproved).status_code == 200  # ENISA has not approved
    # Before the embargo only the statement without one is due.
    assert release_due(session_factory, settings, embargo - timedelta(minutes=1)) == 1
    assert {p.communication_id for p in rows(db, Publication)} == {no_embargo["id"]}
    # At the embargo time it is released, by the system, with that time; then nothing is left to do.
    assert release_due(session_factory, settings, embargo) == 1
    assert release_due(session_factory, settings, embargo + timedelta(hours=1)) == 0
    [pub] = rows(db, Publication, Publication.communication_id == c["id"])
    assert pub.released_at == embargo and pub.created_by_id is None
    got = client.get(f"{API}/{c['id']}", headers=cast["enisa_coord"].headers).json()
    assert (got["state"], got["released_at"], got["publication"]) == ("released", "2031-03-04T09:30:00Z", pub.id)
    assert client.get(f"{API}/{unapproved['id']}", headers=cast["fr"].headers).json()["state"] == "draft"
    [release] = rows(db, AuditEvent, AuditEvent.object_id == c["id"], AuditEvent.tag == "comms:communication:release")
    assert release.actor_user_id is None and release.actor_org_id is None


def test_withdrawn_communication_is_neither_edited_approved_nor_released(
    client: TestClient, cast: Cast, db: Session, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    c = approve_all(client, cast, draft(client, cast))
    url = f"{API}/{c['id']}"
    assert client.post(f"{url}/withdraw", headers=cast["de"].headers).status_code == 403
    r = client.post(f"{url}/withdraw", headers=cast["fr"].headers)
    assert r.status_code == 200 and r.json()["state"] == "withdrawn"
    assert targets(db, "comms:communication:withdrawn") == {"comms@cert-bund.example", "comms@enisa.example"}
    before = written(db)
    assert client.post(f"{url}/withdraw", headers=cast["fr"].headers).status_code == 409
    assert client.patch(url, json={"version": 1, "title": "x"}, headers=cast["fr"].headers).status_code == 409
    assert verdict(client, cast["de_coord"], c).status_code == 409
    assert client.post(f"{url}/release", headers=cast["fr"].headers).status_code == 409
    assert release_due(session_factory, settings, utcnow()) == 0
    assert written(db) == before


def test_exercise_statement_is_released_but_never_public(
    client: TestClient, cast: Cast, db: Session, session_factory: sessionmaker[Session]
) -> None:
    crisis = add_crisis(session_factory, cast["fr"].org_id, exercise=True)
    c = approve_all(client, cast, draft(client, cast, crisis=crisis))
    assert c["exercise"] is True  # inherited from its crisis
    r = client.post(f"{API}/{c['id']}/release", headers=cast["fr"].headers)
    assert r.status_code == 200 and r.json()["state"] == "released" and r.json()["public_url"] is None
    [pub] = rows(db, Publication)
    assert pub.exercise is True
    assert client.get("/api/v1/public/publications").json()["items"] == []
    assert client.get(f"/public/{pub.id}").status_code == 404
    assert pub.id not in client.get("/public/feed.xml").text
    released = OutboxMessage.event == "comms:communication:released"
    [msg] = outbox(db, released, OutboxMessage.target == "comms@enisa.example")
    assert msg.subject.startswith("[EXERCISE]")
