"""axe-core inside the browser tests (issue 19): the serious and critical accessibility violations of a page.

axe-core comes from the npm registry, pinned in tools/axe/package-lock.json, and is installed by
`make browser-deps` (`npm ci`); the tests inject the file into the page, so nothing is fetched at run time."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

AXE = Path(__file__).resolve().parents[2] / "tools" / "axe" / "node_modules" / "axe-core" / "axe.min.js"

_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => `${v.id} (${v.impact}): ${v.help}: ` + v.nodes.slice(0, 4).map(n => n.target.join(" ")).join(" | "));
}"""


def serious_violations(page: Page) -> list[str]:
    """Each serious or critical violation of the page as it is now: the rule, what it asks, where (up to 4 places)."""
    assert AXE.exists(), f"{AXE} is missing: run `make browser-deps` (npm ci of tools/axe)"
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found: list[str] = page.evaluate(_RUN)
    return found
