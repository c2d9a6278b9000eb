"""TLP:RED reaches the named users only, at their own addresses; organisation channels never carry it (issue 12,
finding 6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.accounts.models import User
from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work
from cybercrisis.incidents.tasks import sweep_deadlines
from cybercrisis.notify.models import NotificationRoute, OutboxMessage
from cybercrisis.notify.service import notify_orgs
from tests.conftest import Actor, World
from tests.notify.helpers import add_contact, add_route, outbox

NOW = datetime.now(UTC).replace(microsecond=0)
ORG_ADDRESSES = {"cert@cert-fr.example", "desk@cert-fr.example", "routed@cert-fr.example"}
HOOK = "https://hooks.cert-fr.example/cybercrisis"


@pytest.fixture
def cast(world: World, session_factory: sessionmaker[Session]) -> dict[str, Actor]:
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    fr = world.orgs["CERT-FR"]
    add_contact(session_factory, fr, "email", "cert@cert-fr.example")
    add_contact(session_factory, fr, "24x7-desk", "desk@cert-fr.example")
    add_route(session_factory, fr, "email", "routed@cert-fr.example", ("*",))
    with unit_of_work(session_factory) as s:  # a webhook of the organisation, for every event
        s.add(NotificationRoute(org_id=fr, events=["*"], channel="webhook", target=HOOK, active=True))
    return {
        "lead": world.user("CERT-FR", roles=("coordinator",)),
        "named1": world.user("CERT-FR"),
        "named2": world.user("CERT-FR"),
        "colleague": world.user("CERT-FR"),
        "de": world.user("CERT-Bund", roles=("coordinator",)),
    }


def _targets(db: Session, event: str) -> set[str]:
    return {m.target for m in outbox(db, OutboxMessage.event == event)}


def test_decision_in_a_red_crisis_is_mailed_to_the_named_users_only(
    client: TestClient, db: Session, cast: dict[str, Actor]
) -> None:
    # CERT-FR's lead opens a RED crisis naming one colleague and a CERT-Bund coordinator (and, as author, itself).
    r = client.post(
        "/api/v1/crises",
        json={
            "title": "Minister's phone compromised",
            "justification": "national",
            "tlp": "red",
            "share_with": {"users": [cast["named1"].email, cast["de"].email]},
        },
        headers=cast["lead"].headers,
    )
    assert r.status_code == 201, r.text
    crisis = r.json()["id"]
    # CERT-Bund, taking part at the technical level, records a decision.
    r = client.post(
        f"/api/v1/crises/{crisis}/decisions",
        json={"level": "technical", "title": "Wipe the handsets"},
        headers=cast["de"].headers,
    )
    assert r.status_code == 201, r.text

    decided = outbox(db, OutboxMessage.event == "crises:decision:create")
    # The two named users of CERT-FR, at their own addresses: not the recorder, not the colleague who is not named.
    assert {m.target for m in decided} == {cast["lead"].email, cast["named1"].email}
    assert all(m.channel == "email" and m.route_id is None and "TLP:RED" in m.subject for m in decided)
    everything = {m.target for m in outbox(db)}
    assert not everything & (ORG_ADDRESSES | {HOOK, cast["colleague"].email})


def test_red_incident_deadlines_reach_its_active_named_users_and_no_organisation_channel(
    client: TestClient,
    db: Session,
    cast: dict[str, Actor],
    session_factory: sessionmaker[Session],
    settings: Settings,
) -> None:
    body = {
        "title": "Insider at the ministry",
        "tlp": "red",
        "aware_at": (NOW - timedelta(hours=20)).isoformat(),
        "countries": ["FR"],
        "share_with": {"users": [cast["named1"].email, cast["named2"].email]},
        "significance": "significant",
        "significance_reason": "the ministry's systems are compromised",
    }
    r = client.post("/api/v1/incidents", json=body, headers=cast["lead"].headers)
    assert r.status_code == 201, r.text
    with unit_of_work(session_factory) as s:  # a named user who has left: disabled, told nothing
        s.execute(update(User).where(User.id == cast["named2"].user_id).values(is_active=False))
    assert sweep_deadlines(session_factory, settings)["reminded"] == 1  # the early warning is due within 6 h
    reminded = _targets(db, "incidents:report:reminder")
    assert reminded == {cast["lead"].email, cast["named1"].email}
    assert not {m.target for m in outbox(db)} & (ORG_ADDRESSES | {HOOK, cast["colleague"].email})


def test_notify_orgs_refuses_a_red_marking(session_factory: sessionmaker[Session], cast: dict[str, Actor]) -> None:
    with unit_of_work(session_factory) as s, pytest.raises(ValueError, match="TLP:RED"):
        notify_orgs(
            s,
            event="test:thing:happen",
            org_ids=[cast["lead"].org_id],
            subject="s",
            body="b",
            object_id=None,
            payload={},
            dedupe="k",
            marking="red",
        )
