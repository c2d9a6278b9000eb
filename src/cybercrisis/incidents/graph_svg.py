"""The incident page's correlation graph: the incident in the middle, the incidents the reader may see that share
observables with it around, each line as thick as the number of shared values. Plain SVG drawn on the server (no
script, no library), styled by the page's CSS so that it follows dark mode; the list beside it says the same in
words and links each incident."""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

from cybercrisis.incidents.correlation import Correlation
from cybercrisis.incidents.models import Incident

WIDTH, HEIGHT = 560, 300
MOST = 12  # neighbours drawn; the rest are counted in words
_LABEL = 24  # characters of a title: with the radius below, a label fits beside its node


def _short(text: str) -> str:
    return text if len(text) <= _LABEL else text[: _LABEL - 1].rstrip() + "…"


def correlation_graph(incident: Incident, correlations: Sequence[Correlation]) -> Markup | None:
    """The graph as inline SVG, or None when no incident the reader may see shares an observable with this one."""
    if not correlations:
        return None
    shown = sorted(correlations, key=lambda c: (-len(c.values), c.incident.title))[:MOST]
    cx, cy, rx, ry = WIDTH / 2, HEIGHT / 2, 120, HEIGHT / 2 - 40
    n = len(shown)
    summary = (
        f"This incident shares observables with {len(correlations)} other incident"
        f"{'' if len(correlations) == 1 else 's'} you may see"
        + (f"; the {n} sharing the most are drawn" if len(correlations) > n else "")
        + "."
    )
    parts = [
        f'<svg class="corr-graph" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="cg-title">',
        f'<title id="cg-title">{escape(summary)}</title>',
    ]
    nodes = []
    for i, c in enumerate(shown):
        angle = -math.pi / 2 + 2 * math.pi * i / n
        x, y = cx + rx * math.cos(angle), cy + ry * math.sin(angle)
        shared = len(c.values)
        width = 1 + min(shared, 6)
        parts.append(
            f'<line class="cg-edge" x1="{cx:.0f}" y1="{cy:.0f}" x2="{x:.0f}" y2="{y:.0f}" stroke-width="{width}"/>'
        )
        mx, my = cx + 0.62 * (x - cx), cy + 0.62 * (y - cy)  # nearer the neighbour: clear of the centre
        parts.append(f'<circle class="cg-count-bg" cx="{mx:.0f}" cy="{my:.0f}" r="10"/>')
        parts.append(f'<text class="cg-count" x="{mx:.0f}" y="{my + 4:.0f}" text-anchor="middle">{shared}</text>')
        anchor = "middle" if abs(x - cx) < 20 else ("start" if x > cx else "end")
        dx = 0 if anchor == "middle" else (12 if anchor == "start" else -12)
        dy = -14 if anchor == "middle" and y < cy else (22 if anchor == "middle" else 4)
        nodes.append(f'<circle class="cg-node" cx="{x:.0f}" cy="{y:.0f}" r="8"/>')
        nodes.append(
            f'<text class="cg-label" x="{x + dx:.0f}" y="{y + dy:.0f}" text-anchor="{anchor}">'
            f"{escape(_short(c.incident.title))}</text>"
        )
    parts += nodes
    parts.append(f'<circle class="cg-node cg-self" cx="{cx:.0f}" cy="{cy:.0f}" r="13"/>')
    parts.append(
        f'<text class="cg-label cg-self-label" x="{cx:.0f}" y="{cy + 34:.0f}" text-anchor="middle">This incident</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in it is escaped above
