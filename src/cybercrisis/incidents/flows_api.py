"""NIS2 Art. 23 flows between authorities: inform other Member States and ENISA (23(6)), SPOC forwarding (23(8)),
the quarterly summary to ENISA (23(9)). The rules are in incidents/flows*.py; this module parses and renders."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cybercrisis.access import sharing
from cybercrisis.deps import DB, CurrentPrincipal
from cybercrisis.incidents import flows, flows_forwarding, flows_summary
from cybercrisis.incidents.flow_models import Forwarding, MemberStateInformation, QuarterlySummary
from cybercrisis.incidents.flow_schemas import (
    FlowsOut,
    ForwardingOut,
    ForwardingRequestIn,
    InformIn,
    InformOut,
    QuarterIn,
    SummaryFigures,
    SummaryOut,
    ToInformOut,
)

# Registered before the incidents router: `/incidents/to-inform` must not be read as an incident id.
router = APIRouter(prefix="/api/v1", tags=["nis2 flows"])


def inform_out(db: DB, s: MemberStateInformation) -> InformOut:
    return InformOut(
        id=s.id,
        incident=s.incident_id,
        tlp=s.tlp,
        owner=s.owner_org_id,
        created_by=s.created_by_id,
        informed_at=s.informed_at,
        member_states=s.member_states,
        enisa_informed=s.enisa_informed,
        incident_shared=s.incident_shared,
        recipients=s.recipient_org_ids,
        summary=s.summary,
        withheld_reason=s.withheld_reason,
        exercise=s.exercise,
        share_with=sharing.share_list(sharing.shares_of(db, s.id)),
    )


def forwarding_out(db: DB, f: Forwarding) -> ForwardingOut:
    return ForwardingOut(
        id=f.id,
        incident=f.incident_id,
        status=f.status,
        tlp=f.tlp,
        owner=f.owner_org_id,
        created_by=f.created_by_id,
        spoc=f.spoc_org_id,
        member_states=f.member_states,
        note=f.note,
        requested_at=f.requested_at,
        forwarded_at=f.forwarded_at,
        forwarded_by=f.forwarded_by_id,
        targets=f.target_org_ids,
        exercise=f.exercise,
        share_with=sharing.share_list(sharing.shares_of(db, f.id)),
    )


def summary_out(db: DB, s: QuarterlySummary) -> SummaryOut:
    return SummaryOut(
        id=s.id,
        quarter=s.quarter,
        tlp=s.tlp,
        owner=s.owner_org_id,
        created_by=s.created_by_id,
        submitted_at=s.submitted_at,
        supersedes=s.supersedes_id,
        figures=SummaryFigures.model_validate(s.figures),
        share_with=sharing.share_list(sharing.shares_of(db, s.id)),
    )


@router.get("/incidents/to-inform", operation_id="list_incidents_to_inform", response_model=list[ToInformOut])
def list_to_inform(db: DB, principal: CurrentPrincipal) -> list[ToInformOut]:
    """Significant incidents of your Member State that concern two or more countries and have no NIS2 Art. 23(6)
    step (informing the other affected Member States and ENISA) that you can see. Exercise data is left out."""
    return [
        ToInformOut(incident=i.id, title=i.title, owner=i.owner_org_id, countries=i.countries, aware_at=i.aware_at)
        for i in flows.to_inform(db, principal=principal)
    ]


@router.post(
    "/incidents/{incident_id}/inform-member-states",
    status_code=201,
    operation_id="inform_member_states",
    response_model=InformOut,
)
def inform_member_states(incident_id: str, body: InformIn, db: DB, principal: CurrentPrincipal) -> InformOut:
    """NIS2 Art. 23(6): record that your CSIRT, competent authority or SPOC informed the other affected Member
    States and/or ENISA of a **significant** incident (409 otherwise). Their SPOCs and national CSIRTs (and ENISA)
    receive this record (TLP:AMBER+STRICT); with `share_incident`, they also read the incident, which needs you to
    be allowed to widen it (403 naming why, e.g. a TLP:RED incident, or an incident you only received)."""
    return inform_out(db, flows.inform_member_states(db, actor=principal, incident_id=incident_id, data=body))


@router.get("/incidents/{incident_id}/nis2-flows", operation_id="incident_nis2_flows", response_model=FlowsOut)
def incident_flows(incident_id: str, db: DB, principal: CurrentPrincipal) -> FlowsOut:
    """The Art. 23(6) informations and Art. 23(8) forwarding requests of an incident that you may read."""
    infos, fws = flows.flows_of(db, principal=principal, incident_id=incident_id)
    return FlowsOut(informations=[inform_out(db, s) for s in infos], forwardings=[forwarding_out(db, f) for f in fws])


@router.post(
    "/incidents/{incident_id}/forwarding-requests",
    status_code=201,
    operation_id="request_forwarding",
    response_model=ForwardingOut,
)
def request_forwarding(
    incident_id: str, body: ForwardingRequestIn, db: DB, principal: CurrentPrincipal
) -> ForwardingOut:
    """NIS2 Art. 23(8): a CSIRT or competent authority asks the single point of contact of its Member State to
    forward the notification of a significant incident to the SPOCs of the Member States named. Your SPOC is let
    read the incident if it does not already (Art. 23(1), third subparagraph); you must be allowed to widen the
    incident to the target SPOCs (403 otherwise), because the SPOC forwards on your behalf."""
    return forwarding_out(
        db, flows_forwarding.request_forwarding(db, actor=principal, incident_id=incident_id, data=body)
    )


@router.post(
    "/nis2/forwarding-requests/{forwarding_id}/forward",
    operation_id="forward_notification",
    response_model=ForwardingOut,
)
def forward(forwarding_id: str, db: DB, principal: CurrentPrincipal) -> ForwardingOut:
    """NIS2 Art. 23(8): the SPOC named on the request forwards: the SPOCs of the Member States named become readers
    of the incident. Only that SPOC may (403 for another Member State's SPOC or any other organisation)."""
    return forwarding_out(db, flows_forwarding.forward(db, actor=principal, forwarding_id=forwarding_id))


@router.get("/nis2/quarterly-summary", operation_id="preview_quarterly_summary", response_model=SummaryFigures)
def preview_summary(
    db: DB,
    principal: CurrentPrincipal,
    quarter: Annotated[str, Query(pattern=r"^\d{4}-Q[1-4]$", examples=["2026-Q4"], description="YYYY-Qn")],
) -> SummaryFigures:
    """NIS2 Art. 23(9): the anonymised, aggregated figures your SPOC would submit to ENISA for a quarter: counts of
    the incidents recorded in the quarter by organisations of your Member State that your SPOC may read, exercise
    data excluded. No names, titles, descriptions or observables. SPOCs only."""
    return SummaryFigures.model_validate(flows_summary.quarterly_figures(db, actor=principal, quarter=quarter))


@router.post(
    "/nis2/quarterly-summaries", status_code=201, operation_id="submit_quarterly_summary", response_model=SummaryOut
)
def submit_summary(body: QuarterIn, db: DB, principal: CurrentPrincipal) -> SummaryOut:
    """NIS2 Art. 23(9): submit the quarter's summary to ENISA: stored as an object (TLP:AMBER+STRICT) shared with
    ENISA. Submitting again for the same quarter supersedes the earlier submission."""
    return summary_out(db, flows_summary.submit_summary(db, actor=principal, quarter=body.quarter))


@router.get("/nis2/quarterly-summaries", operation_id="list_quarterly_summaries", response_model=list[SummaryOut])
def list_summaries(
    db: DB,
    principal: CurrentPrincipal,
    quarter: Annotated[str | None, Query(pattern=r"^\d{4}-Q[1-4]$", examples=["2026-Q4"])] = None,
) -> list[SummaryOut]:
    """Submitted quarterly summaries you may read (your SPOC's own, or those submitted to your organisation)."""
    return [summary_out(db, s) for s in flows_summary.list_summaries(db, principal=principal, quarter=quarter)]
