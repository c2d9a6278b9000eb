"""The recurring-incident figure (Reg. 2024/2690 Art. 4) is computed from the incidents the reader may see
(issue 12, finding 5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Actor, World
from tests.web.conftest import HTML, sign_in

NOW = datetime.now(UTC).replace(microsecond=0)
RULE = "recurring-incidents"


@pytest.fixture
def cast(world: World) -> dict[str, Actor]:
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    world.org("Infogerance Bellerive", type_="entity", country="FR", parent="CERT-FR")
    return {"fr": world.user("CERT-FR"), "fr2": world.user("CERT-FR"), "de": world.user("CERT-Bund")}


def _incident(client: TestClient, actor: Actor, entity: str, *, hours_ago: int, loss: int, **over: Any) -> str:
    body = {
        "title": f"Ransomware wave {hours_ago}",
        "tlp": "amber",
        "aware_at": (NOW - timedelta(hours=hours_ago)).isoformat(),
        "countries": ["FR"],
        "entity": entity,
        "entity_type": "managed-service-provider",
        "apparent_root_cause": "CVE-2024-3400 on the VPN gateway",
        "facts": {"financial_loss_eur": loss},
        **over,
    }
    r = client.post("/api/v1/incidents", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _recurring(client: TestClient, actor: Actor, incident_id: str) -> dict[str, Any] | None:
    r = client.get(f"/api/v1/incidents/{incident_id}", headers=actor.headers)
    assert r.status_code == 200, r.text
    return next((f for f in r.json()["assessment"]["findings"] if f["rule"] == RULE), None)


def test_recurring_losses_count_only_incidents_the_reader_may_see(
    client: TestClient, world: World, cast: dict[str, Actor]
) -> None:
    entity, de_org = world.orgs["Infogerance Bellerive"], world.orgs["CERT-Bund"]
    to_de = {"organisations": [de_org]}
    # Four CERT-FR incidents at one entity with one root cause: two shared with CERT-Bund, one kept to CERT-FR
    # (AMBER+STRICT, no recipient), one TLP:RED naming its author only.
    seen = _incident(client, cast["fr"], entity, hours_ago=1, loss=100_000, share_with=to_de)
    _incident(client, cast["fr"], entity, hours_ago=48, loss=200_000, share_with=to_de)
    _incident(client, cast["fr"], entity, hours_ago=72, loss=300_000, tlp="amber+strict")
    _incident(client, cast["fr"], entity, hours_ago=96, loss=400_000, tlp="red")

    de = _recurring(client, cast["de"], seen)
    assert de is not None
    # 100,000 + 200,000: neither the AMBER+STRICT nor the RED incident's loss, and no hint that they exist.
    assert de["fact"].endswith("= 300000") and de["fired"] is False

    colleague = _recurring(client, cast["fr2"], seen)  # the owner organisation, not named on the RED one
    assert colleague is not None and colleague["fact"].endswith("= 600000") and colleague["fired"] is True
    author = _recurring(client, cast["fr"], seen)  # named on every one of them
    assert author is not None and author["fact"].endswith("= 1000000")

    sign_in(client, cast["de"].email)
    page = client.get(f"/incidents/{seen}", headers=HTML)
    assert page.status_code == 200
    assert "= 300000" in page.text and "1000000" not in page.text and "600000" not in page.text


def test_no_recurring_finding_when_the_other_incidents_are_all_hidden(
    client: TestClient, world: World, cast: dict[str, Actor]
) -> None:
    entity, de_org = world.orgs["Infogerance Bellerive"], world.orgs["CERT-Bund"]
    seen = _incident(client, cast["fr"], entity, hours_ago=1, loss=100_000, share_with={"organisations": [de_org]})
    _incident(client, cast["fr"], entity, hours_ago=48, loss=450_000, tlp="red")  # not significant alone
    # To CERT-Bund the incident is a first occurrence: the answer is the same as if the RED one did not exist.
    assert _recurring(client, cast["de"], seen) is None
    assert _recurring(client, cast["fr"], seen) is not None
