"""EU situation reports API: drafting, editing, rebuilding, approving, previewing and publishing a report, its
versions, changes, timeline and briefing PDF (ADR 0006)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from cybercrisis.access.principal import Principal
from cybercrisis.audit import service as audit
from cybercrisis.audit.reading import timeline_out
from cybercrisis.config import Settings
from cybercrisis.deps import DB, CurrentPrincipal
from cybercrisis.directory.models import Organisation
from cybercrisis.schemas import TimelineEntry, held_at
from cybercrisis.situation import aggregate, contributions, sitreps
from cybercrisis.situation import sitrep_versions as versions
from cybercrisis.situation.deps import CurrentSitrep
from cybercrisis.situation.listing import list_sitreps as list_page
from cybercrisis.situation.schemas import (
    DiffOut,
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


# --- situation reports ------------------------------------------------------------------------------------------


def sitrep_out(db: DB, v: sitreps.SitrepView, reader: Principal) -> SitrepOut:
    s = v.sitrep
    shares, audience = versions.share_list_of(db, s)
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
        held_at=held_at(db, s),
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
    page = list_page(db, principal=principal, level=level, cursor=cursor, limit=limit)
    items = [
        SitrepSummary(
            id=x.sitrep.id,
            level=x.sitrep.level,
            period_start=x.sitrep.period_start,
            period_end=x.sitrep.period_end,
            state=x.state,
            title=x.title,
            tlp=x.sitrep.tlp,
            owner=x.sitrep.owner_org_id,
            current_version=x.shown or 0,
            published_version=x.sitrep.published_version,
            published_at=x.sitrep.published_at,
            modified=x.sitrep.modified_at,
        )
        for x in page.items
    ]
    return SitrepPage(items=items, next=page.next)


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
def sitrep_versions(s: CurrentSitrep, db: DB, principal: CurrentPrincipal) -> list[VersionOut]:
    return [
        VersionOut(
            version=v.number,
            created_at=v.created_at,
            created_by=v.created_by_id,
            state=v.state,
            build=v.build,
            approved_by=v.approved_by_id,
        )
        for v in versions.versions_for(db, principal, s)
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
    changes = versions.diff(
        db, reader=principal, sitrep_id=sitrep_id, a=from_version, b=to_version, settings=_settings(request)
    )
    return DiffOut(from_version=from_version, to_version=to_version, changes=changes)


@router.get("/sitreps/{sitrep_id}/timeline", operation_id="sitrep_timeline", response_model=list[TimelineEntry])
def sitrep_timeline(s: CurrentSitrep, db: DB, principal: CurrentPrincipal) -> list[TimelineEntry]:
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
