"""Incidents API: record, classify, report, assess, correlate, search; taxonomies and deadlines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from cybercrisis import taxonomies
from cybercrisis.access import sharing
from cybercrisis.access.models import Share
from cybercrisis.access.principal import Principal
from cybercrisis.access.schemas import SharingIn
from cybercrisis.audit import service as audit
from cybercrisis.audit.reading import timeline_out
from cybercrisis.db import utcnow
from cybercrisis.deps import DB, CurrentPrincipal
from cybercrisis.incidents import fields, recurrence, service, significance
from cybercrisis.incidents.assessment import Thresholds
from cybercrisis.incidents.deps import CurrentIncident
from cybercrisis.incidents.models import Incident, Report
from cybercrisis.incidents.schemas import (
    ClusterOut,
    CorrelationOut,
    CorrelationsOut,
    DeadlineOut,
    IncidentIn,
    IncidentOut,
    IncidentPage,
    IncidentPatch,
    IncidentSummary,
    IntermediateRequestIn,
    ObservableIn,
    ObservableOut,
    ReportIn,
    ReportOut,
    SignificanceDecisionOut,
    SignificanceIn,
    SignificanceOut,
)
from cybercrisis.schemas import Strict, TimelineEntry, held_at

router = APIRouter(prefix="/api/v1", tags=["incidents"])


def thresholds(request: Request) -> Thresholds:
    s = request.app.state.settings
    return Thresholds.from_settings(s)


def report_out(r: Report) -> ReportOut:
    return ReportOut(
        id=r.id,
        kind=r.kind,
        due_at=r.due_at,
        requested_at=r.requested_at,
        submitted_at=r.submitted_at,
        submitted_by=r.submitted_by_id,
        status=r.status_at(utcnow()),
        version=r.version,
        content=r.content,
    )


def incident_out(
    db: DB, i: Incident, t: Thresholds, principal: Principal, shares: Sequence[Share] | None = None
) -> IncidentOut:
    """`shares`: the share list when the caller has it (loaded with the incident); else it is read here, after
    any change the request made to it."""
    return IncidentOut(
        id=i.id,
        title=i.title,
        description=i.description,
        status=i.status,
        tlp=i.tlp,
        pap=i.pap,
        owner=i.owner_org_id,
        created_by=i.created_by_id,
        created=i.created_at,
        modified=i.modified_at,
        version=i.version,
        aware_at=i.aware_at,
        occurred_at=i.occurred_at,
        handled_at=i.handled_at,
        countries=i.countries,
        sectors=i.sectors,
        entity_name=i.entity_name,
        entity=i.entity_org_id,
        entity_type=i.entity_type,
        entity_category=i.entity_category,
        rsit_class=i.rsit_class,
        rsit_type=i.rsit_type,
        root_cause=i.root_cause,
        threat_severity=i.threat_severity,
        impact_severity=i.impact_severity,
        outlook=i.outlook,
        suspected_malicious=i.suspected_malicious,
        cross_border=i.cross_border,
        exceeds_national_capacity=i.exceeds_national_capacity,
        tags=fields.derived_tags(i),
        facts=i.facts,
        observables=[ObservableOut(type=o.type, value=o.value) for o in service.observables_of(db, i.id)],
        reports=[report_out(r) for r in service.reports_of(db, i.id)],
        share_with=sharing.share_list(sharing.shares_of(db, i.id) if shares is None else shares),
        assessment=recurrence.assess(db, i, principal=principal, thresholds=t).as_dict(),
        significance=i.significance,
        apparent_root_cause=i.apparent_root_cause,
        held_at=held_at(db, i),
    )


def significance_out(db: DB, i: Incident, t: Thresholds, principal: Principal) -> SignificanceOut:
    return SignificanceOut(
        incident=i.id,
        significance=i.significance,
        meaning=significance.MEANING[i.significance],
        clocks_run=significance.clocks_run(i),
        exercise=i.exercise,
        suggestion=recurrence.assess(db, i, principal=principal, thresholds=t).as_dict(),
        decisions=[
            SignificanceDecisionOut(
                value=d.value,
                previous=d.previous,
                reason=d.reason,
                decided_at=d.decided_at,
                decided_by=d.decided_by_id,
                decided_by_org=d.decided_by_org_id,
                suggestion=d.suggestion,
            )
            for d in significance.history(db, i)
        ],
    )


@router.get("/taxonomies", operation_id="list_taxonomies", tags=["taxonomies"])
def list_taxonomies(principal: CurrentPrincipal) -> list[dict[str, Any]]:
    """The namespaces in use (rsit, nis, nis2, tlp, PAP) with their predicates and values, from pytaxonomies."""
    return taxonomies.as_json()


@router.post("/incidents", status_code=201, operation_id="create_incident", response_model=IncidentOut)
def create_incident(body: IncidentIn, db: DB, principal: CurrentPrincipal, request: Request) -> IncidentOut:
    incident = service.create_incident(db, actor=principal, data=body)
    return incident_out(db, incident, thresholds(request), principal)


@router.get("/incidents", operation_id="list_incidents", response_model=IncidentPage)
def list_incidents(
    db: DB,
    principal: CurrentPrincipal,
    status: str | None = None,
    country: str | None = None,
    sector: str | None = None,
    rsit_class: str | None = None,
    tlp: str | None = None,
    overdue: bool = False,
    significance: Annotated[
        str | None,
        Query(
            max_length=32,
            description="reported, significant, not-significant, near-miss or outside-nis2",
            examples=["reported"],
        ),
    ] = None,
    q: Annotated[str | None, Query(max_length=300)] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> IncidentPage:
    f = service.IncidentFilter(
        status=status,
        country=country,
        sector=sector,
        rsit_class=rsit_class,
        tlp=tlp,
        overdue=overdue,
        q=q,
        significance=significance,
    )
    page, overdue_counts = service.list_incidents(db, principal=principal, filters=f, cursor=cursor, limit=limit)
    return IncidentPage(
        items=[
            IncidentSummary(
                id=i.id,
                title=i.title,
                status=i.status,
                tlp=i.tlp,
                owner=i.owner_org_id,
                countries=i.countries,
                sectors=i.sectors,
                rsit_class=i.rsit_class,
                impact_severity=i.impact_severity,
                aware_at=i.aware_at,
                modified=i.modified_at,
                overdue_reports=overdue_counts.get(i.id, 0),
                significance=i.significance,
            )
            for i in page.items
        ],
        next=page.next,
    )


@router.get("/incidents/{incident_id}", operation_id="get_incident", response_model=IncidentOut)
def get_incident(incident: CurrentIncident, db: DB, principal: CurrentPrincipal, request: Request) -> IncidentOut:
    return incident_out(db, incident, thresholds(request), principal, incident.share_rows)


@router.patch("/incidents/{incident_id}", operation_id="update_incident", response_model=IncidentOut)
def update_incident(
    incident_id: str, body: IncidentPatch, db: DB, principal: CurrentPrincipal, request: Request
) -> IncidentOut:
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    incident = service.update_incident(
        db, actor=principal, incident_id=incident_id, version=body.version, changes=changes
    )
    return incident_out(db, incident, thresholds(request), principal)


@router.get(
    "/incidents/{incident_id}/significance", operation_id="get_incident_significance", response_model=SignificanceOut
)
def get_significance(
    incident: CurrentIncident, db: DB, principal: CurrentPrincipal, request: Request
) -> SignificanceOut:
    """The incident's NIS2 significance, what it means, whether the Art. 23(4) clocks run, the rules' suggestion
    and every decision taken so far."""
    return significance_out(db, incident, thresholds(request), principal)


@router.post(
    "/incidents/{incident_id}/significance", operation_id="decide_incident_significance", response_model=SignificanceOut
)
def decide_significance(
    incident_id: str, body: SignificanceIn, db: DB, principal: CurrentPrincipal, request: Request
) -> SignificanceOut:
    """Decide the incident's significance (the recording organisation or the affected entity). `significant` starts
    the NIS2 Art. 23(4) clocks from the entity's awareness (a deadline already past shows as overdue); any other
    value stops the clocks of reports not yet submitted. Exercise incidents never get a deadline. The rules'
    suggestion at that moment is kept with the decision."""
    incident = service.get_incident(db, principal=principal, incident_id=incident_id)
    t = thresholds(request)
    suggestion = recurrence.assess(db, incident, principal=principal, thresholds=t).as_dict()
    significance.decide(
        db, actor=principal, incident_id=incident_id, value=body.value, reason=body.reason, suggestion=suggestion
    )
    return significance_out(db, incident, t, principal)


@router.post(
    "/incidents/{incident_id}/reports", status_code=201, operation_id="submit_report", response_model=ReportOut
)
def submit_report(incident_id: str, body: ReportIn, db: DB, principal: CurrentPrincipal) -> ReportOut:
    return report_out(service.submit_report(db, actor=principal, incident_id=incident_id, data=body))


@router.post(
    "/incidents/{incident_id}/reports/intermediate-request",
    status_code=201,
    operation_id="request_intermediate_report",
    response_model=ReportOut,
)
def request_intermediate(
    incident_id: str, body: IntermediateRequestIn, db: DB, principal: CurrentPrincipal
) -> ReportOut:
    return report_out(service.request_intermediate(db, actor=principal, incident_id=incident_id, due_at=body.due_at))


class ObservablesIn(Strict):
    observables: list[ObservableIn]


@router.post("/incidents/{incident_id}/observables", operation_id="add_observables")
def add_observables(incident_id: str, body: ObservablesIn, db: DB, principal: CurrentPrincipal) -> dict[str, int]:
    """Add observables to the incident (its recording organisation and its affected entity). Values are
    normalised (defanged forms such as `hxxp://evil[.]example` are accepted); a value it already has is not added
    twice. Returns how many were added."""
    return {"added": service.add_observables(db, actor=principal, incident_id=incident_id, items=body.observables)}


@router.post("/incidents/{incident_id}/observables/remove", operation_id="remove_observables")
def remove_observables(incident_id: str, body: ObservablesIn, db: DB, principal: CurrentPrincipal) -> dict[str, int]:
    """Remove observables from the incident (the same writers as adding them), by type and value, normalised as
    when added. A value the incident does not have is ignored; the value stays on other incidents that have it.
    Returns how many were removed; the incident's timeline records the removal."""
    return {"removed": service.remove_observables(db, actor=principal, incident_id=incident_id, items=body.observables)}


