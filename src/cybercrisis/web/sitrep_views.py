"""EU situation report pages: the list, drafting, one report as this reader sees it, its sources, versions and
the editing, rebuilding, approval and publication forms (ADR 0006).

Figures come from `sitreps.view`, computed for the reader from the sources they may see; every write goes through
`situation.sitreps`, as the API does. A refused action comes back on the page with its message and nothing written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from cybercrisis import taxonomies
from cybercrisis.access.permissions import Permission
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.audit import service as audit
from cybercrisis.config import Settings
from cybercrisis.db import utcnow
from cybercrisis.deps import DB
from cybercrisis.directory.countries import COUNTRIES
from cybercrisis.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from cybercrisis.situation import aggregate, audience, contributions, sitreps, svg
from cybercrisis.situation.models import Sitrep, SitrepSource, SitrepState, SitrepVersion
from cybercrisis.situation.schemas import FieldChange, SitrepIn
from cybercrisis.web import queries
from cybercrisis.web.contribution_views import diff_line_class, failed, parse_compare, status_class
from cybercrisis.web.forms import FormState
from cybercrisis.web.incident_form import local_minutes, required_utc
from cybercrisis.web.incident_labels import rsit_class_label, sector_label
from cybercrisis.web.pagedeps import PagePrincipal, check_csrf, see_other
from cybercrisis.web.render import render

router = APIRouter()
PAGE_SIZE = 50
MAX_LINKS = 10  # source links per figure row; the rest are one click away
Csrf = Annotated[str, Form(max_length=100)]
Version = Annotated[int, Form(ge=0)]
LEVEL_HELP = {
    "technical": "For the CSIRTs Network: incidents by class and Member State, observables and vulnerabilities "
    "seen in several Member States, correlated incidents.",
    "operational": "For EU-CyCLONe: national status, impact by sector, services disrupted, needs, outlook.",
    "political": "For the IPCR: what happened, how bad, where it is going, what may need deciding.",
}
TEXT_LABELS = {
    "title": "Title",
    "summary": "Summary and key judgements",
    "decisions_needed": "Decisions needed",
    "notes": "Notes",
}
EVENT_LABELS = {
    "situation:sitrep:create": "Drafted",
    "situation:sitrep:edit": "Text edited",
    "situation:sitrep:rebuild": "Rebuilt from the latest inputs",
    "situation:sitrep:approve": "Approved",
    "situation:sitrep:publish": "Published",
}
APPROVE_WARNING = "Approving: check that the text does not reveal anything from sources the audience may not see."
NUMERIC = frozenset({"incidents", "open", "red_impact", "entities_affected", "count", "observables"})


class NewForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    csrf_token: str = Field(default="", max_length=100)
    level: str = Field(default="", max_length=32)
    period_start: str = Field(default="", max_length=40)
    period_end: str = Field(default="", max_length=40)
    title: str = Field(default="", max_length=300)
    tlp: str = Field(default="", max_length=20)


class TextForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    csrf_token: str = Field(default="", max_length=100)
    version: int = Field(default=0, ge=0)
    title: str = Field(default="", max_length=300)
    summary: str = Field(default="", max_length=50_000)
    decisions_needed: str = Field(default="", max_length=50_000)
    notes: str = Field(default="", max_length=50_000)


def _settings(request: Request) -> Settings:
    s: Settings = request.app.state.settings
    return s


def _levels(db: Session) -> list[dict[str, str]]:
    names = queries.community_names(db)
    return [
        {
            "value": level,
            "label": level.capitalize(),
            "product": sitreps.LEVEL_TITLE[level],
            "help": LEVEL_HELP[level],
            "audience": names.get(sitreps.LEVEL_COMMUNITY[level], sitreps.LEVEL_COMMUNITY[level]),
        }
        for level in aggregate.LEVELS
    ]


# --- the list -------------------------------------------------------------------------------------------------


@router.get("/sitreps", response_class=HTMLResponse)
def sitrep_list(
    *, request: Request, db: DB, principal: PagePrincipal, level: Annotated[str, Query(max_length=32)] = ""
) -> Response:
    query = select(Sitrep).where(read_filter(principal, Sitrep))
    error, code = None, 200
    if level:
        if level in aggregate.LEVELS:
            query = query.where(Sitrep.level == level)
        else:
            error, code = f"'{level[:32]}' is not a level; choose technical, operational or political", 422
    rows = [] if error else list(db.scalars(query.order_by(Sitrep.period_end.desc(), Sitrep.id.desc()).limit(200)))
    # The version each reader sees: the latest for the drafting organisation, the latest published for the others.
    wanted = {s.id: (s.current_version if s.owner_org_id == principal.org_id else s.published_version) for s in rows}
    keys = [(sid, n) for sid, n in wanted.items() if n]
    shown = (
        {
            (v.sitrep_id, v.number): v
            for v in db.scalars(
                select(SitrepVersion).where(tuple_(SitrepVersion.sitrep_id, SitrepVersion.number).in_(keys))
            )
        }
        if keys
        else {}
    )
    items = []
    for s in rows:
        v = shown.get((s.id, wanted[s.id] or 0))
        items.append(
            {
                "s": s,
                "title": (v.text.get("title") if v else None) or sitreps.LEVEL_TITLE[s.level],
                "state": v.state if v else s.state,
                "version": v.number if v else None,
                "mine": s.owner_org_id == principal.org_id,
            }
        )
    return render(
        request,
        "sitreps.html",
        {
            "items": items,
            "level": level,
            "levels": [(lv["value"], f"{lv['label']}: {lv['product']}") for lv in _levels(db)],
            "error": error,
            "owners": queries.org_refs(db, (s.owner_org_id for s in rows)),
            "can_write": principal.has(Permission.SITREP_WRITE),
        },
        status=code,
    )


# --- drafting -------------------------------------------------------------------------------------------------


def _new_form(request: Request, db: Session, form: FormState, status: int = 200) -> Response:
    return render(request, "sitrep_new.html", {"form": form, "levels": _levels(db)}, status=status)


@router.get("/sitreps/new", response_class=HTMLResponse)
def new_sitrep_form(*, request: Request, db: DB, principal: PagePrincipal) -> Response:
    principal.require(Permission.SITREP_WRITE)
    now = utcnow().replace(second=0, microsecond=0)
    values = {
        "level": "",
        "period_start": local_minutes(now - timedelta(hours=24)),
        "period_end": local_minutes(now),
        "title": "",
        "tlp": TLP.GREEN.value,
    }
    return _new_form(request, db, FormState(values=values))


@router.post("/sitreps/new")
def create_sitrep(*, request: Request, db: DB, principal: PagePrincipal, data: Annotated[NewForm, Form()]) -> Response:
    check_csrf(request, db, data.csrf_token)
    principal.require(Permission.SITREP_WRITE)
    values = data.model_dump(exclude={"csrf_token"})
    try:
        if not data.level:
            raise InvalidInput("choose a level", errors=[{"field": "level", "message": "choose a level"}])
        body = SitrepIn(
            level=data.level,
            period_start=required_utc(data.period_start, field="period_start"),
            period_end=required_utc(data.period_end, field="period_end"),
            title=data.title.strip() or None,
            tlp=data.tlp or TLP.GREEN.value,
        )
        s = sitreps.draft(db, actor=principal, data=body, settings=_settings(request))
    except (InvalidInput, Conflict, PermissionDenied) as exc:
        db.rollback()
        form = failed(exc, values)
        # The audience comes from the level: an unknown community is the level's problem.
        if "communities" in form.errors:
            form.errors["level"] = form.errors.pop("communities")
        return _new_form(request, db, form, status=exc.status)
    return see_other(f"/sitreps/{s.id}")


# --- one report -----------------------------------------------------------------------------------------------


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


def _tables(picture: aggregate.Picture, scale: list[str]) -> list[ShownTable]:
    return [
        ShownTable(
            key=t.key,
            title=t.title,
            columns=[(k, label, k in NUMERIC) for k, label in t.columns],
            rows=[ShownRow([_cell(k, r.cells.get(k), scale) for k, _ in t.columns], r.sources) for r in t.rows],
        )
        for t in picture.tables
    ]


def _map_table(picture: aggregate.Picture, scale: list[str]) -> ShownTable:
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


def _all_tables(picture: aggregate.Picture, scale: list[str]) -> list[ShownTable]:
    return [_headline_table(picture), _map_table(picture, scale), *_tables(picture, scale)]


def _label_sources(db: Session, sitrep_id: str, build: int, tables: list[ShownTable], *, limit: int | None) -> None:
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


def _heat_table(picture: aggregate.Picture) -> dict[str, Any]:
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


def _figure_changes(changes: list[FieldChange], picture: aggregate.Picture) -> list[dict[str, Any]]:
    """Text changes as diffs; a headline number as before/after; a table as the rows it lost and gained."""
    names = {f"headline.{n.key}": f"Headline: {n.label}" for n in picture.headline}
    names.update({f"table.{t.key}": f"Table: {t.title}" for t in picture.tables})
    out: list[dict[str, Any]] = []
    for ch in changes:
        label = TEXT_LABELS.get(ch.field) or names.get(ch.field) or ch.field.replace(".", ": ").replace("-", " ")
        if ch.diff is not None:
            out.append({"field": label, "diff": [(diff_line_class(line), line) for line in ch.diff]})
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


def _timeline(db: Session, principal: Principal, sitrep: Sitrep) -> dict[str, Any]:
    events = audit.timeline(db, reader=principal, object_id=sitrep.id)
    mine = principal.org_id == sitrep.owner_org_id
    orgs = queries.org_refs(db, (e.actor_org_id or "" for e in events))
    emails = queries.user_emails(db, (e.actor_user_id or "" for e in events if e.actor_org_id == principal.org_id))
    entries: list[dict[str, Any]] = []
    for e in events:
        # The level and the period are at the top of the page.
        summary = {k: v for k, v in e.summary.items() if k not in ("level", "period")}
        if not mine:
            summary.pop("sources", None)  # counts the sources the drafter saw, some of which this reader may not
        entries.append(
            {
                "at": e.occurred_at,
                "what": EVENT_LABELS.get(e.tag, e.tag),
                "org": orgs.get(e.actor_org_id or ""),
                "user": emails.get(e.actor_user_id or ""),
                "summary": summary,
            }
        )
    return {"timeline": entries, "timeline_names": queries.org_names_in(db, (e["summary"] for e in entries))}


def _version_rows(db: Session, principal: Principal, sitrep: Sitrep) -> list[dict[str, Any]]:
    versions = sitreps.versions_for(db, principal, sitrep)
    mine = principal.org_id == sitrep.owner_org_id
    people = queries.user_emails(db, [x for v in versions for x in (v.created_by_id or "", v.approved_by_id or "")])
    return [
        {
            "n": v.number,
            "state": v.state,
            "at": v.created_at,
            "build": v.build,
            "by": people.get(v.created_by_id or "") if mine else None,
            "approved_by": people.get(v.approved_by_id or "") if mine else None,
        }
        for v in versions
    ]


def render_sitrep(
    request: Request,
    db: Session,
    principal: Principal,
    sitrep_id: str,
    *,
    version: int | None = None,
    compare: str = "",
    text_form: FormState | None = None,
    action_error: tuple[str, str] | None = None,
    code: int = 200,
) -> Response:
    settings = _settings(request)
    view = sitreps.view(db, reader=principal, sitrep_id=sitrep_id, settings=settings, version=version)
    s, v, picture = view.sitrep, view.version, view.picture
    scale = contributions.scale_of(settings)
    tables = _tables(picture, scale)
    map_table = _map_table(picture, scale)
    _label_sources(db, s.id, v.build, [*tables, map_table], limit=MAX_LINKS)
    mine = principal.org_id == s.owner_org_id
    current = v.number == s.current_version
    comparison: dict[str, Any] | None = None
    if compare:
        try:
            a, b = parse_compare(compare)
            changes = sitreps.diff(db, reader=principal, sitrep_id=s.id, a=a, b=b, settings=settings)
            comparison = {"a": a, "b": b, "rows": _figure_changes(changes, picture)}
        except (InvalidInput, NotFound) as exc:
            comparison, code = {"error": exc.detail}, exc.status
    owner = queries.org_refs(db, [s.owner_org_id]).get(s.owner_org_id)
    names = queries.community_names(db)
    author_id = v.created_by_id
    approver = mine and current and principal.has(Permission.SITREP_APPROVE)
    # A political report is published with its audience's figures: the approver sees them before publishing.
    preview = None
    if approver and v.state == SitrepState.APPROVED.value and s.level in audience.AUDIENCE_LEVELS:
        preview = sitreps.preview(db, actor=principal, sitrep_id=s.id, version=v.number, settings=settings)
    # svg.py escapes every text it draws and carries no script or style: the template places them as they are.
    map_svg = svg.country_map(picture.countries, by="status", scale=scale, title="National status")
    heat_svg = svg.heatmap(picture.heat, sectors=taxonomies.nis2_sectors())
    return render(
        request,
        "sitrep.html",
        {
            "mode": "report",
            "view": view,
            "s": s,
            "v": v,
            "picture": picture,
            "level_title": sitreps.LEVEL_TITLE[s.level],
            "owner": owner,
            "mine": mine,
            "current": current,
            "asked_version": version,
            "versions": _version_rows(db, principal, s),
            "text": {k: v.text.get(k, "") for k in TEXT_LABELS},
            "tables": tables,
            "map_table": map_table,
            "heat": _heat_table(picture),
            "map_svg": map_svg,
            "heat_svg": heat_svg,
            "audience": [names.get(c, c) for c in s.audience.get("communities", [])],
            "audience_orgs": [o.short_name for o in queries.org_refs(db, s.audience.get("organisations", [])).values()],
            "can_edit": mine and current and principal.has(Permission.SITREP_WRITE),
            "can_approve": approver and v.state == SitrepState.DRAFT.value,
            "can_publish": approver and v.state == SitrepState.APPROVED.value,
            "audience_preview": preview,
            "four_eyes": settings.sitrep_four_eyes,
            "i_wrote_it": author_id is not None and author_id == principal.user_id,
            "approve_warning": APPROVE_WARNING,
            "text_form": text_form or FormState(values={"version": s.current_version, **v.text}),
            "text_labels": TEXT_LABELS,
            "action_error": action_error,
            "comparison": comparison,
            "pdf_url": f"/api/v1/sitreps/{s.id}/pdf?version={v.number}",
            **_timeline(db, principal, s),
        },
        status=code,
    )


@router.get("/sitreps/{sitrep_id}", response_class=HTMLResponse)
def sitrep_page(
    *,
    sitrep_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    version: Annotated[int | None, Query(ge=1)] = None,
    compare: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    return render_sitrep(request, db, principal, sitrep_id, version=version, compare=compare)


@router.get("/sitreps/{sitrep_id}/sources", response_class=HTMLResponse)
def sitrep_sources(
    *,
    sitrep_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    table: Annotated[str, Query(max_length=64)] = "",
    row: Annotated[int, Query(ge=0, le=100_000)] = 0,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """Every source of one figure row, as this reader sees the report."""
    settings = _settings(request)
    view = sitreps.view(db, reader=principal, sitrep_id=sitrep_id, settings=settings, version=version)
    tables = {t.key: t for t in _all_tables(view.picture, contributions.scale_of(settings))}
    found = tables.get(table)
    if found is None or row >= len(found.rows):
        raise NotFound(f"no row {row} in a table '{table[:64]}' of this report")
    picked = ShownTable(found.key, found.title, found.columns, [found.rows[row]])
    _label_sources(db, view.sitrep.id, view.version.build, [picked], limit=None)
    return render(
        request,
        "sitrep.html",
        {
            "mode": "sources",
            "view": view,
            "s": view.sitrep,
            "v": view.version,
            "level_title": sitreps.LEVEL_TITLE[view.sitrep.level],
            "table": picked,
            "row": picked.rows[0],
            "asked_version": version,
        },
    )


# --- actions on a report --------------------------------------------------------------------------------------


def _back(sitrep_id: str, anchor: str = "") -> Response:
    return see_other(f"/sitreps/{sitrep_id}{anchor}")


@router.post("/sitreps/{sitrep_id}/edit")
def edit_sitrep(
    *, sitrep_id: str, request: Request, db: DB, principal: PagePrincipal, data: Annotated[TextForm, Form()]
) -> Response:
    check_csrf(request, db, data.csrf_token)
    changes: dict[str, str | None] = {k: getattr(data, k).strip() for k in TEXT_LABELS}
    try:
        sitreps.edit(db, actor=principal, sitrep_id=sitrep_id, version=data.version, changes=changes)
    except (InvalidInput, Conflict, PermissionDenied) as exc:
        db.rollback()
        form = failed(exc, data.model_dump(exclude={"csrf_token"}))
        if isinstance(exc, Conflict):
            form.message = (
                f"This report was changed by someone else since you opened it (you edited version {data.version}). "
                "Nothing was saved: copy your text, reload the page, and apply your change again."
            )
        # Refused for who they are (not the drafting organisation): there is no form to show it next to.
        refused = ("edit", exc.detail) if isinstance(exc, PermissionDenied) else None
        return render_sitrep(request, db, principal, sitrep_id, text_form=form, action_error=refused, code=exc.status)
    return _back(sitrep_id)


def _action(
    request: Request,
    db: Session,
    principal: Principal,
    sitrep_id: str,
    what: str,
    version: int,
    previewed: str | None = None,
) -> Response:
    settings = _settings(request)
    try:
        if what == "rebuild":
            sitreps.rebuild(db, actor=principal, sitrep_id=sitrep_id, version=version)
        elif what == "approve":
            sitreps.approve(db, actor=principal, sitrep_id=sitrep_id, version=version, settings=settings)
        else:
            sitreps.publish(
                db,
                actor=principal,
                sitrep_id=sitrep_id,
                version=version,
                settings=settings,
                previewed=previewed or None,
            )
    except (InvalidInput, Conflict, PermissionDenied) as exc:
        db.rollback()
        return render_sitrep(request, db, principal, sitrep_id, action_error=(what, exc.detail), code=exc.status)
    return _back(sitrep_id)


@router.post("/sitreps/{sitrep_id}/rebuild")
def rebuild_sitrep(
    *, sitrep_id: str, request: Request, db: DB, principal: PagePrincipal, csrf_token: Csrf = "", version: Version = 0
) -> Response:
    check_csrf(request, db, csrf_token)
    return _action(request, db, principal, sitrep_id, "rebuild", version)


@router.post("/sitreps/{sitrep_id}/approve")
def approve_sitrep(
    *, sitrep_id: str, request: Request, db: DB, principal: PagePrincipal, csrf_token: Csrf = "", version: Version = 0
) -> Response:
    check_csrf(request, db, csrf_token)
    return _action(request, db, principal, sitrep_id, "approve", version)


@router.post("/sitreps/{sitrep_id}/publish")
def publish_sitrep(
    *,
    sitrep_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Csrf = "",
    version: Version = 0,
    previewed: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    check_csrf(request, db, csrf_token)
    return _action(request, db, principal, sitrep_id, "publish", version, previewed)
