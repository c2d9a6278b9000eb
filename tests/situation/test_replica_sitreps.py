"""Published situation reports held at another node (ADR 0013 step 4, issue 15): the hub's published report is read on
the nodes of its audience, each reader's figures computed there from the frozen sources it carries that the reader may
read there; it carries only the sources every reader of the report may read, and it is read-only there.

The "other node" is a node identity of the test's own (`peer_node`) signing the object this node's own mapping made
from a real report, which the test then removes here (as in tests/exchange/test_replicas.py). Three real nodes run
the same story in tests/exchange/test_federation_hub.py.
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.access.tlp import TLP
from cybercrisis.config import Settings
from cybercrisis.db import utcnow
from cybercrisis.exchange import node, stix_common, stix_sitrep
from cybercrisis.situation.models import SitrepSource
from tests.conftest import Actor, World, count
from tests.exchange.test_replicas import _as_from
from tests.exchange.test_stix_export import post_incident, valid
from tests.exchange.test_store_federated import peer_node, receive  # noqa: F401 - peer_node is a fixture
from tests.web.conftest import HTML, sign_in

NOW = datetime.now(UTC).replace(microsecond=0)
PERIOD = {
    "period_start": (NOW - timedelta(hours=12)).isoformat(),
    "period_end": (NOW + timedelta(hours=12)).isoformat(),
}


@pytest.fixture
def cast(world: World) -> dict[str, Actor]:
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    world.org("ENISA", type_="eu-body", country=None, communities=("csirts-network", "eu-cyclone"))
    world.org("Outsider", country="IT")
    return {
        "fr": world.user("CERT-FR"),
        "de": world.user("CERT-Bund"),
        "enisa": world.user("ENISA", roles=("coordinator",)),
        "enisa2": world.user("ENISA", roles=("coordinator",)),
        "out": world.user("Outsider"),
    }


def _published(client: TestClient, cast: dict[str, Actor], level: str) -> dict[str, Any]:
    body = {"level": level, **PERIOD, "tlp": "amber", "share_with": {"communities": ["csirts-network"]}}
    r = client.post("/api/v1/sitreps", json=body, headers=cast["enisa"].headers)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = client.post(f"/api/v1/sitreps/{sid}/approve", json={"version": 1}, headers=cast["enisa2"].headers)
    assert r.status_code == 200, r.text
    r = client.post(f"/api/v1/sitreps/{sid}/publish", json={"version": 1}, headers=cast["enisa2"].headers)
    assert r.status_code == 200 and r.json()["state"] == "published", r.text
    out: dict[str, Any] = r.json()
    return out


def _contribute(client: TestClient, actor: Actor, country: str, **over: Any) -> dict[str, Any]:
    body = {
        "country": country,
        **PERIOD,
        "status": "degraded",
        "outlook": "worsening",
        "sectors": [{"sector": "energy", "impact": "red"}],
        "tlp": "amber",
        "share_with": {"communities": ["csirts-network"]},
        **over,
    }
    r = client.post("/api/v1/contributions", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def test_a_published_report_from_the_hub_is_read_on_its_audiences_nodes_from_the_sources_all_of_them_may_read(
    client: TestClient,
    cast: dict[str, Actor],
    session_factory: sessionmaker[Session],
    settings: Settings,
    peer_node: node.Node,  # noqa: F811
    db: Session,
) -> None:
    # CERT-FR links an incident only ENISA may read to a contribution every reader reads: the link stays hidden.
    secret = post_incident(client, cast["fr"], share_with={"organisations": [cast["enisa"].org_id]}, tlp="amber")
    linking = _contribute(client, cast["fr"], "FR", status="elevated", incidents=[secret["id"]])
    fr = _contribute(client, cast["fr"], "FR")
    # ENISA's eyes only: it counts at the hub, for ENISA; no other reader of the report may read it.
    hidden = _contribute(
        client, cast["fr"], "FR", status="crisis", share_with={"organisations": [cast["enisa"].org_id]}
    )
    shared = post_incident(client, cast["fr"], share_with={"communities": ["csirts-network"]}, tlp="amber")
    report = _published(client, cast, "operational")
    assert hidden["id"] in str(report["figures"])  # at the hub, ENISA's figures count what ENISA may read

    [obj] = _as_from(session_factory, peer_node, report["id"])
    assert obj["type"] == "x-cybercrisis-situation-report" and obj["id"] == stix_sitrep.sdo_id(report["id"])
    carried = {s["id"] for s in obj["sources"]}
    assert fr["id"] in carried and shared["id"] in carried and hidden["id"] not in carried
    assert hidden["id"] not in json.dumps(obj)  # nothing of it, not even its id
    assert linking["id"] in carried and secret["id"] not in json.dumps(obj)  # nor an incident some reader may not read
    plain = {k: v for k, v in obj.items() if not k.startswith("x_cybercrisis")}
    extras = [json.loads(stix_common.new_sdo_definition(stix_common.SITREP_EXTENSION_ID).serialize())]
    extras += [json.loads(stix_common.product_identity().serialize()), stix_common.marking_definition(TLP.AMBER)]
    valid({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [plain, *extras]})

    assert not receive(session_factory, settings, [obj], peer_node).rejected
    r = client.get(f"/api/v1/sitreps/{report['id']}", headers=cast["de"].headers)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["held_at"]["node"] == peer_node.id and got["state"] == "published" and got["version"] == 1
    assert got["figures"]["countries"]["FR"]["status"] == "degraded", got["figures"]  # not the hidden "crisis"
    assert fr["id"] in str(got["figures"]) and hidden["id"] not in str(got["figures"])
    assert report["id"] in {x["id"] for x in client.get("/api/v1/sitreps", headers=cast["de"].headers).json()["items"]}
    assert client.get(f"/api/v1/sitreps/{report['id']}", headers=cast["out"].headers).status_code == 404
    # Read-only here, for the drafting organisation's own users too.
    for path, body in (("", {"version": 1, "summary": "changed here"}), ("/rebuild", {"version": 1})):
        method = "PATCH" if not path else "POST"
        r = client.request(method, f"/api/v1/sitreps/{report['id']}{path}", json=body, headers=cast["enisa"].headers)
        assert r.status_code == 403 and f"held at node {peer_node.id}" in r.json()["detail"], (path, r.text)
    assert sign_in(client, cast["de"].email).status_code == 303
    page = client.get(f"/sitreps/{report['id']}", headers=HTML)
    assert page.status_code == 200 and "Held at" in page.text, page.text
    client.cookies.clear()

    # A source of the wrong shape in a newer version is dropped when it arrives; the report still reads.
    newer = {k: copy.deepcopy(v) for k, v in obj.items() if k not in (node.SHARES, node.ORIGIN)}
    bad = {"kind": "incident", "id": "incident--x", "data": {"id": "incident--x", "aware_at": 5}}
    [good] = [x for x in obj["sources"] if x["id"] == shared["id"]]
    bogus = {"kind": "incident", "id": "incident--y", "data": good["data"] | {"id": "incident--y", "tlp": "bogus"}}
    sources = [*newer["sources"], bad, bogus]
    newer |= {"modified": stix_common.ts(utcnow()), "sources": sources, "summary": "Grid holds."}
    block = obj[node.ORIGIN]
    newer[node.SHARES] = obj[node.SHARES]
    newer[node.ORIGIN] = peer_node.sign(
        {k: v for k, v in newer.items() if k not in (node.SHARES, node.ORIGIN)},
        block["owner"],
        tlp=block["tlp"],
        shares=obj[node.SHARES],
        share_key=report["id"],
    )
    assert not receive(session_factory, settings, [newer], peer_node).rejected
    assert count(db, SitrepSource, SitrepSource.sitrep_id == report["id"]) == len(obj["sources"])
    r = client.get(f"/api/v1/sitreps/{report['id']}", headers=cast["de"].headers)
    assert r.status_code == 200 and r.json()["text"]["summary"] == "Grid holds.", r.text
