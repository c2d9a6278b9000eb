"""EU situation report pages: the list, drafting, one report as this reader sees it, its sources, versions and
the editing, rebuilding, approval and publication forms (ADR 0006).

Figures come from `sitreps.view`, computed for the reader from the sources they may see; every write goes through
`situation.sitreps`, as the API does. A refused action comes back on the page with its message and nothing written.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from cybercrisis import taxonomies
from cybercrisis.access.permissions import Permission
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.config import Settings
from cybercrisis.db import utcnow
from cybercrisis.deps import DB
from cybercrisis.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from cybercrisis.pagination import Page
from cybercrisis.schemas import held_at
from cybercrisis.situation import aggregate, audience, contributions, sitrep_versions, sitreps, svg
from cybercrisis.situation.actions import allowed_actions
from cybercrisis.situation.forms import FIELD_ALIASES, NewSitrepForm, SitrepTextForm, parse_compare
from cybercrisis.situation.listing import ListedSitrep, list_sitreps
from cybercrisis.situation.schemas import SitrepIn
from cybercrisis.situation.sitrep_tables import (
    TEXT_LABELS,
    ShownTable,
    all_tables,
    figure_changes,
    heat_table,
    label_sources,
    map_table,
    tables_of,
)
from cybercrisis.web import queries
from cybercrisis.web.forms import FORM_REFUSALS, FormState, local_minutes, required_utc
from cybercrisis.web.pagedeps import CSRF, PagePrincipal, see_other
from cybercrisis.web.render import render
from cybercrisis.web.timeline import object_timeline

router = APIRouter(include_in_schema=False, dependencies=[CSRF])
LIST_SIZE = 200
MAX_LINKS = 10  # source links per figure row; the rest are one click away
Version = Annotated[int, Form(ge=0)]
LEVEL_HELP = {
    "technical": "For the CSIRTs Network: incidents by class and Member State, observables and vulnerabilities "
    "seen in several Member States, correlated incidents.",
    "operational": "For EU-CyCLONe: national status, impact by sector, services disrupted, needs, outlook.",
    "political": "For the IPCR: what happened, how bad, where it is going, what may need deciding.",
}
EVENT_LABELS = {
    "situation:sitrep:create": "Drafted",
    "situation:sitrep:edit": "Text edited",
    "situation:sitrep:rebuild": "Rebuilt from the latest inputs",
    "situation:sitrep:approve": "Approved",
    "situation:sitrep:publish": "Published",
}
# The audience comes from the level: a complaint about the recipients is the level's problem.
_LEVEL_ALIASES = {**{k: "level" if v == "communities" else v for k, v in FIELD_ALIASES.items()}, "communities": "level"}
APPROVE_WARNING = "Approving: check that the text does not reveal anything from sources the audience may not see."


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
    error, code = None, 200
    page: Page[ListedSitrep] = Page(items=[], next=None)
    try:
        page = list_sitreps(db, principal=principal, level=level or None, cursor=None, limit=LIST_SIZE)
    except InvalidInput as exc:  # a hand-edited address: the page with the message rather than an error page
        error, code = exc.detail, 422
    items = [
        {
            "s": x.sitrep,
            "title": x.title,
            "state": x.state,
            "version": x.version.number if x.version else None,
            "mine": x.sitrep.owner_org_id == principal.org_id,
        }
        for x in page.items
    ]
    return render(
        request,
        "sitreps.html",
        {
            "items": items,
            "level": level,
            "levels": [(lv["value"], f"{lv['label']}: {lv['product']}") for lv in _levels(db)],
            "error": error,
            "owners": queries.org_refs(db, (x.sitrep.owner_org_id for x in page.items)),
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
def create_sitrep(
    *, request: Request, db: DB, principal: PagePrincipal, data: Annotated[NewSitrepForm, Form()]
) -> Response:
    principal.require(Permission.SITREP_WRITE)
    values = data.entered()
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
    except FORM_REFUSALS as exc:
        db.rollback()
        form = FormState.failed(exc, values, aliases=_LEVEL_ALIASES)
        return _new_form(request, db, form, status=exc.status)
    return see_other(f"/sitreps/{s.id}")


# --- one report -----------------------------------------------------------------------------------------------


def _version_rows(db: Session, principal: Principal, view: sitreps.SitrepView) -> list[dict[str, Any]]:
    versions = sitrep_versions.versions_for(db, principal, view.sitrep)
    mine = principal.org_id == view.sitrep.owner_org_id
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


def _timeline(db: Session, principal: Principal, view: sitreps.SitrepView) -> dict[str, Any]:
    mine = principal.org_id == view.sitrep.owner_org_id

    def omit(key: str, _value: Any) -> bool:
        # The level and the period are at the top of the page; `sources` counts the sources the drafter saw, some
        # of which another reader may not.
        return key in ("level", "period") or (key == "sources" and not mine)

    return object_timeline(db, principal, view.sitrep.id, labels=EVENT_LABELS, omit=omit)


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
    tables = tables_of(picture, scale)
    countries = map_table(picture, scale)
    label_sources(db, s.id, v.build, [*tables, countries], limit=MAX_LINKS)
    acts = allowed_actions(principal, s, v)
    comparison: dict[str, Any] | None = None
    if compare:
        try:
            a, b = parse_compare(compare)
            changes = sitrep_versions.diff(db, reader=principal, sitrep_id=s.id, a=a, b=b, settings=settings)
            comparison = {"a": a, "b": b, "rows": figure_changes(changes, picture)}
        except (InvalidInput, NotFound) as exc:
            comparison, code = {"error": exc.detail}, exc.status
    names = queries.community_names(db)
    # A political report is published with its audience's figures: the approver sees them before publishing.
    preview = None
    if "publish" in acts and s.level in audience.AUDIENCE_LEVELS:
        preview = sitreps.preview(db, actor=principal, sitrep_id=s.id, version=v.number, settings=settings)
    return render(
        request,
        "sitrep.html",
        {
            "mode": "report",
            "view": view,
            "s": s,
            "held": (held := held_at(db, s)),
            "held_org": queries.held_by(db, held),
            "v": v,
            "picture": picture,
            "level_title": sitreps.LEVEL_TITLE[s.level],
            "owner": queries.org_refs(db, [s.owner_org_id]).get(s.owner_org_id),
            "mine": principal.org_id == s.owner_org_id,
            "current": v.number == s.current_version,
            "asked_version": version,
            "versions": _version_rows(db, principal, view),
            "text": {k: v.text.get(k, "") for k in TEXT_LABELS},
            "tables": tables,
            "map_table": countries,
            "heat": heat_table(picture),
            # svg.py escapes every text it draws and carries no script or style: the template places them as is.
            "map_svg": svg.country_map(picture.countries, by="status", scale=scale, title="National status"),
            "heat_svg": svg.heatmap(picture.heat, sectors=taxonomies.nis2_sectors()),
            "audience": [names.get(c, c) for c in s.audience.get("communities", [])],
            "audience_orgs": [o.short_name for o in queries.org_refs(db, s.audience.get("organisations", [])).values()],
            "can_edit": "edit" in acts,
            "can_approve": "approve" in acts,
            "can_publish": "publish" in acts,
            "audience_preview": preview,
            "four_eyes": settings.sitrep_four_eyes,
            "i_wrote_it": v.created_by_id is not None and v.created_by_id == principal.user_id,
            "approve_warning": APPROVE_WARNING,
            "text_form": text_form or FormState(values={"version": s.current_version, **v.text}),
            "text_labels": TEXT_LABELS,
            "action_error": action_error,
            "comparison": comparison,
            "pdf_url": f"/api/v1/sitreps/{s.id}/pdf?version={v.number}",
            **_timeline(db, principal, view),
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
    tables = {t.key: t for t in all_tables(view.picture, contributions.scale_of(settings))}
    found = tables.get(table)
    if found is None or row >= len(found.rows):
        raise NotFound(f"no row {row} in a table '{table[:64]}' of this report")
    picked = ShownTable(found.key, found.title, found.columns, [found.rows[row]])
    label_sources(db, view.sitrep.id, view.version.build, [picked], limit=None)
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


@router.post("/sitreps/{sitrep_id}/edit")
def edit_sitrep(
    *, sitrep_id: str, request: Request, db: DB, principal: PagePrincipal, data: Annotated[SitrepTextForm, Form()]
) -> Response:
    changes: dict[str, str | None] = {k: getattr(data, k).strip() for k in TEXT_LABELS}
    try:
        sitreps.edit(db, actor=principal, sitrep_id=sitrep_id, version=data.version, changes=changes)
    except FORM_REFUSALS as exc:
        db.rollback()
        form = FormState.failed(exc, data.entered(), aliases=FIELD_ALIASES)
        if isinstance(exc, Conflict):
            form.message = (
                f"This report was changed by someone else since you opened it (you edited version {data.version}). "
                "Nothing was saved: copy your text, reload the page, and apply your change again."
            )
        # Refused for who they are (not the drafting organisation): there is no form to show it next to.
        refused = ("edit", exc.detail) if isinstance(exc, PermissionDenied) else None
        return render_sitrep(request, db, principal, sitrep_id, text_form=form, action_error=refused, code=exc.status)
    return see_other(f"/sitreps/{sitrep_id}")


def _action(
    request: Request, db: Session, principal: Principal, sitrep_id: str, what: str, version: int, previewed: str = ""
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
    except FORM_REFUSALS as exc:
        db.rollback()
        return render_sitrep(request, db, principal, sitrep_id, action_error=(what, exc.detail), code=exc.status)
    return see_other(f"/sitreps/{sitrep_id}")


@router.post("/sitreps/{sitrep_id}/rebuild")
def rebuild_sitrep(
    *, sitrep_id: str, request: Request, db: DB, principal: PagePrincipal, version: Version = 0
) -> Response:
    return _action(request, db, principal, sitrep_id, "rebuild", version)


@router.post("/sitreps/{sitrep_id}/approve")
def approve_sitrep(
    *, sitrep_id: str, request: Request, db: DB, principal: PagePrincipal, version: Version = 0
) -> Response:
    return _action(request, db, principal, sitrep_id, "approve", version)


@router.post("/sitreps/{sitrep_id}/publish")
def publish_sitrep(
    *,
    sitrep_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    version: Version = 0,
    previewed: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    return _action(request, db, principal, sitrep_id, "publish", version, previewed)
