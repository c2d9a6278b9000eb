"""NIS2 Art. 23(6) informing other affected Member States and ENISA, and Art. 23(8) SPOC-to-SPOC forwarding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.access.models import Share
from cybercrisis.access.schemas import ShareWith
from cybercrisis.accounts.service import SYSTEM
from cybercrisis.audit.models import AuditEvent
from cybercrisis.db import unit_of_work
from cybercrisis.directory import service as directory
from cybercrisis.incidents.flow_models import Forwarding, MemberStateInformation
from cybercrisis.incidents.models import Incident
from cybercrisis.notify.models import OutboxMessage
from tests.conftest import Actor, World, count

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def cast(world: World) -> dict[str, Actor]:
    world.org("CERT-FR", country="FR")
    world.org("FR-SPOC", type_="spoc", country="FR")
    world.org("CERT-Bund", country="DE")
    world.org("DE-SPOC", type_="spoc", country="DE")
    world.org("CCB", country="BE")
    world.org("BE-SPOC", type_="spoc", country="BE")
    world.org("ENISA", type_="eu-body", country=None)
    world.org("FR-Entity", type_="entity", country="FR")
    return {
        "fr": world.user("CERT-FR"),
        "fr_spoc": world.user("FR-SPOC"),
        "de": world.user("CERT-Bund"),
        "de_spoc": world.user("DE-SPOC"),
        "be_spoc": world.user("BE-SPOC"),
        "enisa": world.user("ENISA"),
        "entity": world.user("FR-Entity"),
    }


def incident(client: TestClient, db: Session, actor: Actor, *, significance: str = "significant", **over: Any) -> str:
    body: dict[str, Any] = {
        "title": "Ransomware at a cross-border grid operator",
        "tlp": "amber",
        "aware_at": (NOW - timedelta(hours=3)).isoformat(),
        "countries": ["FR", "DE", "BE"],
        "sectors": ["energy"],
    }
    body.update(over)
    r = client.post("/api/v1/incidents", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    incident_id: str = r.json()["id"]
    if significance != "reported":
        decided = client.post(
            f"/api/v1/incidents/{incident_id}/significance",
            json={"value": significance, "reason": "assessed by the CSIRT"},
            headers=actor.headers,
        )
        assert decided.status_code == 200, decided.text
    return incident_id


def inform(client: TestClient, actor: Actor, incident_id: str, **over: Any) -> Any:
    body: dict[str, Any] = {
        "member_states": ["DE", "BE"],
        "enisa": True,
        "share_incident": True,
        "summary": "Ransomware; balancing services possibly affected.",
        "withheld_reason": "Entity name withheld: commercial interests (Art. 23(6)).",
    }
    body.update(over)
    return client.post(f"/api/v1/incidents/{incident_id}/inform-member-states", json=body, headers=actor.headers)


def to_inform(client: TestClient, actor: Actor) -> set[str]:
    r = client.get("/api/v1/incidents/to-inform", headers=actor.headers)
    assert r.status_code == 200, r.text
    return {i["incident"] for i in r.json()}


def readers(db: Session, object_id: str) -> set[str]:
    db.rollback()
    return set(db.scalars(select(Share.target).where(Share.object_id == object_id, Share.kind == "organisation")))


# --- Art. 23(6) ------------------------------------------------------------------------------------------------


def test_owner_csirt_informs_affected_member_states_and_enisa_and_they_read_the_incident(
    client: TestClient, db: Session, world: World, cast: dict[str, Actor]
) -> None:
    inc = incident(client, db, cast["fr"])
    assert inc in to_inform(client, cast["fr"])
    assert client.get(f"/api/v1/incidents/{inc}", headers=cast["de_spoc"].headers).status_code == 404

    r = inform(client, cast["fr"], inc)
    assert r.status_code == 201, r.text
    step = r.json()
    assert step["id"].startswith("x-nis2-member-state-information--")
    assert step["member_states"] == ["DE", "BE"] and step["enisa_informed"] and step["incident_shared"]
    assert step["owner"] == cast["fr"].org_id and step["created_by"] == cast["fr"].user_id
    assert step["tlp"] == "amber+strict" and step["exercise"] is False
    expected = {world.orgs[k] for k in ("CERT-Bund", "DE-SPOC", "CCB", "BE-SPOC", "ENISA")}
    assert set(step["recipients"]) == expected
    assert "commercial interests" in step["withheld_reason"]
    # The recipients read the incident and the step; the step is no longer "to inform".
    assert client.get(f"/api/v1/incidents/{inc}", headers=cast["de_spoc"].headers).status_code == 200
    flows = client.get(f"/api/v1/incidents/{inc}/nis2-flows", headers=cast["enisa"].headers).json()
    assert [s["id"] for s in flows["informations"]] == [step["id"]]
    assert inc not in to_inform(client, cast["fr"])
    timeline = client.get(f"/api/v1/incidents/{inc}/timeline", headers=cast["de_spoc"].headers).json()
    assert "incidents:incident:inform-member-states" in [e["tag"] for e in timeline]
    assert (
        count(db, AuditEvent, AuditEvent.tag == "incidents:nis2-information:create", AuditEvent.object_id == step["id"])
        == 1
    )
    assert (
        count(db, AuditEvent, AuditEvent.tag == "incidents:incident:inform-member-states", AuditEvent.object_id == inc)
        == 1
    )


def test_a_national_incident_or_an_exercise_is_not_listed_to_inform(
    client: TestClient, db: Session, cast: dict[str, Actor]
) -> None:
    national = incident(client, db, cast["fr"], countries=["FR"])
    drill = incident(client, db, cast["fr"])
    db.execute(update(Incident).where(Incident.id == drill).values(exercise=True))
    db.commit()
    cross = incident(client, db, cast["fr"])
    assert to_inform(client, cast["fr"]) == {cross} and national and drill


def test_another_organisation_may_not_inform_on_an_incident_it_did_not_record(
    client: TestClient, db: Session, cast: dict[str, Actor]
) -> None:
    inc = incident(client, db, cast["fr"], share_with={"organisations": [cast["de"].org_id]})
    r = inform(client, cast["de"], inc, member_states=["BE"])
    assert r.status_code == 403 and "Art. 23(6)" in r.json()["detail"]
    assert inform(client, cast["entity"], inc).status_code == 404  # it does not read it: not found
    assert count(db, MemberStateInformation) == 0
    assert readers(db, inc) == {cast["de"].org_id}


def test_inform_is_refused_for_an_incident_that_is_not_significant(
    client: TestClient, db: Session, cast: dict[str, Actor]
) -> None:
    inc = incident(client, db, cast["fr"], significance="near-miss")
    r = inform(client, cast["fr"], inc)
    assert r.status_code == 409 and "near-miss" in r.json()["detail"]
    assert count(db, MemberStateInformation) == 0 and readers(db, inc) == set()


def test_inform_names_the_field_of_a_member_state_that_is_not_one(
    client: TestClient, db: Session, cast: dict[str, Actor]
) -> None:
    inc = incident(client, db, cast["fr"])
    for states, field in ((["US"], "member_states[0]"), (["DE", "FR"], "member_states[1]")):
        r = inform(client, cast["fr"], inc, member_states=states)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text
    assert count(db, MemberStateInformation) == 0


def test_sharing_a_red_incident_with_other_member_states_is_refused(
    client: TestClient, db: Session, cast: dict[str, Actor]
) -> None:
    inc = incident(client, db, cast["fr"], tlp="red")
    r = inform(client, cast["fr"], inc)
    assert r.status_code == 403 and "TLP:RED" in r.json()["detail"]
    assert count(db, MemberStateInformation) == 0
    assert readers(db, inc) == set()


def test_the_spoc_that_only_received_an_amber_incident_informs_but_may_not_widen_it(
    client: TestClient, db: Session, cast: dict[str, Actor]
) -> None:
    inc = incident(client, db, cast["fr"], share_with={"organisations": [cast["fr_spoc"].org_id]})
    r = inform(client, cast["fr_spoc"], inc)
    assert r.status_code == 403 and "only the originator widens" in r.json()["detail"]
    assert readers(db, inc) == {cast["fr_spoc"].org_id} and count(db, MemberStateInformation) == 0
    # Subsidiarity: the SPOC informs with its own summary, without sharing the incident.
    ok = inform(client, cast["fr_spoc"], inc, share_incident=False)
    assert ok.status_code == 201, ok.text
    assert readers(db, inc) == {cast["fr_spoc"].org_id}
    assert client.get(f"/api/v1/incidents/{inc}", headers=cast["de_spoc"].headers).status_code == 404
    # The recording CSIRT reads the step made about its incident.
    flows = client.get(f"/api/v1/incidents/{inc}/nis2-flows", headers=cast["fr"].headers).json()
    assert [s["owner"] for s in flows["informations"]] == [cast["fr_spoc"].org_id]


# --- Art. 23(8) ------------------------------------------------------------------------------------------------


def test_own_spoc_forwards_on_request_and_other_spocs_and_the_csirt_may_not(
    client: TestClient, db: Session, cast: dict[str, Actor]
) -> None:
    inc = incident(client, db, cast["fr"])
    # The request is shared with Belgium's SPOC too, so that it reads it: reading does not make it the forwarder.
    r = client.post(
        f"/api/v1/incidents/{inc}/forwarding-requests",
        headers=cast["fr"].headers,
        json={
            "member_states": ["DE"],
            "note": "please forward",
            "share_with": {"organisations": [cast["be_spoc"].org_id]},
        },
    )
    assert r.status_code == 201, r.text
    req = r.json()
    assert req["status"] == "requested" and req["spoc"] == cast["fr_spoc"].org_id
    assert readers(db, inc) == {cast["fr_spoc"].org_id}  # its SPOC reads the notification (Art. 23(1))

    url = f"/api/v1/nis2/forwarding-requests/{req['id']}/forward"
    other = client.post(url, headers=cast["be_spoc"].headers)
    assert other.status_code == 403 and "Art. 23(8)" in other.json()["detail"]
    assert client.post(url, headers=cast["fr"].headers).status_code == 403
    assert client.post(url, headers=cast["de_spoc"].headers).status_code == 404  # it does not read the request
    assert client.get(f"/api/v1/stix-objects/{inc}", headers=cast["de_spoc"].headers).status_code == 404
    assert readers(db, inc) == {cast["fr_spoc"].org_id}

    done = client.post(url, headers=cast["fr_spoc"].headers)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "forwarded" and done.json()["targets"] == [cast["de_spoc"].org_id]
    assert done.json()["forwarded_by"] == cast["fr_spoc"].user_id
    assert client.get(f"/api/v1/incidents/{inc}", headers=cast["de_spoc"].headers).status_code == 200
    # Its STIX form in the store, which TAXII and federation serve, follows the new share list.
    assert client.get(f"/api/v1/stix-objects/{inc}", headers=cast["de_spoc"].headers).status_code == 200
    assert client.post(url, headers=cast["fr_spoc"].headers).status_code == 409
    assert count(db, AuditEvent, AuditEvent.tag == "incidents:nis2-forwarding:forward") == 1


def test_a_forwarding_request_comes_from_a_csirt_or_competent_authority_of_the_incidents_member_state(
    client: TestClient, db: Session, cast: dict[str, Actor]
) -> None:
    inc = incident(client, db, cast["fr"], share_with={"organisations": [cast["de"].org_id]})
    r = client.post(
        f"/api/v1/incidents/{inc}/forwarding-requests", headers=cast["de"].headers, json={"member_states": ["BE"]}
    )
    assert r.status_code == 403 and "Art. 23(8)" in r.json()["detail"]
    assert count(db, Forwarding) == 0


def test_forwarding_finds_nothing_once_the_incident_became_red(
    client: TestClient, db: Session, cast: dict[str, Actor]
) -> None:
    inc = incident(client, db, cast["fr"])
    r = client.post(
        f"/api/v1/incidents/{inc}/forwarding-requests", headers=cast["fr"].headers, json={"member_states": ["DE"]}
    )
    assert r.status_code == 201, r.text
    db.execute(update(Incident).where(Incident.id == inc).values(tlp="red"))
    db.commit()
    done = client.post(f"/api/v1/nis2/forwarding-requests/{r.json()['id']}/forward", headers=cast["fr_spoc"].headers)
    assert done.status_code == 404  # TLP:RED: read by named users only, the SPOC no longer reads it
    assert cast["de_spoc"].org_id not in readers(db, inc)


def test_informed_organisations_are_told_with_what_the_step_carries_and_no_more(
    client: TestClient, db: Session, world: World, cast: dict[str, Actor], session_factory: sessionmaker[Session]
) -> None:
    with unit_of_work(session_factory) as s:
        directory.create_contact(
            s,
            actor=SYSTEM,
            org_id=world.orgs["DE-SPOC"],
            kind="email",
            label="SPOC",
            value="spoc@de.example",
            pgp_fingerprint=None,
            tlp="green",
            share_with=ShareWith(),
        )
    inc = incident(client, db, cast["fr"], title="Ransomware at Grid Operator X")
    r = inform(
        client,
        cast["fr"],
        inc,
        member_states=["DE"],
        enisa=False,
        share_incident=False,
        summary="A ransomware incident at an electricity operator.",
    )
    assert r.status_code == 201, r.text
    db.rollback()
    [message] = db.scalars(select(OutboxMessage).where(OutboxMessage.event == "incidents:nis2-information:create"))
    assert message.target == "spoc@de.example" and "informs you of a significant incident" in message.subject
    assert "A ransomware incident at an electricity operator." in message.body
    # The incident was not shared: its title and id do not travel in the message.
    assert "Grid Operator X" not in message.subject + message.body and inc not in message.body