@router.put("/incidents/{incident_id}/sharing", operation_id="share_incident", response_model=IncidentOut)
def share_incident(
    incident_id: str, body: SharingIn, db: DB, principal: CurrentPrincipal, request: Request
) -> IncidentOut:
    """Replace the incident's marking and its whole list of recipients: only its originating organisation may
    (403 otherwise). What each TLP admits is enforced (no community on AMBER+STRICT, named people only on RED:
    422 naming `share_with.communities` or `share_with.organisations`). Narrowing is allowed: readers taken off
    lose access at once, here and, at the next sync, at every peer node."""
    incident = service.set_incident_sharing(
        db, actor=principal, incident_id=incident_id, tlp=body.tlp, share_with=body.share_with
    )
    return incident_out(db, incident, thresholds(request), principal)


@router.get(
    "/incidents/{incident_id}/correlations", operation_id="incident_correlations", response_model=CorrelationsOut
)
def incident_correlations(incident_id: str, db: DB, principal: CurrentPrincipal) -> CorrelationsOut:
    items = service.correlations(db, principal=principal, incident_id=incident_id)
    members = service.cluster(db, principal=principal, incident_id=incident_id)
    countries = sorted({c for m in members for c in m.countries})
    return CorrelationsOut(
        items=[
            CorrelationOut(
                incident=c.incident.id,
                title=c.incident.title,
                owner=c.incident.owner_org_id,
                countries=c.incident.countries,
                observables=c.values,
            )
            for c in items
        ],
        cluster=ClusterOut(
            incidents=sorted(m.id for m in members), countries=countries, cross_border=len(countries) >= 2
        ),
    )


