"""Situational awareness API: national contributions, EU situation reports, the live picture, live events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import select, tuple_
from starlette.concurrency import run_in_threadpool

from cybercrisis.access import sharing
from cybercrisis.access.models import Share
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.audit import service as audit
from cybercrisis.audit.api import timeline_out
from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work
from cybercrisis.deps import DB, CurrentPrincipal, optional_principal
from cybercrisis.directory.countries import normalise_country
from cybercrisis.directory.models import Organisation
from cybercrisis.errors import InvalidInput, NotAuthenticated
from cybercrisis.pagination import cursor_time, decode_cursor, encode_cursor
from cybercrisis.schemas import TimelineEntry
from cybercrisis.situation import aggregate, contributions, sitreps
from cybercrisis.situation.models import ClosedPeriod, Contribution, Sitrep, SitrepVersion
from cybercrisis.situation.schemas import (
    ContributionIn,
    ContributionOut,
    ContributionPage,
    ContributionPatch,
    DiffOut,
    PeriodIn,
    PeriodOut,
    SitrepAction,
    SitrepIn,
    SitrepOut,
    SitrepPage,
    SitrepPatch,
    SitrepPreviewOut,
    SitrepPublish,
    SitrepSummary,
    VersionOut,
)

router = APIRouter(prefix="/api/v1", tags=["situation"])


def _settings(request: Request) -> Settings:
    s: Settings = request.app.state.settings
    return s


def contribution_out(db: DB, c: Contribution, shares: list[Share] | None = None) -> ContributionOut:
    """`shares`: the object's share rows when the caller loaded them for a whole page."""
    if shares is None:
        shares = sharing.shares_of(db, c.id)
    return ContributionOut(
        id=c.id,
        country=c.country,
        period_start=c.period_start,
        period_end=c.period_end,
        state=c.state,
        submitted_at=c.submitted_at,
        status=c.status,
        outlook=c.outlook,
        sectors=c.sectors,
        services_disrupted=c.services_disrupted,
        entities_affected=c.entities_affected,
        incidents=c.incident_ids,
        measures=c.measures,
        needs=c.needs,
        assistance_requested=c.assistance_requested,
        narrative=c.narrative,
        tlp=c.tlp,
        owner=c.owner_org_id,
        created_by=c.created_by_id,
        created=c.created_at,
        modified=c.modified_at,
        version=c.version,
        share_with=sharing.share_list(shares),
    )


# --- contributions ----------------------------------------------------------------------------------------------


@router.get("/situation/scale", operation_id="situation_scale")
def situation_scale(principal: CurrentPrincipal, request: Request) -> dict[str, Any]:
    """The deployment's own status scale (least to most severe), and the other values a contribution takes."""
    from cybercrisis import taxonomies

    return {
        "status": contributions.scale_of(_settings(request)),
        "note": "This scale is the deployment's own; the EU publishes no official alert scale.",
        "outlook": taxonomies.predicate_values("nis", "impact-outlook"),
        "impact": taxonomies.predicate_values("nis", "impact-severity"),
        "sectors": taxonomies.nis2_sectors(),
        "contribution_window_days": _settings(request).contribution_window_days,
    }


@router.post("/contributions", status_code=201, operation_id="create_contribution", response_model=ContributionOut)
def create_contribution(body: ContributionIn, db: DB, principal: CurrentPrincipal, request: Request) -> ContributionOut:
    """Submit (or draft) a national contribution for a reporting period."""
    c = contributions.create(db, actor=principal, data=body, settings=_settings(request))
    return contribution_out(db, c)


