"""Requests for assistance through the API: who may ask, whom it reaches, what others see, and bad input."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.access.models import Share
from cybercrisis.assistance.models import AssistanceRequest
from cybercrisis.audit.models import AuditEvent
from cybercrisis.crises.models import Crisis
from cybercrisis.db import new_id, unit_of_work
from cybercrisis.directory.exchange import org_id_for_key
from cybercrisis.notify.models import OutboxMessage
from tests.assistance.conftest import NOW, Cast, ask, request_body
from tests.conftest import World, count
from tests.notify.helpers import outbox
from tests.test_query_counts import count_queries

BASE = "/api/v1/assistance-requests"
ENISA, DG_CONNECT = org_id_for_key("enisa"), org_id_for_key("ec-dg-connect")


def incident(client: TestClient, actor: Any, **over: Any) -> str:
    b: dict[str, Any] = {
        "title": "Wiper at hospitals",
        "tlp": "amber",
        "aware_at": (NOW - timedelta(hours=3)).isoformat(),
        "countries": ["FR"],
        "sectors": ["health"],
        "rsit_class": "malicious-code",
        "rsit_type": "infected-system",
        "impact_severity": "red",
        "share_with": {"organisations": []},
    }
    b.update(over)
    r = client.post("/api/v1/incidents", json=b, headers=actor.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def crisis(factory: sessionmaker[Session], owner: str, *, shared_with: list[str]) -> str:
    """A crisis row with its share list (the crises module owns creating them through the API)."""
    cid = new_id("crisis")
    with unit_of_work(factory) as s:
        s.add(
            Crisis(
                id=cid,
                owner_org_id=owner,
                tlp="amber",
                title="Hospital wiper",
                justification="multi-member-state-impact",
                stage="csirts-network",
            )
        )
        s.flush()
        s.add_all(Share(object_id=cid, kind="organisation", target=o) for o in shared_with)
    return cid


def written(db: Session) -> tuple[int, ...]:
    return tuple(count(db, m) for m in (AssistanceRequest, Share, AuditEvent, OutboxMessage))


def test_request_reaches_its_recipients_is_audited_and_notifies_them_without_its_details(
    client: TestClient, cast: Cast, db: Session, session_factory: sessionmaker[Session]
) -> None:
    inc = incident(client, cast["fr"])
    cid = crisis(session_factory, cast["fr"].org_id, shared_with=[])
    to = {"organisations": [cast["de"].org_id, cast["fr"].org_id], "communities": ["csirts-network"]}
    r = ask(client, cast["fr"], cast, incidents=[inc], crisis=cid, recipients=to)
    assert r["id"].startswith("assistance-request--")
    assert (r["state"], r["country"], r["owner"], r["owner_name"]) == ("open", "FR", cast["fr"].org_id, "CERT-FR")
    assert (r["needs"], r["urgency"], r["tlp"], r["version"]) == (
        ["forensics", "incident-response"],
        "immediate",
        "amber",
        1,
    )
    assert (r["crisis"], r["incidents"], r["offers"], r["exercise"]) == (cid, [inc], [], False)
    # The requester's own organisation is not a recipient: it reads its request anyway.
    assert r["recipients"] == {
        "organisations": [cast["de"].org_id],
        "communities": ["csirts-network"],
        "reserve": False,
    }
    assert r["share_with"] == {"organisations": [cast["de"].org_id], "communities": ["csirts-network"], "users": []}
    # Recipients read it: the named organisation and members of the community.
    for who in ("de", "ee", "enisa"):
        got = client.get(f"{BASE}/{r['id']}", headers=cast[who].headers)
        assert got.status_code == 200 and got.json()["description"] == r["description"]
    [event] = client.get(f"{BASE}/{r['id']}/timeline", headers=cast["ee"].headers).json()
    assert event["tag"] == "assistance:request:create" and event["actor_org_id"] == cast["fr"].org_id
    assert event["summary"]["needs"] == ["forensics", "incident-response"] and event["summary"]["reserve"] is False
    assert "CONFIDENTIAL-DETAIL" not in str(event["summary"])
    queued = outbox(db, OutboxMessage.event == "assistance:request:create")
    assert {m.target for m in queued} == {"desk@cert-de.example", "desk@cert-ee.example", "desk@enisa.example"}
    assert all(m.object_id == r["id"] and m.payload["needs"] == ["forensics", "incident-response"] for m in queued)
    assert all("[TLP:AMBER]" in m.subject and "forensics" in m.subject and "immediate" in m.body for m in queued)
    # Title-level information only: the description and the affected entity stay on the platform.
    assert not any("CONFIDENTIAL-DETAIL" in m.body + m.subject or "Exemple" in m.body for m in queued)


def test_every_bad_request_value_is_a_422_naming_the_field_and_nothing_is_written(
    client: TestClient, cast: Cast, db: Session, session_factory: sessionmaker[Session]
) -> None:
    hidden_incident = incident(client, cast["de"])  # DE's own incident, shared with nobody
    hidden_crisis = crisis(session_factory, cast["de"].org_id, shared_with=[])
    nobody = "identity--00000000-0000-4000-8000-000000000000"
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"needs": []}, "needs", "incident-response, forensics, malware-analysis"),
        ({"needs": ["forensics", "hacking-back"]}, "needs", "not a need: hacking-back"),
        ({"urgency": "yesterday"}, "urgency", "immediate, urgent, routine"),
        ({"entity_type": "vital"}, "entity_type", "essential, important"),
        ({"impact": "orange"}, "impact", "red, yellow, green, white"),
        ({"severity": "critical"}, "severity", "high, medium, low"),
        ({"spillover": "maybe"}, "spillover", "high, medium, low, none"),
        ({"tlp": "red"}, "tlp", "use AMBER+STRICT to name them"),
        ({"tlp": "white"}, "tlp", "TLP 2.0 calls it CLEAR"),
        ({"recipients": {}}, "recipients", "at least one other organisation"),
        ({"recipients": {"organisations": [cast["fr"].org_id]}}, "recipients", "at least one other organisation"),
        ({"recipients": {"organisations": [nobody]}}, "recipients.organisations", f"unknown organisation(s): {nobody}"),
        ({"recipients": {"communities": ["eu-cyclone"]}}, "recipients.communities", "unknown community"),
        ({"tlp": "amber+strict"}, "recipients.communities", "named organisations only"),
        ({"crisis": hidden_crisis}, "crisis", f"no crisis you may see with id {hidden_crisis}"),
        ({"incidents": [hidden_incident]}, "incidents", f"no incident you may see with id {hidden_incident}"),
        ({"recipients": {"organisations": [], "bcc": ["x"]}}, "recipients.bcc", "Extra inputs are not permitted"),
        ({"people": 3}, "people", "Extra inputs are not permitted"),
    ]
    before = written(db)
    for change, field, message in cases:
        r = client.post(BASE, json=request_body(cast, **change), headers=cast["fr"].headers)
        assert r.status_code == 422, (change, r.text)
        errors = r.json()["errors"]
        assert errors[0]["field"] == field, (change, errors)
        assert message in errors[0]["message"], (change, errors)
    assert written(db) == before


def test_only_a_member_states_national_organisation_asks_and_its_csirt_asks_the_reserve_through_its_spoc(
    client: TestClient, cast: Cast, db: Session
) -> None:
    before = written(db)
    for who in ("hospital", "enisa"):
        r = client.post(BASE, json=request_body(cast), headers=cast[who].headers)
        assert r.status_code == 403 and "national CSIRT, SPOC" in r.json()["detail"], r.text
    r = client.post(BASE, json=request_body(cast), headers=cast["fr_viewer"].headers)
    assert r.status_code == 403 and "assistance:request:write" in r.json()["detail"]
    reserve = {"organisations": [], "communities": [], "reserve": True}
    # The SPOC does not ask the Reserve in its own name (Reg. (EU) 2025/38 Art. 14(3)): it transmits.
    r = client.post(BASE, json=request_body(cast, recipients=reserve), headers=cast["spoc"].headers)
    assert r.status_code == 403, r.text
    assert "Art. 14(3)" in r.json()["detail"] and "transmits their requests" in r.json()["detail"]
    assert written(db) == before

    req = ask(client, cast["fr"], cast, recipients=reserve, tlp="amber+strict")
    assert req["country"] == "FR" and req["recipients"]["reserve"] is True and req["owner_name"] == "CERT-FR"
    # Until its SPOC transmits it (Art. 15(3)(a)), the request reaches the SPOC only.
    assert req["share_with"]["organisations"] == [cast["spoc"].org_id]
    assert client.get(f"{BASE}/{req['id']}", headers=cast["dgc"].headers).status_code == 404
    queued = outbox(db, OutboxMessage.event == "assistance:request:create")
    assert {m.target for m in queued} == {"desk@fr-spoc.example"}
    r = client.post(f"{BASE}/{req['id']}/transmit", json={}, headers=cast["spoc"].headers)
    assert r.status_code == 200, r.text
    # Then the Reserve is reached through the organisations that administer it: the Commission and ENISA.
    assert r.json()["share_with"]["organisations"] == sorted([ENISA, DG_CONNECT, cast["spoc"].org_id])
    assert client.get(f"{BASE}/{req['id']}", headers=cast["dgc"].headers).status_code == 200
    assert client.get(f"{BASE}/{req['id']}", headers=cast["de"].headers).status_code == 404
    queued = outbox(db, OutboxMessage.event == "assistance:request:transmit")
    assert {m.target for m in queued} == {"desk@enisa.example", "desk@dg-connect.example"}
    assert all("EU Cybersecurity Reserve" in m.body and "FR-SPOC" in m.body for m in queued)


def test_reserve_request_on_a_node_without_the_reserves_administrators_is_refused(
    client: TestClient, world: World, db: Session
) -> None:
    world.org("PL-SPOC", type_="spoc", country="PL")
    world.org("CERT-PL", country="PL")
    csirt = world.user("CERT-PL")
    body = request_body({"de": csirt}, recipients={"reserve": True})
    r = client.post(BASE, json=body, headers=csirt.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "recipients.reserve", r.text
    assert "ec-dg-connect, enisa" in r.json()["detail"]
    assert count(db, AssistanceRequest) == 0


def test_a_request_is_invisible_to_organisations_outside_its_recipients(client: TestClient, cast: Cast) -> None:
    req = ask(
        client, cast["fr"], cast, tlp="amber+strict", recipients={"organisations": [cast["de"].org_id], "reserve": True}
    )
    assert client.post(f"{BASE}/{req['id']}/transmit", json={}, headers=cast["spoc"].headers).status_code == 200
    # Not named: EE is in the CSIRTs Network, DE-SPOC is another Member State's SPOC, IT is outside.
    for who in ("it", "ee", "de_spoc"):
        h = cast[who].headers
        assert client.get(f"{BASE}/{req['id']}", headers=h).status_code == 404
        assert client.get(f"{BASE}/{req['id']}/timeline", headers=h).status_code == 404
        r = client.post(
            f"{BASE}/{req['id']}/offers",
            json={"capability": "forensics", "people": 1, "available_from": NOW.isoformat()},
            headers=h,
        )
        assert r.status_code == 404
        assert client.post(f"{BASE}/{req['id']}/transmit", json={}, headers=h).status_code == 404
        assert client.get(BASE, headers=h).json()["items"] == []
        assert client.get(f"{BASE}/reserve-ranking", headers=h).json()["items"] == []
    assert [i["id"] for i in client.get(BASE, headers=cast["de"].headers).json()["items"]] == [req["id"]]
    assert client.get(f"{BASE}/{req['id']}", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_list_filters_by_state_and_crisis_pages_without_repeats_and_reads_a_fixed_number_of_queries(
    app: FastAPI, client: TestClient, cast: Cast, session_factory: sessionmaker[Session]
) -> None:
    cid = crisis(session_factory, cast["fr"].org_id, shared_with=[cast["de"].org_id])
    made = [ask(client, cast["fr"], cast, crisis=cid if n % 2 else None)["id"] for n in range(5)]
    client.post(f"{BASE}/{made[0]}/withdraw", headers=cast["fr"].headers)
    client.post(
        f"{BASE}/{made[1]}/offers",
        json={"capability": "forensics", "people": 2, "available_from": NOW.isoformat()},
        headers=cast["de"].headers,
    )
    seen: list[str] = []
    cursor = None
    while True:
        page = client.get(
            BASE, params={"limit": 2, **({"cursor": cursor} if cursor else {})}, headers=cast["de"].headers
        ).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next"]
        if not cursor:
            break
    assert seen == made[::-1]
    items = client.get(BASE, params={"state": "open"}, headers=cast["de"].headers).json()["items"]
    assert [i["id"] for i in items] == made[:0:-1]
    items = client.get(BASE, params={"crisis": cid}, headers=cast["de"].headers).json()["items"]
    assert [i["id"] for i in items] == [made[3], made[1]]
    # DE sees its own offer in the list; EE, a fellow recipient, sees none.
    de_view = {i["id"]: i["offers"] for i in client.get(BASE, headers=cast["de"].headers).json()["items"]}
    ee_view = {i["id"]: i["offers"] for i in client.get(BASE, headers=cast["ee"].headers).json()["items"]}
    assert [o["offerer_name"] for o in de_view[made[1]]] == ["CERT-DE"] and ee_view[made[1]] == []
    r = client.get(BASE, params={"state": "done"}, headers=cast["de"].headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "state" and "in-support" in r.text
    assert client.get(BASE, params={"cursor": "forged"}, headers=cast["de"].headers).status_code == 422
    with count_queries(app) as few:
        client.get(BASE, params={"limit": 1}, headers=cast["fr"].headers)
    with count_queries(app) as many:
        client.get(BASE, params={"limit": 5}, headers=cast["fr"].headers)
    assert len(many) == len(few)


def test_reserve_ranking_ranks_the_visible_transmitted_reserve_requests_and_explains_why(
    client: TestClient, cast: Cast, world: World, session_factory: sessionmaker[Session]
) -> None:
    reserve = {"reserve": True}

    def transmitted(asker: str, spoc: str, **over: Any) -> dict[str, Any]:
        req = ask(client, cast[asker], cast, recipients=reserve, **over)
        r = client.post(f"{BASE}/{req['id']}/transmit", json={}, headers=cast[spoc].headers)
        assert r.status_code == 200, r.text
        return req

    fr_worse = transmitted("fr", "spoc", impact="red", entity_type="important")
    de_better = transmitted("de", "de_spoc", impact="red", entity_type="essential")
    fr_low = transmitted("fr", "spoc", impact="yellow")
    withdrawn = transmitted("fr", "spoc", impact="red")
    client.post(f"{BASE}/{withdrawn['id']}/withdraw", headers=cast["fr"].headers)
    untransmitted = ask(client, cast["fr"], cast, recipients=reserve, impact="red")  # its SPOC has not sent it
    not_reserve = ask(client, cast["fr"], cast, recipients={"organisations": [cast["enisa"].org_id]})
    ranking = client.get(f"{BASE}/reserve-ranking", headers=cast["enisa"].headers).json()
    assert ranking["criteria"] == ["severity", "entity_type", "potential_impact", "spillover"]
    assert [(i["rank"], i["request"]["id"]) for i in ranking["items"]] == [
        (1, de_better["id"]),
        (2, fr_worse["id"]),
        (3, fr_low["id"]),
    ]
    first = ranking["items"][0]
    assert first["reason"] == (
        f"above {fr_worse['id']}: essential entity ranks before important entity (deployment's order)"
    )
    assert ranking["items"][1]["reason"] == (
        f"above {fr_low['id']}: incident impact severity red ranks before "
        "incident impact severity yellow (deployment's order)"
    )
    assert ranking["items"][2]["reason"] == "last of the 3 requests ranked"
    assert [c["criterion"] for c in first["explanation"]] == [*ranking["criteria"], "measures_taken"]
    assert first["request"]["owner_name"] == "CERT-DE" and first["request"]["country"] == "DE"
    assert first["request"]["transmitted_by_name"] == "DE-SPOC"
    assert not_reserve["id"] not in str(ranking) and untransmitted["id"] not in str(ranking)
    # A Member State's SPOC and CSIRT see only that Member State's requests: the ranking is of what they may read.
    for who in ("spoc", "fr"):
        own = client.get(f"{BASE}/reserve-ranking", headers=cast[who].headers).json()["items"]
        assert [i["request"]["id"] for i in own] == [fr_worse["id"], fr_low["id"]]