class EscalateIn(Strict):
    community: str = "csirts-network"


@router.post("/incidents/{incident_id}/escalate", operation_id="escalate_incident", response_model=IncidentOut)
def escalate(incident_id: str, body: EscalateIn, db: DB, principal: CurrentPrincipal, request: Request) -> IncidentOut:
    incident = service.escalate(db, actor=principal, incident_id=incident_id, community=body.community)
    return incident_out(db, incident, thresholds(request), principal)


@router.get("/incidents/{incident_id}/timeline", operation_id="incident_timeline", response_model=list[TimelineEntry])
def incident_timeline(incident_id: str, db: DB, principal: CurrentPrincipal) -> list[TimelineEntry]:
    incident = service.get_incident(db, principal=principal, incident_id=incident_id)
    ids = service.timeline_ids(db, incident, principal)
    return [timeline_out(e) for e in audit.timeline_of(db, reader=principal, object_ids=ids)]


@router.get("/deadlines", operation_id="list_deadlines", response_model=list[DeadlineOut])
def list_deadlines(
    db: DB,
    principal: CurrentPrincipal,
    status: Annotated[str | None, Query(pattern="^(overdue|due-soon|open)$")] = None,
    hours: Annotated[int, Query(ge=1, le=24 * 31)] = 24,
) -> list[DeadlineOut]:
    """Open NIS2 reports of incidents you may see: `overdue`, `due-soon` (within `hours`) or all `open`."""
    now = utcnow()
    return [
        DeadlineOut(
            incident=i.id,
            incident_title=i.title,
            owner=i.owner_org_id,
            report=r.id,
            kind=r.kind,
            due_at=r.due_at,
            status=r.status_at(now),
        )
        for r, i in service.deadlines_for(db, principal=principal, status=status, soon_hours=hours)
    ]
