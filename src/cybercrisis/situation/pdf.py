"""The briefing PDF of a situation report, typeset offline by Typst (the `typst` package embeds the compiler).

The template `briefing.typ` is fixed; everything that varies, the text users wrote included, goes in as one JSON
value through `sys.inputs`, where Typst reads it as data and prints strings literally. No user text is ever
spliced into Typst source, so `#`, `*`, `$`, `[` or backslashes cannot run Typst code.

Only the fonts Typst embeds are used (system fonts are ignored), so the output does not depend on the machine and
no font is ever fetched. The political briefing is held to two A4 pages: long text and long tables are cut, with a
note saying so, and cut harder if the first try still runs over.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from typing import Any

import typst

from cybercrisis.access.tlp import TLP
from cybercrisis.situation import svg
from cybercrisis.situation.aggregate import SOURCES_NOTE, Picture, Table

# FIRST TLP 2.0 colours (for print on a black background).
TLP_COLOURS: dict[TLP, str] = {
    TLP.RED: "#FF2B2B",
    TLP.AMBER: "#FFC000",
    TLP.AMBER_STRICT: "#FFC000",
    TLP.GREEN: "#33FF00",
    TLP.CLEAR: "#FFFFFF",
}

POLITICAL_MAX_PAGES = 2
HEAT_TITLE = "Impact by Member State and sector"
LEVEL_NAMES = {"political": "Political", "operational": "Operational", "technical": "Technical"}
STATE_LINES = {
    "draft": ("DRAFT: not approved, not published; figures may change", "DRAFT"),
    "approved": ("APPROVED, NOT YET PUBLISHED: figures may still change", "NOT PUBLISHED"),
}
# Tables of the political level on each page; the other levels show all of theirs after the summary.
POLITICAL_FRONT = ("what-happened",)
POLITICAL_BACK = ("where-going", "decisions", "how-bad")
# Relative column widths (0 = as wide as its content) for columns that hold prose.
WIDE_COLUMNS = {"needs": 4, "measures": 3, "services_disrupted": 2, "countries": 2, "value": 2, "classes": 2}
_LONG_WORD = re.compile(r"\S{40,}")
_PAGES = re.compile(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)")


@dataclass(frozen=True, slots=True)
class Budget:
    """How much text and how many rows fit; the political level retries with a smaller one if it runs over."""

    summary: int
    decisions: int
    notes: int
    rows: int
    cell: int
    map_height: float  # cm


POLITICAL_BUDGETS = (
    Budget(summary=2200, decisions=900, notes=400, rows=8, cell=160, map_height=11.5),
    Budget(summary=1200, decisions=500, notes=200, rows=5, cell=100, map_height=10.0),
    Budget(summary=500, decisions=250, notes=100, rows=3, cell=60, map_height=8.5),
)
FULL_BUDGET = Budget(summary=20000, decisions=5000, notes=5000, rows=60, cell=600, map_height=12.0)


class BriefingTooLong(RuntimeError):
    """The political briefing ran over two pages even with the smallest budget (a template bug)."""


def render_pdf(view: Mapping[str, Any], *, scale: Sequence[str]) -> bytes:
    """The PDF of one situation report as one reader may see it (see the module docstring for the `view` keys)."""
    level = str(view["level"])
    marking = TLP.parse(str(view["marking"]))
    budgets = POLITICAL_BUDGETS if level == "political" else (FULL_BUDGET,)
    timestamp = _utc(view.get("published_at") or view["period_end"])
    pdf = b""
    for budget in budgets:
        payload = _payload(view, marking, scale, budget)
        pdf = typst.compile(
            _template(),
            format="pdf",
            sys_inputs={"data": json.dumps(payload, ensure_ascii=False)},
            ignore_system_fonts=True,
            timestamp=timestamp,
        )
        if level != "political" or page_count(pdf) <= POLITICAL_MAX_PAGES:
            return pdf
    raise BriefingTooLong(f"political briefing of {view['id']} is longer than {POLITICAL_MAX_PAGES} pages")


def page_count(pdf: bytes) -> int:
    """Pages of a PDF written by Typst (its page tree is one uncompressed object)."""
    found = _PAGES.search(pdf)
    return int(found.group(1)) if found else 0


@cache
def _template() -> bytes:
    return files("cybercrisis.situation").joinpath("briefing.typ").read_bytes()


# --- the data the template shows --------------------------------------------------------------------------------


def _payload(view: Mapping[str, Any], marking: TLP, scale: Sequence[str], budget: Budget) -> dict[str, Any]:
    picture: Picture = view["picture"]
    level = str(view["level"])
    political = level == "political"
    state = str(view["state"])
    text: Mapping[str, str] = view.get("text") or {}
    status_line, watermark = STATE_LINES.get(state, (None, None))
    published_at = view.get("published_at")
    meta = [f"Version {view['version']}", state.capitalize()]
    if published_at is not None:
        meta.append("published " + _when(published_at))
    if view.get("owner_name"):
        meta.append("prepared by " + _cut(str(view["owner_name"]), 80))
    tables = {t.key: t for t in picture.tables}
    if political:
        front = [_table(tables[k], budget) for k in POLITICAL_FRONT if k in tables]
        back = [_table(tables[k], budget) for k in POLITICAL_BACK if k in tables]
    else:  # all tables, but the impact matrix only as the heat map, its compact form
        front, back = [], [_table(t, budget) for t in picture.tables if not (t.key == "impact" and picture.heat)]
    heat = (
        None if political or not picture.heat else svg.heatmap(picture.heat, title="Impact by Member State and sector")
    )
    bar_rows = _bar_rows(picture)
    return {
        "title": _cut(str(view["title"]), 200),
        "level": level,
        "owner": str(view.get("owner_name") or ""),
        "tlp": {"label": marking.label, "color": TLP_COLOURS[marking]},
        "header": f"EU situation report · {LEVEL_NAMES.get(level, level)} level",
        "footer": f"{view['id']} · v{view['version']} · {state}",
        "period": f"Period: {_when(view['period_start'])} to {_when(view['period_end'])}",
        "meta": " · ".join(meta),
        "status_line": status_line,
        "watermark": watermark,
        "figures": [{"label": n.label, "value": _cell(n.value, 40)} for n in picture.headline],
        "map": svg.country_map(picture.countries, by="status", scale=tuple(scale), title="Member States by status")
        if picture.countries
        else None,
        "map_title": "Member States by reported status",
        "map_height": budget.map_height,
        "front_tables": front,
        "back_tables": back,
        "summary": _cut(_lines(text.get("summary", "")), budget.summary),
        "decisions_text": _cut(_lines(text.get("decisions_needed", "")), budget.decisions),
        "notes": _cut(_lines(text.get("notes", "")), budget.notes),
        "heat": heat,
        "heat_title": HEAT_TITLE,
        "heat_height": 12.0,
        "bars": svg.bars(bar_rows[1], title=bar_rows[0]) if bar_rows and bar_rows[1] else None,
        "bars_height": 8.0,
        "sources_note": SOURCES_NOTE,
    }


def _bar_rows(picture: Picture) -> tuple[str, list[tuple[str, int]]] | None:
    """A bar chart for the longer briefings: incidents per Member State (operational) or per class (technical)."""
    key = {"operational": "incidents-by-country", "technical": "incidents-by-class"}.get(picture.level)
    table = next((t for t in picture.tables if t.key == key), None)
    if table is None:
        return None
    label = table.columns[0][0]
    rows = [(str(r.cells[label]), int(r.cells["incidents"])) for r in table.rows[:15]]
    return table.title, rows


def _table(table: Table, budget: Budget) -> dict[str, Any]:
    keys = [k for k, _ in table.columns]
    shown = table.rows[: budget.rows]
    more = len(table.rows) - len(shown)
    return {
        "title": table.title,
        "columns": [label for _, label in table.columns],
        "widths": [WIDE_COLUMNS.get(k, 0) for k in keys],
        "rows": [[_cell(r.cells.get(k), budget.cell) for k in keys] for r in shown],
        "more": f"… and {more} more {'row' if more == 1 else 'rows'}, in the platform." if more else None,
        "empty": "Nothing to show.",
    }


def _cell(value: Any, limit: int) -> str:
    if value is None or value == "":
        return "\N{EN DASH}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return _cut(", ".join(str(v) for v in value), limit) if value else "\N{EN DASH}"
    return _cut(str(value), limit)


def _lines(s: str) -> str:
    return s.replace("\r\n", "\n").replace("\r", "\n").strip()


def _cut(s: str, limit: int) -> str:
    """`s` cut to about `limit` characters at a word, saying so, and with room to break very long words."""
    if len(s) > limit:
        head = s[:limit].rsplit(" ", 1)[0] if " " in s[:limit] else s[:limit]
        s = head.rstrip() + " … (cut here; the full text is in the platform)"
    return _LONG_WORD.sub(_breakable, s)


def _breakable(word: re.Match[str]) -> str:
    """A zero-width space every 20 characters, so that a hash or URL wraps instead of running off the page."""
    text = word.group(0)
    return "\u200b".join(text[i : i + 20] for i in range(0, len(text), 20))


def _utc(value: datetime) -> datetime:
    # Typst refuses timestamps with microseconds; whole seconds are all a PDF date holds anyway.
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.replace(microsecond=0)


def _when(value: datetime) -> str:
    return _utc(value).strftime("%-d %B %Y %H:%M UTC")
