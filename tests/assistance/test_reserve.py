"""Requests to the EU Cybersecurity Reserve as Reg. (EU) 2025/38 has them: who asks (Art. 14(3)), the SPOC's
transmission (Art. 15(3)), the measures precondition (Art. 15(2)), the ranking criteria (Art. 16) in the
deployment's order, and the time limits as settings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cybercrisis.assistance.models import AssistanceRequest
from cybercrisis.assistance.ranking import parse_priority
from cybercrisis.assistance.service import months_after
from cybercrisis.audit.models import AuditEvent
from cybercrisis.config import Settings
from tests.assistance.conftest import Cast, ask, offer, post, request_body
from tests.conftest import count

BASE = "/api/v1/assistance-requests"
RESERVE: dict[str, Any] = {"organisations": [], "communities": [], "reserve": True}


def reserve_request(client: TestClient, cast: Cast, **over: Any) -> dict[str, Any]:
    return ask(client, cast["fr"], cast, **{"recipients": RESERVE, **over})


def test_a_reserve_request_without_measures_taken_is_refused_naming_the_field(
    client: TestClient, cast: Cast, db: Session
) -> None:
    r = client.post(BASE, json=request_body(cast, recipients=RESERVE, measures_taken="  "), headers=cast["fr"].headers)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "measures_taken" and "Art. 15(2)" in r.json()["errors"][0]["message"]
    assert count(db, AssistanceRequest) == 0


def test_the_spoc_is_refused_as_requester_of_the_reserve(client: TestClient, cast: Cast, db: Session) -> None:
    r = client.post(BASE, json=request_body(cast, recipients=RESERVE), headers=cast["spoc"].headers)
    assert r.status_code == 403 and "Art. 14(3)" in r.text
    assert count(db, AssistanceRequest) == 0


def test_a_csirts_request_reaches_the_reserve_only_once_its_own_spoc_transmits_it(
    client: TestClient, cast: Cast, db: Session
) -> None:
    req = reserve_request(client, cast, recipients={**RESERVE, "organisations": [cast["de_spoc"].org_id]})
    assert (req["owner_name"], req["transmitted_by"], req["transmitted_at"]) == ("CERT-FR", None, None)
    # Not yet transmitted: the Reserve's administrators neither read nor rank it.
    assert client.get(f"{BASE}/{req['id']}", headers=cast["enisa"].headers).status_code == 404
    assert client.get(f"{BASE}/reserve-ranking", headers=cast["fr"].headers).json()["items"] == []
    # Another Member State's SPOC reads it here (it was named) but may not transmit it.
    refused = post(client, cast["de_spoc"], f"{req['id']}/transmit")
    assert refused.status_code == 403 and "Art. 15(3)(a)" in refused.text
    done = post(client, cast["spoc"], f"{req['id']}/transmit")
    assert done.status_code == 200, done.text
    got = done.json()
    assert (got["owner_name"], got["transmitted_by"], got["transmitted_by_name"]) == (
        "CERT-FR",
        cast["spoc"].org_id,
        "FR-SPOC",
    )
    assert client.get(f"{BASE}/{req['id']}", headers=cast["enisa"].headers).status_code == 200
    db.rollback()
    row = db.get(AssistanceRequest, req["id"])
    assert row is not None and row.transmitted_by_id == cast["spoc"].user_id and row.transmitted_at is not None
    # The response target is the deployment's (CYBERCRISIS_RESERVE_RESPONSE_HOURS), counted from the transmission.
    hours = client.app.state.settings.reserve_response_hours  # type: ignore[attr-defined]
    assert row.response_due_at == row.transmitted_at + timedelta(hours=hours)
    [event] = db.query(AuditEvent).filter(AuditEvent.tag == "assistance:request:transmit").all()
    assert event.object_id == req["id"]
    assert post(client, cast["spoc"], f"{req['id']}/transmit").status_code == 409  # once only


def _transmitted(client: TestClient, cast: Cast, **over: Any) -> str:
    req = reserve_request(client, cast, **over)
    assert post(client, cast["spoc"], f"{req['id']}/transmit").status_code == 200
    return str(req["id"])


def test_the_ranking_follows_the_configured_order_and_says_it_is_the_deployments(
    client: TestClient, app: Any, cast: Cast
) -> None:
    red_important = _transmitted(client, cast, impact="red", entity_type="important", spillover="none")
    yellow_essential = _transmitted(client, cast, impact="yellow", entity_type="essential", spillover="high")
    got = client.get(f"{BASE}/reserve-ranking", headers=cast["enisa"].headers).json()
    assert got["criteria"] == ["severity", "entity_type", "potential_impact", "spillover"]
    assert "deployment's order" in got["order"] and "Art. 16" in got["legal_basis"]["severity"]
    assert [i["request"]["id"] for i in got["items"]] == [red_important, yellow_essential]
    assert "(deployment's order)" in got["items"][0]["reason"]
    app.state.settings = app.state.settings.model_copy(
        update={"reserve_priority": "entity_type,severity,spillover,potential_impact"}
    )
    got = client.get(f"{BASE}/reserve-ranking", headers=cast["enisa"].headers).json()
    assert got["criteria"][0] == "entity_type"
    assert [i["request"]["id"] for i in got["items"]] == [yellow_essential, red_important]


def test_a_bad_priority_setting_stops_the_start_naming_the_item() -> None:
    with pytest.raises(ValueError, match="'severty'"):
        Settings(reserve_priority="severty,entity_type,potential_impact,spillover")
    with pytest.raises(ValueError, match="'spillover' is missing"):
        parse_priority("severity,entity_type,potential_impact")


def test_the_severity_ranked_is_the_incidents_impact_not_the_threats(client: TestClient, cast: Cast) -> None:
    r = client.post(
        "/api/v1/incidents",
        headers=cast["fr"].headers,
        json={
            "title": "Wiper",
            "tlp": "amber",
            "aware_at": "2026-11-28T08:00:00Z",
            "countries": ["FR"],
            "sectors": ["health"],
            "rsit_class": "malicious-code",
            "rsit_type": "infected-system",
            "impact_severity": "red",
            "threat_severity": "low",
            "share_with": {"organisations": []},
        },
    )
    assert r.status_code == 201, r.text
    body = request_body(cast, recipients=RESERVE, incidents=[r.json()["id"]], severity="low")
    del body["impact"]
    created = client.post(BASE, json=body, headers=cast["fr"].headers)
    assert created.status_code == 201, created.text
    assert created.json()["impact"] == "red"  # taken from the incident
    post(client, cast["spoc"], f"{created.json()['id']}/transmit")
    [item] = client.get(f"{BASE}/reserve-ranking", headers=cast["enisa"].headers).json()["items"]
    assert item["explanation"][0] == {**item["explanation"][0], "criterion": "severity", "value": "red"}


def test_the_summary_report_is_due_the_configured_months_after_support_ended(
    client: TestClient, app: Any, cast: Cast
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"reserve_summary_months": 2})
    req = ask(client, cast["fr"], cast)
    o = offer(client, cast["de"], req["id"])
    post(client, cast["fr"], f"{req['id']}/offers/{o['id']}/accept")
    ended = post(client, cast["fr"], f"{req['id']}/support-ended").json()
    from datetime import datetime

    assert datetime.fromisoformat(ended["summary_due_at"]) == months_after(
        datetime.fromisoformat(ended["support_ended_at"]), 2
    )


def test_cert_eus_own_request_is_transmitted_by_cert_eu_at_once(
    client: TestClient, cast: Cast, world: Any, db: Session
) -> None:
    from tests.assistance.conftest import reserve_admin

    reserve_admin(world, "cert-eu", "CERT-EU")  # Reg. (EU) 2025/38 Art. 14(3)(b); its directory key gives its id
    cert_eu = world.user("CERT-EU", roles=("coordinator",))
    r = client.post(BASE, json=request_body(cast, recipients=RESERVE), headers=cert_eu.headers)
    assert r.status_code == 201, r.text
    req = r.json()
    # Art. 15(3)(b): by that user itself, with no SPOC in between; the Reserve's administrators read it at once.
    assert req["transmitted_by"] == cert_eu.org_id and req["transmitted_at"] is not None
    assert client.get(f"{BASE}/{req['id']}", headers=cast["enisa"].headers).status_code == 200
    assert post(client, cast["spoc"], f"{req['id']}/transmit").status_code in (403, 404, 409)
