"""National contributions API: a Member State's input to the EU picture for a reporting period, its versions, and
the closing of reporting periods."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from cybercrisis.access import sharing
from cybercrisis.access.models import Share
from cybercrisis.audit import service as audit
from cybercrisis.audit.reading import timeline_out
from cybercrisis.config import Settings
from cybercrisis.deps import DB, CurrentPrincipal
from cybercrisis.schemas import HeldAt, TimelineEntry, held_at, held_at_many
from cybercrisis.situation import contributions
from cybercrisis.situation.deps import CurrentContribution
from cybercrisis.situation.listing import ContributionFilters
from cybercrisis.situation.listing import list_contributions as list_page
from cybercrisis.situation.models import ClosedPeriod, Contribution
from cybercrisis.situation.schemas import (
    ContributionIn,
    ContributionOut,
    ContributionPage,
    ContributionPatch,
    DiffOut,
    PeriodIn,
    PeriodOut,
    SitrepAction,
    VersionOut,
)

router = APIRouter(prefix="/api/v1", tags=["situation"])


def _settings(request: Request) -> Settings:
    s: Settings = request.app.state.settings
    return s


def contribution_out(
    db: DB,
    c: Contribution,
    shares: list[Share] | None = None,
    *,
    version: int | None = None,
    held: HeldAt | None = None,
) -> ContributionOut:
    """`shares`, `version` and `held`: the object's share rows, shown version and origin when the caller loaded them
    for a whole page (`list_contributions`); else they are read here."""
    if shares is None:
        shares = sharing.shares_of(db, c.id)
        version, held = contributions.shown_versions(db, [c])[c.id], held_at(db, c)
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
        version=c.version if version is None else version,
        share_with=sharing.share_list(shares),
        held_at=held,
    )


# --- contributions ----------------------------------------------------------------------------------------------


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
    filters = ContributionFilters(country=country, state=state, period_from=period_from, period_to=period_to)
    page = list_page(db, principal=principal, filters=filters, cursor=cursor, limit=limit)
    shares = sharing.shares_of_many(db, [c.id for c in page.items])
    shown, held = contributions.shown_versions(db, page.items), held_at_many(db, page.items)
    items = [contribution_out(db, c, shares[c.id], version=shown[c.id], held=held.get(c.id)) for c in page.items]
    return ContributionPage(items=items, next=page.next)


@router.get("/contributions/{contribution_id}", operation_id="get_contribution", response_model=ContributionOut)
def get_contribution(c: CurrentContribution, db: DB) -> ContributionOut:
    return contribution_out(db, c)


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
def contribution_versions(c: CurrentContribution, db: DB) -> list[VersionOut]:
    return [
        VersionOut(version=v.version, created_at=v.created_at, created_by=v.created_by_id, state=v.content.get("state"))
        for v in contributions.versions(db, c.id)
    ]


@router.get("/contributions/{contribution_id}/diff", operation_id="contribution_diff", response_model=DiffOut)
def contribution_diff(
    c: CurrentContribution,
    db: DB,
    from_version: Annotated[int, Query(alias="from", ge=1)],
    to_version: Annotated[int, Query(alias="to", ge=1)],
) -> DiffOut:
    return DiffOut(
        from_version=from_version, to_version=to_version, changes=contributions.diff(db, c.id, from_version, to_version)
    )


@router.get(
    "/contributions/{contribution_id}/timeline",
    operation_id="contribution_timeline",
    response_model=list[TimelineEntry],
)
def contribution_timeline(c: CurrentContribution, db: DB, principal: CurrentPrincipal) -> list[TimelineEntry]:
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
