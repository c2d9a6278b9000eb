"""`cybercrisis incident quarterly-summary`: the NIS2 Art. 23(9) preview at the command line, run in-process."""

from __future__ import annotations

import json

from tests.conftest import World


def test_a_spoc_previews_its_quarterly_summary_and_a_csirt_is_refused(  # type: ignore[no-untyped-def]
    run, world: World
) -> None:
    world.org("FR-SPOC", type_="spoc", country="FR")
    world.org("CERT-FR", country="FR")
    spoc = world.user("FR-SPOC")
    csirt = world.user("CERT-FR")
    out = run("incident", "quarterly-summary", "--quarter", "2026-Q1", "--as", spoc.email)
    figures = json.loads(out.stdout)
    assert figures["quarter"] == "2026-Q1" and figures["country"] == "FR" and figures["total"] == 0
    refused = run("incident", "quarterly-summary", "--quarter", "2026-Q1", "--as", csirt.email, ok=False)
    assert refused.returncode == 1 and "Art. 23(9)" in refused.stderr
