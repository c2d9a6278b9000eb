"""The situational-awareness dashboard: the live picture of what this reader may see, and its live fragment.

The page is complete without JavaScript; `static/situation.js` listens to `/api/v1/events` and swaps in
`/situation/live`, which renders the same `_situation_live.html` from the same cached picture as the API.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.deps import DB
from cybercrisis.incidents.labels import rsit_class_label, sector_label
from cybercrisis.situation import svg
from cybercrisis.situation.aggregate import IMPACT_ORDER, CountryCell, status_rank
from cybercrisis.web.pagedeps import NO_STORE, PagePrincipal
from cybercrisis.web.render import render

router = APIRouter(include_in_schema=False)
MapBy = Annotated[str, Query(alias="map", max_length=20)]
MAP_VIEWS = ("status", "impact")
# The header the fragment carries, so the script never swaps in another page (a login form after a redirect).
FRAGMENT_HEADER = "X-Situation-Fragment"


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _threshold(scale: Sequence[str]) -> str | None:
    """The status from which a Member State counts as in difficulty: 'degraded' on the default scale."""
    if "degraded" in scale:
        return "degraded"
    return scale[len(scale) // 2] if scale else None


def _cells(countries: Mapping[str, Mapping[str, Any]]) -> dict[str, CountryCell]:
    return {
        code: CountryCell(c["status"], c["outlook"], c["impact"], c["open_incidents"], [])
        for code, c in countries.items()
    }


def _day_label(day: str) -> str:
    d = date.fromisoformat(day)
    return f"{d:%a} {d.day} {d:%b}"


def _headline(picture: Mapping[str, Any]) -> dict[str, Any]:
    scale: list[str] = picture["scale"]
    threshold = _threshold(scale)
    floor = status_rank(threshold, scale)
    troubled = sorted(
        code
        for code, c in picture["countries"].items()
        if threshold is not None and status_rank(c["status"], scale) >= floor
    )
    numbers = {n["key"]: n["value"] for n in picture["headline"]}
    return {
        "threshold": threshold,
        "troubled": troubled,
        "open": picture["open_incidents"]["total"],
        "cross_border": numbers.get("cross-border-incidents", len(picture["large_scale_incidents"])),
        "overdue": picture["overdue_reports"],
        "awaiting": picture["early_warnings"]["awaiting_my_ack"],
    }


def dashboard(picture: Mapping[str, Any], map_by: str) -> dict[str, Any]:
    """Everything the live fragment shows, from the picture (which is shared by the cache: never changed here)."""
    scale: list[str] = picture["scale"]
    cells = _cells(picture["countries"])
    rank = {v: i for i, v in enumerate(IMPACT_ORDER)}
    countries = sorted(
        picture["countries"].items(),
        key=lambda kv: (-status_rank(kv[1]["status"], scale), -rank.get(kv[1]["impact"] or "", -1), kv[0]),
    )
    heat = {country: {sector_label(s): v for s, v in row.items()} for country, row in picture["heat"].items()}
    heat_rows = sorted(
        ((country, sector_label(s), v) for country, row in picture["heat"].items() for s, v in row.items()),
        key=lambda r: (-rank.get(r[2], -1), r[0], r[1]),
    )
    timeline = [(r["day"], r["incidents"]) for r in picture["timeline"]]
    by_class = [
        (cls, rsit_class_label(cls) if cls != "unclassified" else "Not classified yet", n)
        for cls, n in picture["open_incidents"]["by_class"].items()
    ]
    by_severity = list(picture["open_incidents"]["by_severity"].items())
    title_map = "Member States by " + ("reported status" if map_by == "status" else "worst impact reported")
    return {
        "picture": picture,
        "map_by": map_by,
        "tlp": TLP(picture["marking"]),
        "headline": _headline(picture),
        "countries": countries,
        "map_svg": svg.country_map(cells, by=map_by, scale=scale, title=title_map),
        "map_title": title_map,
        "legend": svg.legend_items(map_by, scale),
        "heat_svg": svg.heatmap(heat, title="Worst impact by Member State and sector"),
        "heat_rows": heat_rows,
        "timeline_svg": svg.bars(
            [(_day_label(day), n) for day, n in timeline],
            title=f"Incidents detected per day, last {len(timeline)} days",
        ),
        "timeline": timeline,
        "timeline_total": sum(n for _, n in timeline),
        "by_class": by_class,
        "by_severity": by_severity,
        "plural": _plural,
    }


_DERIVED: OrderedDict[tuple[int, str, str], dict[str, Any]] = OrderedDict()
_DERIVED_LOCK = threading.Lock()


def _context(request: Request, db: Session, principal: Principal, map_by: str) -> dict[str, Any]:
    picture: dict[str, Any] = request.app.state.picture_cache.get(db, principal, request.app.state.settings)
    view = map_by if map_by in MAP_VIEWS else "status"
    # The charts depend on the cached picture only: draw them once per picture, not once per request.
    key = (id(picture), str(picture["generated_at"]), view)
    with _DERIVED_LOCK:
        hit = _DERIVED.get(key)
    if hit is None:
        hit = dashboard(picture, view)
        with _DERIVED_LOCK:
            _DERIVED[key] = hit
            while len(_DERIVED) > 256:
                _DERIVED.popitem(last=False)
    return dict(hit)


def _page(request: Request, db: Session, principal: Principal, map_by: str, template: str) -> bytes:
    """The page as this viewer last saw it, until a change reaches the picture: a 250 kB page is drawn once."""
    viewer = getattr(request.state, "viewer", None)
    key = (template, map_by, getattr(viewer, "csrf_token", ""), getattr(viewer, "pending_alerts", 0))
    cache = request.app.state.picture_cache
    return cache.page(  # type: ignore[no-any-return]
        db, principal, key, lambda: bytes(render(request, template, _context(request, db, principal, map_by)).body)
    )


@router.get("/situation", response_class=HTMLResponse)
def situation(*, request: Request, db: DB, principal: PagePrincipal, map_by: MapBy = "status") -> Response:
    return HTMLResponse(_page(request, db, principal, map_by, "situation.html"), headers=NO_STORE)


@router.get("/situation/wall", response_class=HTMLResponse)
def situation_wall(*, request: Request, db: DB, principal: PagePrincipal, map_by: MapBy = "status") -> Response:
    """The dashboard for a screen on the wall of an operations room: no navigation, larger type, live as the page."""
    return HTMLResponse(_page(request, db, principal, map_by, "situation_wall.html"), headers=NO_STORE)


@router.get("/situation/live", response_class=HTMLResponse)
def situation_live(*, request: Request, db: DB, principal: PagePrincipal, map_by: MapBy = "status") -> Response:
    """Only the part of the dashboard that changes, for situation.js to swap in."""
    headers = {**NO_STORE, FRAGMENT_HEADER: "1"}
    return HTMLResponse(_page(request, db, principal, map_by, "_situation_live.html"), headers=headers)
