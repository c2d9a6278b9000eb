"""Who may change a crisis and who may widen its audience (issue 12, finding 3)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Actor, World
from tests.crises.test_crises_api import _incident, _open, cast

__all__ = ["cast"]  # the autouse world of the crisis tests: two Member States, ENISA, the Presidency, an outsider


def _reads(client: TestClient, actor: Actor, crisis_id: str) -> bool:
    return client.get(f"/api/v1/crises/{crisis_id}", headers=actor.headers).status_code == 200


def test_a_recipient_escalating_does_not_bring_in_a_community_until_the_originator_agrees(
    client: TestClient, cast: dict[str, Actor], world: World
) -> None:
    crisis = _open(client, cast["fr_coord"], tlp="amber", share_with={"organisations": [world.orgs["CERT-Bund"]]})
    cid = crisis["id"]
    assert not _reads(client, cast["fr_crisis"], cid)
    r = client.post(
        f"/api/v1/crises/{cid}/escalations",
        json={"to": "eu-cyclone", "rationale": "spreading"},
        headers=cast["de_coord"].headers,
    )
    assert r.status_code == 201, r.text
    esc = r.json()
    assert esc["state"] == "pending" and [o["name"] for o in esc["waiting_for"]] == ["CERT-FR"]
    # Proposed, not agreed: the crisis authority of EU-CyCLONe still cannot read the crisis.
    assert not _reads(client, cast["fr_crisis"], cid)
    agree = client.post(
        f"/api/v1/crises/{cid}/escalations/{esc['id']}/approve",
        json={"comment": "agreed"},
        headers=cast["fr_coord"].headers,
    )
    assert agree.status_code == 200, agree.text
    assert agree.json()["state"] == "done"
    assert _reads(client, cast["fr_crisis"], cid)


def test_the_originator_escalating_brings_the_stage_community_in_at_once(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    cid = _open(client, cast["fr_coord"], tlp="amber")["id"]
    r = client.post(
        f"/api/v1/crises/{cid}/escalations",
        json={"to": "eu-cyclone", "rationale": "spreading"},
        headers=cast["fr_coord"].headers,
    )
    assert r.status_code == 201 and r.json()["state"] == "done"
    assert _reads(client, cast["fr_crisis"], cid)


def test_proposing_a_stage_adds_no_reader_before_it_is_done(
    client: TestClient, cast: dict[str, Actor], world: World
) -> None:
    crisis = _open(
        client, cast["fr_coord"], tlp="amber+strict", share_with={"organisations": [world.orgs["CERT-Bund"]]}
    )
    cid = crisis["id"]
    for proposer in ("fr_coord", "de_coord"):
        r = client.post(
            f"/api/v1/crises/{cid}/escalations",
            json={"to": "ipcr-information-sharing", "rationale": "political attention"},
            headers=cast[proposer].headers,
        )
        assert r.status_code == 409, (proposer, r.text)
        assert "PRESIDENCY" in r.json()["detail"]
        assert not _reads(client, cast["presidency"], cid)
    # Once the originator itself shares the crisis with those who must agree, the proposal can be made.
    shared = client.put(
        f"/api/v1/crises/{cid}/sharing",
        json={
            "tlp": "amber+strict",
            "share_with": {"organisations": [world.orgs["CERT-Bund"], world.orgs["PRESIDENCY"], world.orgs["GSC"]]},
        },
        headers=cast["fr_coord"].headers,
    )
    assert shared.status_code == 200, shared.text
    r = client.post(
        f"/api/v1/crises/{cid}/escalations",
        json={"to": "ipcr-information-sharing", "rationale": "political attention"},
        headers=cast["fr_coord"].headers,
    )
    assert r.status_code == 201 and r.json()["state"] == "pending"


def test_a_reader_organisation_cannot_unlink_the_owners_incidents_or_add_actions(
    client: TestClient, cast: dict[str, Actor], world: World
) -> None:
    incident = _incident(client, cast["fr"], "FR")
    crisis = _open(
        client,
        cast["fr_coord"],
        incidents=[incident],
        tlp="amber",
        share_with={"organisations": [world.orgs["OUTSIDER"], world.orgs["CERT-Bund"]]},
    )
    cid = crisis["id"]
    assert _reads(client, cast["outsider"], cid)
    for who in ("outsider", "de_coord"):
        r = client.delete(f"/api/v1/crises/{cid}/incidents/{incident}", headers=cast[who].headers)
        assert r.status_code in (403, 404), (who, r.text)
    action = {"title": "Patch the VPN concentrators", "assignee": world.orgs["CERT-FR"]}
    outsider = client.post(f"/api/v1/crises/{cid}/actions", json=action, headers=cast["outsider"].headers)
    assert outsider.status_code == 403, outsider.text
    # Taking part at the crisis's level (CERT-Bund is in the CSIRTs Network) lets an organisation record actions.
    bund = client.post(f"/api/v1/crises/{cid}/actions", json=action, headers=cast["de_coord"].headers)
    assert bund.status_code == 201, bund.text
    room = client.get(f"/api/v1/crises/{cid}", headers=cast["fr_coord"].headers).json()
    assert [i["id"] for i in room["incidents"]] == [incident]


def test_a_participant_links_only_its_own_incidents_and_the_owner_any_it_reads(
    client: TestClient, cast: dict[str, Actor], world: World
) -> None:
    fr_incident = _incident(client, cast["fr"], "FR")
    de_incident = _incident(client, cast["de_coord"], "DE")
    cid = _open(client, cast["fr_coord"], tlp="green")["id"]
    mine = client.post(
        f"/api/v1/crises/{cid}/incidents", json={"incidents": [de_incident]}, headers=cast["de_coord"].headers
    )
    assert mine.status_code == 200, mine.text
    theirs = client.post(
        f"/api/v1/crises/{cid}/incidents", json={"incidents": [fr_incident]}, headers=cast["de_coord"].headers
    )
    assert theirs.status_code == 403
    owner = client.post(
        f"/api/v1/crises/{cid}/incidents", json={"incidents": [fr_incident]}, headers=cast["fr_coord"].headers
    )
    assert owner.status_code == 200
