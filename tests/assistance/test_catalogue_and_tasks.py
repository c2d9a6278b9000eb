"""The capability catalogue, matching requests against it, and the summary-report reminder."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.access.models import Share
from cybercrisis.assistance.models import AssistanceRequest, Capability
from cybercrisis.assistance.tasks import remind_summaries
from cybercrisis.audit.models import AuditEvent
from cybercrisis.db import unit_of_work, utcnow
from cybercrisis.notify.models import OutboxMessage
from tests.assistance.conftest import Cast, ask, offer, post
from tests.conftest import count
from tests.notify.helpers import outbox

CAPS = "/api/v1/capabilities"


def publish(client: TestClient, actor: Any, **body: Any) -> dict[str, Any]:
    r = client.post(CAPS, json={"kind": "forensics", "title": "Forensics team", **body}, headers=actor.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_catalogue_entries_are_shared_like_any_object_and_bad_ones_are_refused(
    client: TestClient, cast: Cast, db: Session
) -> None:
    green = publish(client, cast["de"], notice_hours=12, people=4, description="OT forensics")
    assert green["id"].startswith("capability--") and green["owner_name"] == "CERT-DE" and green["active"] is True
    # GREEN defaults to the owner's communities, written into the share list.
    assert green["share_with"] == {"organisations": [], "communities": ["csirts-network"], "users": []}
    strict = publish(
        client,
        cast["de"],
        kind="malware-analysis",
        tlp="amber+strict",
        share_with={"organisations": [cast["fr"].org_id]},
    )
    assert [c["id"] for c in client.get(CAPS, headers=cast["ee"].headers).json()["items"]] == [green["id"]]
    assert client.get(f"{CAPS}/{strict['id']}", headers=cast["ee"].headers).status_code == 404
    assert client.get(f"{CAPS}/{strict['id']}", headers=cast["fr"].headers).status_code == 200
    assert client.get(CAPS, headers=cast["it"].headers).json()["items"] == []
    mine = client.get(CAPS, params={"kind": "malware-analysis"}, headers=cast["de"].headers).json()["items"]
    assert [c["id"] for c in mine] == [strict["id"]]
    before = tuple(count(db, m) for m in (Capability, Share, AuditEvent))
    for change, status, field in (
        ({"kind": "hack-back"}, 422, "kind"),
        ({"notice_hours": 721}, 422, "notice_hours"),
        ({"notice_hours": -1}, 422, "notice_hours"),
        ({"people": 0}, 422, "people"),
        ({"title": "  "}, 422, "title"),
        ({"tlp": "amber+strict", "share_with": {"communities": ["csirts-network"]}}, 422, "share_with.communities"),
        ({"tlp": "purple"}, 422, "tlp"),
    ):
        r = client.post(CAPS, json={"kind": "forensics", "title": "T", **change}, headers=cast["de"].headers)
        assert r.status_code == status and r.json()["errors"][0]["field"] == field, (change, r.text)
    assert (
        client.post(CAPS, json={"kind": "forensics", "title": "T"}, headers=cast["fr_viewer"].headers).status_code
        == 403
    )
    r = client.get(CAPS, params={"kind": "hack-back"}, headers=cast["de"].headers)
    assert r.status_code == 422 and "valid: incident-response" in r.text
    assert tuple(count(db, m) for m in (Capability, Share, AuditEvent)) == before
    assert count(db, AuditEvent, AuditEvent.tag == "assistance:capability:create") == 2


def test_only_the_owner_changes_an_entry_with_the_version_it_read_and_deletes_it_for_real(
    client: TestClient, cast: Cast, db: Session
) -> None:
    cap = publish(client, cast["de"])
    url = f"{CAPS}/{cap['id']}"
    r = client.patch(url, json={"version": 1, "active": False}, headers=cast["ee"].headers)
    assert r.status_code == 403 and "only the organisation that published" in r.json()["detail"]
    assert client.patch(url, json={"version": 1, "active": False}, headers=cast["it"].headers).status_code == 404
    r = client.patch(url, json={"version": 1, "title": None}, headers=cast["de"].headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "title"
    r = client.patch(url, json={"version": 1, "active": False, "notice_hours": 48}, headers=cast["de"].headers)
    assert r.status_code == 200, r.text
    assert (r.json()["active"], r.json()["notice_hours"], r.json()["version"]) == (False, 48, 2)
    r = client.patch(url, json={"version": 1, "active": True}, headers=cast["de"].headers)
    assert r.status_code == 409 and "version 1, now 2" in r.json()["detail"]
    unchanged = client.patch(url, json={"version": 2, "active": False}, headers=cast["de"].headers).json()
    assert unchanged["version"] == 2  # nothing changed: no new version, no audit entry
    assert [
        c["id"] for c in client.get(CAPS, params={"active": "false"}, headers=cast["ee"].headers).json()["items"]
    ] == [cap["id"]]
    assert client.delete(url, headers=cast["ee"].headers).status_code == 403
    assert client.delete(url, headers=cast["it"].headers).status_code == 404
    assert client.delete(url, headers=cast["de"].headers).status_code == 204
    assert client.get(url, headers=cast["de"].headers).status_code == 404
    assert count(db, Capability) == 0 and count(db, Share, Share.object_id == cap["id"]) == 0
    tags = [
        t
        for (t,) in db.execute(
            AuditEvent.__table__.select()
            .with_only_columns(AuditEvent.tag)
            .where(AuditEvent.object_id == cap["id"])
            .order_by(AuditEvent.seq)
        )
    ]
    assert tags == ["assistance:capability:create", "assistance:capability:update", "assistance:capability:delete"]


def test_a_request_lists_matching_active_entries_the_reader_may_see_by_notice_then_people(
    client: TestClient, cast: Cast
) -> None:
    slow = publish(client, cast["de"], notice_hours=24, people=10)
    fast_small = publish(client, cast["de"], notice_hours=4, people=2)
    fast_big = publish(client, cast["ee"], notice_hours=4, people=6)
    ir = publish(client, cast["ee"], kind="incident-response", notice_hours=8)
    publish(client, cast["ee"], kind="ddos-mitigation", notice_hours=0)  # not needed
    off = publish(client, cast["de"], notice_hours=1)
    client.patch(f"{CAPS}/{off['id']}", json={"version": 1, "active": False}, headers=cast["de"].headers)
    publish(client, cast["it"], notice_hours=0, tlp="amber+strict")  # CERT-IT's, shared with nobody
    req = ask(client, cast["fr"], cast, needs=["forensics", "incident-response"])
    view = client.get(f"/api/v1/assistance-requests/{req['id']}", headers=cast["fr"].headers).json()
    assert [m["id"] for m in view["matches"]] == [fast_big["id"], fast_small["id"], ir["id"], slow["id"]]
    assert view["matches"][0]["owner_name"] == "CERT-EE" and view["matches"][0]["share_with"]["communities"] == [
        "csirts-network"
    ]
    # Matches are what this reader may see: CERT-IT sees its own entry on a request addressed to it.
    to_it = ask(client, cast["fr"], cast, recipients={"organisations": [cast["it"].org_id]}, needs=["forensics"])
    it_view = client.get(f"/api/v1/assistance-requests/{to_it['id']}", headers=cast["it"].headers).json()
    assert [m["owner_name"] for m in it_view["matches"]] == ["CERT-IT"]
    # Lists carry no matches (they are for one request's page).
    listed = client.get("/api/v1/assistance-requests", headers=cast["fr"].headers).json()["items"]
    assert all(i["matches"] is None for i in listed)


def _ended(client: TestClient, cast: Cast) -> str:
    req = ask(client, cast["fr"], cast)
    o = offer(client, cast["de"], req["id"])
    post(client, cast["fr"], f"{req['id']}/offers/{o['id']}/accept")
    assert post(client, cast["fr"], f"{req['id']}/support-ended").status_code == 200
    return str(req["id"])


def test_the_summary_reminder_goes_once_when_due_within_a_week_or_overdue(
    client: TestClient, app: Any, cast: Cast, db: Session, session_factory: sessionmaker[Session]
) -> None:
    # A deployment that sets a one-month summary period (the days below count from it).
    app.state.settings = app.state.settings.model_copy(update={"reserve_summary_months": 1})
    first = _ended(client, cast)
    in_support = ask(client, cast["fr"], cast)
    o = offer(client, cast["de"], in_support["id"])
    post(client, cast["fr"], f"{in_support['id']}/offers/{o['id']}/accept")
    now = utcnow()

    def sweep(days: int) -> int:
        with unit_of_work(session_factory) as s:
            return remind_summaries(s, now=now + timedelta(days=days))

    assert sweep(20) == 0  # due in about ten days: not yet
    assert sweep(25) == 1  # due within a week
    assert sweep(25) == 0 and sweep(60) == 0  # once only
    second = _ended(client, cast)
    assert sweep(60) == 1  # overdue
    closed = _ended(client, cast)
    post(client, cast["fr"], f"{closed}/summary", {"report": "Done."})
    assert sweep(90) == 0  # the in-support and the closed request are never reminded
    msgs = outbox(db, OutboxMessage.event == "assistance:summary:due")
    assert [(m.object_id, m.target) for m in msgs] == [
        (first, "desk@cert-fr.example"),
        (second, "desk@cert-fr.example"),
    ]
    assert "due on" in msgs[0].subject and "overdue since" in msgs[1].subject
    assert msgs[1].payload["overdue"] is True and msgs[0].payload["overdue"] is False
    db.rollback()
    rows = {r.id: r for r in db.query(AssistanceRequest).all()}
    assert rows[first].summary_reminded_at is not None and rows[closed].summary_reminded_at is None
    assert rows[first].version == 3  # created, in support, support ended: the reminder is not an edit
    assert count(db, AuditEvent, AuditEvent.tag == "assistance:summary:due") == 2
