"""The correlation graph of the incident page (issue 19): the incidents the reader may see that share observables
with this one, and nothing the reader may not see."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import Actor, World
from tests.incidents.test_incident_edit import cast  # noqa: F401 - the fixture
from tests.incidents.test_incidents_api import create
from tests.web.conftest import HTML, sign_in


def test_the_graph_draws_the_visible_correlations_with_their_counts_and_no_hidden_one(
    client: TestClient,
    cast: dict[str, Actor],  # noqa: F811
    world: World,
) -> None:
    fr = create(client, cast["fr"])
    create(client, cast["de"], title="C2 <seen> in Germany", countries=["DE"])  # both values, to the network
    create(
        client,
        cast["ee"],
        title="Estonian incident CERT-FR may not read",
        tlp="amber+strict",
        share_with={"organisations": [world.orgs["CERT-Bund"]]},
        observables=[{"type": "ipv4-addr", "value": "198.51.100.7"}],
    )
    sign_in(client, cast["fr"].email)
    page = client.get(f"/incidents/{fr['id']}", headers=HTML).text
    svg = re.search(r'<svg class="corr-graph".*?</svg>', page, re.S)
    assert svg, "no graph"
    drawn = svg.group(0)
    assert "shares observables with 1 other incident you may see." in drawn
    assert "C2 &lt;seen&gt; in Germany" in drawn and "<seen>" not in drawn  # titles are escaped
    assert re.search(r'<text class="cg-count"[^>]*>2</text>', drawn)  # two values shared
    assert "Estonian" not in page
    # An incident without correlations has no graph.
    alone = create(client, cast["fr"], title="Alone", observables=[{"type": "domain-name", "value": "x.example"}])
    assert "corr-graph" not in client.get(f"/incidents/{alone['id']}", headers=HTML).text
