"""Early warnings through the API: recipients, visibility, acknowledgement, figures, refusals, notifications."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.access.models import Share
from cybercrisis.alerts.models import Alert, AlertRecipient
from cybercrisis.audit.models import AuditEvent
from cybercrisis.db import new_id, unit_of_work, utcnow
from cybercrisis.incidents.models import Incident
from cybercrisis.notify.models import OutboxMessage
from tests.conftest import Actor, World, count
from tests.notify.helpers import add_contact, add_route, outbox
from tests.test_query_counts import count_queries

Cast = dict[str, Actor]


@pytest.fixture
def cast(world: World) -> Cast:
    """Three CSIRTs in the CSIRTs Network, one CSIRT outside it, and an outsider."""
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    world.org("CERT-PL", country="PL", communities=("csirts-network",))
    world.org("NCSC-NL", country="NL")
    world.org("Outsider", type_="partner", country=None)
    return {
        "fr": world.user("CERT-FR"),
        "fr2": world.user("CERT-FR"),
        "de": world.user("CERT-Bund"),
        "de_viewer": world.user("CERT-Bund", roles=("viewer",)),
        "pl": world.user("CERT-PL"),
        "nl": world.user("NCSC-NL"),
        "out": world.user("Outsider", roles=("platform-admin",)),
    }


def _send(client: TestClient, actor: Actor, **body: object) -> dict[str, object]:
    payload = {"title": "Wiper hitting energy grid operators", "body": "IoCs attached.", "tlp": "amber", **body}
    r = client.post("/api/v1/alerts", json=payload, headers=actor.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _network_and(cast: Cast, *orgs: str) -> dict[str, list[str]]:
    return {"communities": ["csirts-network"], "organisations": [cast[o].org_id for o in orgs]}


def test_alert_reaches_community_members_and_named_orgs_but_not_the_sender_org(client: TestClient, cast: Cast) -> None:
    alert = _send(client, cast["fr"], recipients=_network_and(cast, "nl"))
    assert str(alert["id"]).startswith("alert--")
    assert alert["pending"] == sorted([cast["de"].org_id, cast["pl"].org_id, cast["nl"].org_id])
    assert alert["acknowledged"] == []
    assert alert["share_with"] == {
        "organisations": [cast["nl"].org_id],
        "communities": ["csirts-network"],
        "users": [],
    }
    assert alert["time_to_acknowledge"] == {
        "median_seconds": None,
        "max_seconds": None,
        "acknowledged": 0,
        "pending": 3,
    }


def test_outsider_neither_sees_nor_acknowledges_the_alert(client: TestClient, cast: Cast) -> None:
    alert = _send(client, cast["fr"], recipients=_network_and(cast, "nl"))
    out = cast["out"]
    assert client.get(f"/api/v1/alerts/{alert['id']}", headers=out.headers).status_code == 404
    assert client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=out.headers).status_code == 404
    listed = client.get("/api/v1/alerts", headers=out.headers).json()["items"]
    assert listed == []
    for name in ("fr2", "de", "pl", "nl"):
        assert client.get(f"/api/v1/alerts/{alert['id']}", headers=cast[name].headers).status_code == 200, name


def test_recipient_acknowledges_once_and_the_sender_sees_who_when_and_who_not(
    client: TestClient, cast: Cast, db: Session
) -> None:
    alert = _send(client, cast["fr"], recipients=_network_and(cast, "nl"))
    first = client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=cast["de"].headers)
    assert first.status_code == 200, first.text
    # A viewer does not act for the organisation; acknowledging again changes nothing: the first time and person stay.
    assert (
        client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=cast["de_viewer"].headers).status_code == 403
    )
    again = client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=cast["de"].headers)
    assert again.status_code == 200
    assert again.json()["acknowledged"] == first.json()["acknowledged"]

    seen = client.get(f"/api/v1/alerts/{alert['id']}", headers=cast["fr"].headers).json()
    [ack] = seen["acknowledged"]
    assert ack["organisation"] == cast["de"].org_id
    assert ack["by"] == cast["de"].user_id
    sent_at = datetime.fromisoformat(str(alert["created"]))
    assert datetime.fromisoformat(ack["at"]) >= sent_at
    assert seen["pending"] == sorted([cast["pl"].org_id, cast["nl"].org_id])
    figures = seen["time_to_acknowledge"]
    assert figures["acknowledged"] == 1
    assert figures["pending"] == 2
    assert figures["median_seconds"] == figures["max_seconds"]
    assert figures["max_seconds"] == (datetime.fromisoformat(ack["at"]) - sent_at).total_seconds()
    assert count(db, AuditEvent, AuditEvent.tag == "alerts:alert:acknowledge") == 1


def test_time_to_acknowledge_gives_median_and_slowest(
    client: TestClient, cast: Cast, session_factory: sessionmaker[Session]
) -> None:
    from datetime import timedelta

    alert = _send(client, cast["fr"], recipients=_network_and(cast, "nl"))
    sent = datetime.fromisoformat(str(alert["created"]))
    with unit_of_work(session_factory) as s:
        for org, minutes in ((cast["de"].org_id, 2), (cast["pl"].org_id, 10)):
            row = s.get(AlertRecipient, (alert["id"], org))
            assert row is not None
            row.acknowledged_at = sent + timedelta(minutes=minutes)
    figures = client.get(f"/api/v1/alerts/{alert['id']}", headers=cast["fr"].headers).json()["time_to_acknowledge"]
    assert figures == {"median_seconds": 360.0, "max_seconds": 600.0, "acknowledged": 2, "pending": 1}


@pytest.mark.parametrize("who", ["fr", "fr2"])
def test_reader_who_is_not_a_recipient_cannot_acknowledge(client: TestClient, cast: Cast, who: str) -> None:
    alert = _send(client, cast["fr"], recipients=_network_and(cast))
    r = client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=cast[who].headers)
    assert r.status_code == 403
    assert client.get(f"/api/v1/alerts/{alert['id']}", headers=cast[who].headers).json()["acknowledged"] == []


def test_pending_for_me_lists_only_alerts_my_org_has_not_acknowledged(client: TestClient, cast: Cast) -> None:
    a = _send(client, cast["fr"], title="first", recipients=_network_and(cast))
    b = _send(client, cast["fr"], title="second", recipients=_network_and(cast))
    client.post(f"/api/v1/alerts/{a['id']}/acknowledge", headers=cast["de"].headers)

    def listed(actor: Actor, query: str = "") -> list[str]:
        r = client.get(f"/api/v1/alerts{query}", headers=actor.headers)
        assert r.status_code == 200, r.text
        return [item["id"] for item in r.json()["items"]]

    assert listed(cast["de"]) == [b["id"], a["id"]]
    assert listed(cast["de"], "?pending_for_me=true") == [b["id"]]
    assert listed(cast["pl"], "?pending_for_me=true") == [b["id"], a["id"]]
    assert listed(cast["fr"], "?pending_for_me=true") == []  # the sender is no recipient
    summary = client.get("/api/v1/alerts", headers=cast["de"].headers).json()["items"][1]
    assert (summary["acknowledged"], summary["pending"], summary["acknowledged_by_me"]) == (1, 1, True)


def test_alert_list_pages_with_a_cursor_in_constant_queries(app: FastAPI, client: TestClient, cast: Cast) -> None:
    made = [str(_send(client, cast["fr"], title=f"alert {i}", recipients=_network_and(cast))["id"]) for i in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        page = client.get(
            "/api/v1/alerts?limit=2" + (f"&cursor={cursor}" if cursor else ""), headers=cast["de"].headers
        )
        seen += [a["id"] for a in page.json()["items"]]
        cursor = page.json()["next"]
        if not cursor:
            break
    assert seen == made[::-1]
    with count_queries(app) as few:
        client.get("/api/v1/alerts?limit=2", headers=cast["de"].headers)
    with count_queries(app) as many:
        client.get("/api/v1/alerts?limit=5", headers=cast["de"].headers)
    assert len(many) == len(few)


def _written(db: Session) -> tuple[int, ...]:
    return tuple(count(db, m) for m in (Alert, AlertRecipient, Share, OutboxMessage, AuditEvent))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"recipients": {"organisations": ["identity--00000000-0000-4000-8000-000000000000"]}},
            "recipients.organisations",
        ),
        ({"recipients": {"communities": ["no-such-community"]}}, "recipients.communities"),
        ({"tlp": "red", "recipients": {"organisations": ["@de"]}}, "tlp"),
        ({"tlp": "amber+strict", "recipients": {"communities": ["csirts-network"]}}, "recipients.communities"),
        ({"tlp": "white"}, "tlp"),
        ({"recipients": {}}, "recipients"),
        ({"recipients": {"organisations": ["@fr"]}}, "recipients"),
        ({"remind_after_minutes": 120, "escalate_after_minutes": 60}, "escalate_after_minutes"),
        ({"remind_after_minutes": 0}, "remind_after_minutes"),
        ({"incident": "incident--00000000-0000-4000-8000-000000000000"}, "incident"),
    ],
)
def test_invalid_alert_is_refused_and_nothing_is_written(
    client: TestClient, cast: Cast, db: Session, change: dict[str, object], field: str
) -> None:
    body: dict[str, object] = {"title": "t", "tlp": "amber", "recipients": {"organisations": ["@de"]}, **change}
    recipients = body["recipients"]
    assert isinstance(recipients, dict)
    body["recipients"] = {
        k: [cast[v[1:]].org_id if v.startswith("@") else v for v in vs] for k, vs in recipients.items()
    }
    before = _written(db)
    r = client.post("/api/v1/alerts", json=body, headers=cast["fr"].headers)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field
    assert _written(db) == before


def test_incident_the_sender_cannot_read_is_refused_like_a_missing_one(
    client: TestClient, cast: Cast, session_factory: sessionmaker[Session]
) -> None:
    incidents = {}
    for owner in ("fr", "de"):
        with unit_of_work(session_factory) as s:
            incident = Incident(
                id=new_id("incident"),
                owner_org_id=cast[owner].org_id,
                created_by_id=cast[owner].user_id,
                tlp="amber+strict",
                title="Grid outage",
                aware_at=utcnow(),
            )
            s.add(incident)
            incidents[owner] = incident.id
    linked = _send(client, cast["fr"], incident=incidents["fr"], recipients=_network_and(cast))
    assert linked["incident"] == incidents["fr"]
    r = client.post(
        "/api/v1/alerts",
        json={"title": "t", "tlp": "amber", "recipients": _network_and(cast), "incident": incidents["de"]},
        headers=cast["fr"].headers,
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "incident"


def test_viewer_cannot_send_an_alert(client: TestClient, cast: Cast, db: Session) -> None:
    r = client.post(
        "/api/v1/alerts",
        json={"title": "t", "tlp": "amber", "recipients": _network_and(cast)},
        headers=cast["de_viewer"].headers,
    )
    assert r.status_code == 403
    assert count(db, Alert) == 0


def test_sending_queues_a_notification_per_route_or_fallback_contact_of_each_recipient(
    client: TestClient, cast: Cast, db: Session, session_factory: sessionmaker[Session]
) -> None:
    de_route, _ = add_route(
        session_factory, cast["de"].org_id, "webhook", "https://soc.cert-bund.example/hook", ("alerts:*",)
    )
    add_contact(session_factory, cast["pl"].org_id, "email", "cert@cert.pl.example")
    add_contact(session_factory, cast["pl"].org_id, "24x7-desk", "desk@cert.pl.example")
    add_contact(session_factory, cast["pl"].org_id, "duty-officer", "duty@cert.pl.example")  # only for escalation
    add_contact(session_factory, cast["pl"].org_id, "phone", "+48 22 000 00 00")
    # NL routes incidents only: it chose not to get alert e-mail.
    add_route(session_factory, cast["nl"].org_id, "email", "soc@ncsc.nl.example", ("incidents:*",))
    alert = _send(client, cast["fr"], tlp="amber", recipients=_network_and(cast, "nl"), body="SECRET-IOC-LIST")

    queued = outbox(db, OutboxMessage.event == "alerts:alert:send")
    assert {(m.channel, m.target) for m in queued} == {
        ("webhook", "https://soc.cert-bund.example/hook"),
        ("email", "cert@cert.pl.example"),
        ("email", "desk@cert.pl.example"),
    }
    assert {m.object_id for m in queued} == {alert["id"]}
    webhook = next(m for m in queued if m.channel == "webhook")
    assert webhook.route_id == de_route
    assert webhook.dedupe_key == f"alerts:alert:send:{alert['id']}:{de_route}"
    assert webhook.payload["alert"] == alert["id"]
    # TLP:AMBER content stays on the platform: the notification says there is an alert, not what it says.
    assert all("SECRET-IOC-LIST" not in m.body and "[TLP:AMBER]" in m.subject for m in queued)


def test_green_alert_notification_carries_the_body_and_ack_notifies_the_sender(
    client: TestClient, cast: Cast, db: Session, session_factory: sessionmaker[Session]
) -> None:
    add_contact(session_factory, cast["de"].org_id, "email", "cert@bund.example")
    add_contact(session_factory, cast["fr"].org_id, "email", "cert@cert.fr.example")
    alert = _send(client, cast["fr"], tlp="green", recipients=_network_and(cast), body="Patch CVE-2024-0001 now.")
    [sent] = outbox(db, OutboxMessage.event == "alerts:alert:send")
    assert "Patch CVE-2024-0001 now." in sent.body
    client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=cast["de"].headers)
    client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=cast["de"].headers)
    [ack] = outbox(db, OutboxMessage.event == "alerts:alert:acknowledge")
    assert ack.target == "cert@cert.fr.example"
    assert ack.payload["organisation"] == cast["de"].org_id


def test_alert_timeline_records_sending_and_acknowledgements(client: TestClient, cast: Cast) -> None:
    alert = _send(client, cast["fr"], recipients=_network_and(cast))
    client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=cast["pl"].headers)
    r = client.get(f"/api/v1/alerts/{alert['id']}/timeline", headers=cast["de"].headers)
    assert r.status_code == 200
    assert [(e["tag"], e["actor_org_id"]) for e in r.json()] == [
        ("alerts:alert:send", cast["fr"].org_id),
        ("alerts:alert:acknowledge", cast["pl"].org_id),
    ]