@router.get("/contributions", operation_id="list_contributions", response_model=ContributionPage)
def list_contributions(
    db: DB,
    principal: CurrentPrincipal,
    country: str | None = None,
    state: str | None = None,
    period_from: datetime | None = Query(default=None, description="periods ending after this time"),
    period_to: datetime | None = Query(default=None, description="periods starting before this time"),
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ContributionPage:
    q = select(Contribution).where(read_filter(principal, Contribution))
    if country:
        q = q.where(Contribution.country == normalise_country(country, field="country"))
    if state:
        if state not in ("draft", "submitted"):
            raise InvalidInput("state is draft or submitted", errors=[{"field": "state", "message": "invalid"}])
        q = q.where(Contribution.state == state)
    if period_from is not None:
        q = q.where(Contribution.period_end > period_from)
    if period_to is not None:
        q = q.where(Contribution.period_start < period_to)
    after = decode_cursor(cursor, 2)
    if after:
        q = q.where(tuple_(Contribution.period_end, Contribution.id) < tuple_(cursor_time(after[0]), after[1]))
    rows = list(db.scalars(q.order_by(Contribution.period_end.desc(), Contribution.id.desc()).limit(limit + 1)))
    nxt = encode_cursor([rows[limit - 1].period_end.isoformat(), rows[limit - 1].id]) if len(rows) > limit else None
    shares = sharing.shares_of_many(db, [c.id for c in rows[:limit]])
    return ContributionPage(items=[contribution_out(db, c, shares[c.id]) for c in rows[:limit]], next=nxt)


@router.get("/contributions/{contribution_id}", operation_id="get_contribution", response_model=ContributionOut)
def get_contribution(contribution_id: str, db: DB, principal: CurrentPrincipal) -> ContributionOut:
    return contribution_out(db, contributions.get(db, principal, contribution_id))


@router.patch("/contributions/{contribution_id}", operation_id="update_contribution", response_model=ContributionOut)
def update_contribution(
    contribution_id: str, body: ContributionPatch, db: DB, principal: CurrentPrincipal, request: Request
) -> ContributionOut:
    """Change a contribution; each change is a new version (the old ones stay, see /versions and /diff)."""
    c = contributions.update(
        db, actor=principal, contribution_id=contribution_id, patch=body, settings=_settings(request)
    )
    return contribution_out(db, c)


@router.post(
    "/contributions/{contribution_id}/submit", operation_id="submit_contribution", response_model=ContributionOut
)
def submit_contribution(
    contribution_id: str, body: SitrepAction, db: DB, principal: CurrentPrincipal, request: Request
) -> ContributionOut:
    c = contributions.submit(
        db, actor=principal, contribution_id=contribution_id, version=body.version, settings=_settings(request)
    )
    return contribution_out(db, c)


@router.get(
    "/contributions/{contribution_id}/versions", operation_id="contribution_versions", response_model=list[VersionOut]
)
def contribution_versions(contribution_id: str, db: DB, principal: CurrentPrincipal) -> list[VersionOut]:
    c = contributions.get(db, principal, contribution_id)
    return [
        VersionOut(version=v.version, created_at=v.created_at, created_by=v.created_by_id, state=v.content.get("state"))
        for v in contributions.versions(db, c.id)
    ]


@router.get("/contributions/{contribution_id}/diff", operation_id="contribution_diff", response_model=DiffOut)
def contribution_diff(
    contribution_id: str,
    db: DB,
    principal: CurrentPrincipal,
    from_version: Annotated[int, Query(alias="from", ge=1)],
    to_version: Annotated[int, Query(alias="to", ge=1)],
) -> DiffOut:
    c = contributions.get(db, principal, contribution_id)
    return DiffOut(
        from_version=from_version, to_version=to_version, changes=contributions.diff(db, c.id, from_version, to_version)
    )


@router.get(
    "/contributions/{contribution_id}/timeline",
    operation_id="contribution_timeline",
    response_model=list[TimelineEntry],
)
def contribution_timeline(contribution_id: str, db: DB, principal: CurrentPrincipal) -> list[TimelineEntry]:
    c = contributions.get(db, principal, contribution_id)
    return [timeline_out(e) for e in audit.timeline(db, reader=principal, object_id=c.id)]


@router.post("/periods/close", status_code=201, operation_id="close_period", response_model=PeriodOut)
def close_period(body: PeriodIn, db: DB, principal: CurrentPrincipal) -> PeriodOut:
    """Close a reporting period to contributions (the secretariat's cut-off)."""
    row = contributions.close_period(
        db, actor=principal, start=body.period_start, end=body.period_end, reason=body.reason
    )
    return PeriodOut(
        period_start=row.period_start,
        period_end=row.period_end,
        closed_at=row.closed_at,
        closed_by=row.closed_by_id,
        reason=row.reason,
    )


@router.get("/periods/closed", operation_id="list_closed_periods", response_model=list[PeriodOut])
def list_closed_periods(db: DB, principal: CurrentPrincipal) -> list[PeriodOut]:
    rows = db.scalars(select(ClosedPeriod).order_by(ClosedPeriod.period_end.desc()).limit(200))
    return [
        PeriodOut(
            period_start=r.period_start,
            period_end=r.period_end,
            closed_at=r.closed_at,
            closed_by=r.closed_by_id,
            reason=r.reason,
        )
        for r in rows
    ]


# --- situation reports ------------------------------------------------------------------------------------------


def sitrep_out(db: DB, v: sitreps.SitrepView, reader: Principal) -> SitrepOut:
    s = v.sitrep
    shares, audience = sitreps.share_list_of(db, s)
    mine = reader.org_id == s.owner_org_id
    return SitrepOut(
        id=s.id,
        level=s.level,
        period_start=s.period_start,
        period_end=s.period_end,
        state=v.version.state,
        version=v.version.number,
        current_version=s.current_version if mine else None,
        published_version=s.published_version,
        published_at=s.published_at,
        tlp=s.tlp,
        marking=v.marking,
        owner=s.owner_org_id,
        created=s.created_at,
        modified=s.modified_at,
        title=v.title,
        text={k: v.version.text.get(k, "") for k in ("summary", "decisions_needed", "notes")},
        figures=v.picture.as_dict(),
        sources=v.shown,
        share_with=shares,
        audience=audience,
    )


def _current(db: DB, principal: Principal, request: Request, sitrep_id: str) -> SitrepOut:
    """The report as its reader now sees it, after a change."""
    return sitrep_out(
        db, sitreps.view(db, reader=principal, sitrep_id=sitrep_id, settings=_settings(request)), principal
    )


@router.post("/sitreps", status_code=201, operation_id="create_sitrep", response_model=SitrepOut)
def create_sitrep(body: SitrepIn, db: DB, principal: CurrentPrincipal, request: Request) -> SitrepOut:
    """Draft a situation report of one level and period from what the author may see."""
    s = sitreps.draft(db, actor=principal, data=body, settings=_settings(request))
    return _current(db, principal, request, s.id)


@router.get("/sitreps", operation_id="list_sitreps", response_model=SitrepPage)
def list_sitreps(
    db: DB,
    principal: CurrentPrincipal,
    level: str | None = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> SitrepPage:
    q = select(Sitrep).where(read_filter(principal, Sitrep))
    if level:
        q = q.where(Sitrep.level == sitreps._check_level(level))
    after = decode_cursor(cursor, 2)
    if after:
        q = q.where(tuple_(Sitrep.period_end, Sitrep.id) < tuple_(cursor_time(after[0]), after[1]))
    rows = list(db.scalars(q.order_by(Sitrep.period_end.desc(), Sitrep.id.desc()).limit(limit + 1)))
    nxt = encode_cursor([rows[limit - 1].period_end.isoformat(), rows[limit - 1].id]) if len(rows) > limit else None
    shown = {
        s.id: s.current_version if principal.org_id == s.owner_org_id else s.published_version for s in rows[:limit]
    }
    wanted = [(sid, n) for sid, n in shown.items() if n]
    versions = (
        {
            (v.sitrep_id, v.number): v
            for v in db.scalars(
                select(SitrepVersion).where(tuple_(SitrepVersion.sitrep_id, SitrepVersion.number).in_(wanted))
            )
        }
        if wanted
        else {}
    )
    items = []
    for s in rows[:limit]:
        number = shown[s.id]
        v = versions.get((s.id, number)) if number else None
        items.append(
            SitrepSummary(
                id=s.id,
                level=s.level,
                period_start=s.period_start,
                period_end=s.period_end,
                state=v.state if v else s.state,
                title=(v.text.get("title") if v else None) or sitreps.LEVEL_TITLE[s.level],
                tlp=s.tlp,
                owner=s.owner_org_id,
                current_version=number or 0,
                published_version=s.published_version,
                published_at=s.published_at,
                modified=s.modified_at,
            )
        )
    return SitrepPage(items=items, next=nxt)


@router.get("/sitreps/{sitrep_id}", operation_id="get_sitrep", response_model=SitrepOut)
def get_sitrep(
    sitrep_id: str, db: DB, principal: CurrentPrincipal, request: Request, version: int | None = Query(None, ge=1)
) -> SitrepOut:
    """The report as this reader sees it: figures from the sources they may see, each row naming its sources."""
    v = sitreps.view(db, reader=principal, sitrep_id=sitrep_id, version=version, settings=_settings(request))
    return sitrep_out(db, v, principal)


@router.patch("/sitreps/{sitrep_id}", operation_id="edit_sitrep", response_model=SitrepOut)
def edit_sitrep(sitrep_id: str, body: SitrepPatch, db: DB, principal: CurrentPrincipal, request: Request) -> SitrepOut:
    changes = body.model_dump(exclude={"version"})
    sitreps.edit(db, actor=principal, sitrep_id=sitrep_id, version=body.version, changes=changes)
    return _current(db, principal, request, sitrep_id)


@router.post("/sitreps/{sitrep_id}/rebuild", operation_id="rebuild_sitrep", response_model=SitrepOut)
def rebuild_sitrep(
    sitrep_id: str, body: SitrepAction, db: DB, principal: CurrentPrincipal, request: Request
) -> SitrepOut:
    """Take the latest contributions and incidents into a new version."""
    sitreps.rebuild(db, actor=principal, sitrep_id=sitrep_id, version=body.version)
    return _current(db, principal, request, sitrep_id)


@router.post("/sitreps/{sitrep_id}/approve", operation_id="approve_sitrep", response_model=SitrepOut)
def approve_sitrep(
    sitrep_id: str, body: SitrepAction, db: DB, principal: CurrentPrincipal, request: Request
) -> SitrepOut:
    """Approve a version (by default someone other than its author: four eyes)."""
    sitreps.approve(db, actor=principal, sitrep_id=sitrep_id, version=body.version, settings=_settings(request))
    return _current(db, principal, request, sitrep_id)


@router.get("/sitreps/{sitrep_id}/preview", operation_id="preview_sitrep", response_model=SitrepPreviewOut)
def preview_sitrep(
    sitrep_id: str, db: DB, principal: CurrentPrincipal, request: Request, version: Annotated[int, Query(ge=1)]
) -> SitrepPreviewOut:
    """A political report as its audience will see it (the approver's check before publishing): figures from the
    sources every audience organisation may read. Publishing stores exactly this; 422 for other levels."""
    sitrep = sitreps.get(db, principal, sitrep_id)
    seen = sitreps.preview(db, actor=principal, sitrep_id=sitrep_id, version=version, settings=_settings(request))
    marking = aggregate.strictest([sitrep.tlp, seen.picture.marking])
    return SitrepPreviewOut(
        id=sitrep.id,
        version=version,
        level=sitrep.level,
        marking=marking,
        sources=len(seen.source_ids),
        audience=seen.organisations,
        figures=seen.figures,
        digest=seen.digest,
    )


@router.post("/sitreps/{sitrep_id}/publish", operation_id="publish_sitrep", response_model=SitrepOut)
def publish_sitrep(
    sitrep_id: str, body: SitrepPublish, db: DB, principal: CurrentPrincipal, request: Request
) -> SitrepOut:
    """Publish an approved version to the audience of its level; closes the period to contributions. A political
    report is published with the figures of its audience preview (`GET .../preview`); give that preview's `digest`
    as `previewed` to publish exactly what you checked."""
    sitreps.publish(
        db,
        actor=principal,
        sitrep_id=sitrep_id,
        version=body.version,
        settings=_settings(request),
        previewed=body.previewed,
    )
    return _current(db, principal, request, sitrep_id)


@router.get("/sitreps/{sitrep_id}/versions", operation_id="sitrep_versions", response_model=list[VersionOut])
def sitrep_versions(sitrep_id: str, db: DB, principal: CurrentPrincipal) -> list[VersionOut]:
    s = sitreps.get(db, principal, sitrep_id)
    return [
        VersionOut(
            version=v.number,
            created_at=v.created_at,
            created_by=v.created_by_id,
            state=v.state,
            build=v.build,
            approved_by=v.approved_by_id,
        )
        for v in sitreps.versions_for(db, principal, s)
    ]


@router.get("/sitreps/{sitrep_id}/diff", operation_id="sitrep_diff", response_model=DiffOut)
def sitrep_diff(
    sitrep_id: str,
    db: DB,
    principal: CurrentPrincipal,
    request: Request,
    from_version: Annotated[int, Query(alias="from", ge=1)],
    to_version: Annotated[int, Query(alias="to", ge=1)],
) -> DiffOut:
    changes = sitreps.diff(
        db, reader=principal, sitrep_id=sitrep_id, a=from_version, b=to_version, settings=_settings(request)
    )
    return DiffOut(from_version=from_version, to_version=to_version, changes=changes)


@router.get("/sitreps/{sitrep_id}/timeline", operation_id="sitrep_timeline", response_model=list[TimelineEntry])
def sitrep_timeline(sitrep_id: str, db: DB, principal: CurrentPrincipal) -> list[TimelineEntry]:
    s = sitreps.get(db, principal, sitrep_id)
    return [timeline_out(e) for e in audit.timeline(db, reader=principal, object_id=s.id)]


@router.get(
    "/sitreps/{sitrep_id}/pdf",
    operation_id="sitrep_pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "the briefing, TLP-marked on every page"}},
)
def sitrep_pdf(
    sitrep_id: str, db: DB, principal: CurrentPrincipal, request: Request, version: int | None = Query(None, ge=1)
) -> Response:
    """The briefing PDF of the report as this reader sees it, marked on every page."""
    v = sitreps.view(db, reader=principal, sitrep_id=sitrep_id, version=version, settings=_settings(request))
    data = pdf_of(db, v, _settings(request))
    name = f"{v.sitrep.level}-sitrep-{v.sitrep.period_end:%Y%m%d}-v{v.version.number}.pdf"
    return Response(
        data, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


def pdf_of(db: DB, v: sitreps.SitrepView, settings: Settings) -> bytes:
    from cybercrisis.situation.pdf import render_pdf

    owner = db.get(Organisation, v.sitrep.owner_org_id)
    view = {
        "id": v.sitrep.id,
        "level": v.sitrep.level,
        "period_start": v.sitrep.period_start,
        "period_end": v.sitrep.period_end,
        "state": v.version.state,
        "version": v.version.number,
        "published_at": v.sitrep.published_at,
        "owner_name": owner.name if owner else "",
        "marking": v.marking,
        "title": v.title,
        "text": {k: v.version.text.get(k, "") for k in ("summary", "decisions_needed", "notes")},
        "picture": v.picture,
    }
    return render_pdf(view, scale=contributions.scale_of(settings))


# --- the live picture and its events ----------------------------------------------------------------------------


@router.get(
    "/situation",
    operation_id="get_situation",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}, "description": "the live picture"}},
)
def get_situation(db: DB, principal: CurrentPrincipal, request: Request) -> Response:
    """The current picture as this reader may see it: per Member State (keyed by country code), heat map, open
    incidents by severity and class, overdue NIS2 reports, early warnings awaiting acknowledgement, timeline."""
    body: bytes = request.app.state.picture_cache.json(db, principal, _settings(request))
    return Response(body, media_type="application/json", headers={"Cache-Control": "private, no-store"})


