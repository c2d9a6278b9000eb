"""A situation report's figures as a page shows them: each table's cells in words and classes, each row's sources
linked and named from the report's frozen copy of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis import taxonomies
from cybercrisis.directory.countries import COUNTRIES
from cybercrisis.incidents.labels import rsit_class_label, sector_label
from cybercrisis.situation import aggregate
from cybercrisis.situation.forms import status_class
from cybercrisis.situation.models import SitrepSource
from cybercrisis.situation.schemas import FieldChange
from cybercrisis.web.diffs import word_diff

NUMERIC = frozenset({"incidents", "open", "red_impact", "entities_affected", "count", "observables"})
TEXT_LABELS = {
    "title": "Title",
    "summary": "Summary and key judgements",
    "decisions_needed": "Decisions needed",
    "notes": "Notes",
}


@dataclass(slots=True)
class ShownRow:
    cells: list[tuple[str, str, str]]  # (kind, text, css class)
    sources: list[str]
    links: list[tuple[str, str | None, str]] = field(default_factory=list)  # (kind, href, label)
    more: int = 0


@dataclass(slots=True)
class ShownTable:
    key: str
    title: str
    columns: list[tuple[str, str, bool]]  # (key, label, numeric)
    rows: list[ShownRow]


def _kind(source_id: str) -> str:
    return source_id.split("--", 1)[0]


def _href(source_id: str) -> str | None:
    kind = _kind(source_id)
    if kind == "contribution":
        return f"/contributions/{source_id}"
    if kind == "incident":
        return f"/incidents/{source_id}"
    return None  # observables have no page of their own


def _cell(key: str, value: Any, scale: list[str]) -> tuple[str, str, str]:
    if value is None or value == []:
        return ("text", "—", "muted")
    if isinstance(value, bool):
        return ("text", "Yes" if value else "No", "assist-yes" if value else "")
    if key == "impact":
        return ("impact", str(value), f"impact impact-{value}")
    if key == "status":
        return ("status", str(value), f"nstatus {status_class(str(value), scale)}")
    if key == "outlook":
        return ("outlook", str(value), f"outlook outlook-{value}")
    if key == "sector":
        return ("text", sector_label(str(value)), "")
    if key == "class":
        return ("text", rsit_class_label(str(value)) if value != "unclassified" else "Unclassified", "")
    if key == "classes" and isinstance(value, list):
        return (
            "text",
            ", ".join(rsit_class_label(str(v)) if v != "unclassified" else "Unclassified" for v in value),
            "",
        )
    if key == "value":
        return ("text", str(value), "obs-value")
    if key in ("needs", "measures"):
        return ("text", str(value), "pre")
    if isinstance(value, list):
        return ("text", ", ".join(str(v) for v in value), "")
    return ("num" if isinstance(value, int) else "text", str(value), "")


def tables_of(picture: aggregate.Picture, scale: list[str]) -> list[ShownTable]:
    return [
        ShownTable(
            key=t.key,
            title=t.title,
            columns=[(k, label, k in NUMERIC) for k, label in t.columns],
            rows=[ShownRow([_cell(k, r.cells.get(k), scale) for k, _ in t.columns], r.sources) for r in t.rows],
        )
        for t in picture.tables
    ]


def map_table(picture: aggregate.Picture, scale: list[str]) -> ShownTable:
    columns = [
        ("country", "Member State", False),
        ("status", "Status", False),
        ("outlook", "Outlook", False),
        ("impact", "Worst impact", False),
        ("open", "Open incidents", True),
    ]
    rows = [
        ShownRow(
            [
                ("text", f"{COUNTRIES.get(code, code)} ({code})", ""),
                _cell("status", cell.status, scale),
                _cell("outlook", cell.outlook, scale),
                _cell("impact", cell.impact, scale),
                ("num", str(cell.open_incidents), ""),
            ],
            cell.sources,
        )
        for code, cell in sorted(picture.countries.items())
    ]
    return ShownTable("countries", "Member States on the map", columns, rows)


def _headline_table(picture: aggregate.Picture) -> ShownTable:
    rows = [ShownRow([("text", n.label, ""), ("num", str(n.value), "")], n.sources) for n in picture.headline]
    return ShownTable("headline", "Headline figures", [("label", "Figure", False), ("value", "Value", True)], rows)


def all_tables(picture: aggregate.Picture, scale: list[str]) -> list[ShownTable]:
    return [_headline_table(picture), map_table(picture, scale), *tables_of(picture, scale)]


def label_sources(db: Session, sitrep_id: str, build: int, tables: list[ShownTable], *, limit: int | None) -> None:
    """Link each row's sources (the first `limit` of them), named from the report's frozen copy of each source.

    Every id in a row comes from the reader's own picture, so only sources the reader may see are named here.
    """
    wanted = {sid for t in tables for r in t.rows for sid in (r.sources[:limit] if limit else r.sources)}
    names: dict[str, str] = {}
    if wanted:
        rows = db.execute(
            select(SitrepSource.source_id, SitrepSource.kind, SitrepSource.data).where(
                SitrepSource.sitrep_id == sitrep_id,
                SitrepSource.build == build,
                SitrepSource.source_id.in_(sorted(wanted)),
            )
        ).all()
        for sid, kind, data in rows:
            if kind == "incident":
                names[sid] = str(data.get("title") or sid)
            elif kind == "contribution":
                country = str(data.get("country", ""))
                names[sid] = f"{COUNTRIES.get(country, country)} contribution ({data.get('status', '')})"
            else:
                names[sid] = f"{data.get('type', '')} {data.get('value', '')}".strip() or sid
    for t in tables:
        for r in t.rows:
            shown = r.sources[:limit] if limit else r.sources
            r.links = [(_kind(sid), _href(sid), names.get(sid, sid)) for sid in shown]
            r.more = len(r.sources) - len(shown)


def heat_table(picture: aggregate.Picture) -> dict[str, Any]:
    sectors = [s for s in taxonomies.nis2_sectors() if any(s in row for row in picture.heat.values())]
    sectors += sorted({s for row in picture.heat.values() for s in row} - set(sectors))
    return {
        "sectors": [(s, sector_label(s)) for s in sectors],
        "rows": [(c, [picture.heat[c].get(s) for s in sectors]) for c in sorted(picture.heat)],
    }


def _row_text(cells: dict[str, Any]) -> str:
    return "; ".join(
        f"{k.replace('_', ' ')}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in cells.items()
    )


def _text(value: object) -> str:
    return "" if value is None else str(value)


def figure_changes(changes: list[FieldChange], picture: aggregate.Picture) -> list[dict[str, Any]]:
    """Text changes as diffs; a headline number as before/after; a table as the rows it lost and gained."""
    names = {f"headline.{n.key}": f"Headline: {n.label}" for n in picture.headline}
    names.update({f"table.{t.key}": f"Table: {t.title}" for t in picture.tables})
    out: list[dict[str, Any]] = []
    for ch in changes:
        label = TEXT_LABELS.get(ch.field) or names.get(ch.field) or ch.field.replace(".", ": ").replace("-", " ")
        if ch.diff is not None:
            out.append({"field": label, "words": word_diff(_text(ch.before), _text(ch.after))})
        elif ch.field.startswith("table."):
            before = [_row_text(r) for r in ch.before or []]
            after = [_row_text(r) for r in ch.after or []]
            out.append(
                {
                    "field": label,
                    "removed": [r for r in before if r not in after],
                    "added": [r for r in after if r not in before],
                }
            )
        else:
            out.append(
                {
                    "field": label,
                    "before": "—" if ch.before is None else str(ch.before),
                    "after": "—" if ch.after is None else str(ch.after),
                }
            )
    return out