@router.get(
    "/events",
    operation_id="stream_events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}},
)
async def stream_events(request: Request) -> StreamingResponse:
    """Server-sent events of changes the reader may see: `id` is the audit sequence number, so a client that
    reconnects with `Last-Event-ID` gets exactly what it missed. Bearer token or the UI session cookie."""
    factory = request.app.state.sessionmaker

    def resolve() -> Principal | None:
        with unit_of_work(factory, write=False) as session:
            try:
                p = optional_principal(request, session)
            except NotAuthenticated:
                return None
            return p if p.is_authenticated else None

    reader = await run_in_threadpool(resolve)
    if reader is None:
        raise NotAuthenticated("sign in, or send an API token as 'Authorization: Bearer <token>'")
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    last: int | None = None
    if raw:
        try:
            last = int(raw)
        except ValueError:
            raise InvalidInput(
                "Last-Event-ID is the number of the last event received",
                errors=[{"field": "Last-Event-ID", "message": "not a number"}],
            ) from None

    async def revalidate() -> Principal | None:
        return await run_in_threadpool(resolve)

    hub = request.app.state.event_hub
    body = hub.stream(reader, last_event_id=last, revalidate=revalidate, is_disconnected=request.is_disconnected)
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(body, media_type="text/event-stream", headers=headers)
