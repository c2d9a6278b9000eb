"""EU-CyCLONe impact assessments API: written by its members, submitted to, discussed and decided by the political
level (NIS2 Art. 16(3)(c), (d))."""

from __future__ import annotations

from fastapi import APIRouter, Request

from cybercrisis.access import sharing
from cybercrisis.access.principal import Principal
from cybercrisis.audit import service as audit
from cybercrisis.audit.reading import timeline_out
from cybercrisis.config import Settings
from cybercrisis.crises import assessment
from cybercrisis.crises.assessment_models import ImpactAssessment
from cybercrisis.crises.assessment_schemas import (
    AssessmentAction,
    AssessmentIn,
    AssessmentOut,
    AssessmentPatch,
    DecideIn,
    DiscussIn,
    ImpactOut,
    OptionOut,
)
from cybercrisis.deps import DB, CurrentPrincipal
from cybercrisis.schemas import TimelineEntry

router = APIRouter(prefix="/api/v1", tags=["crises"])


def _settings(request: Request) -> Settings:
    s: Settings = request.app.state.settings
    return s


def assessment_out(db: DB, reader: Principal, a: ImpactAssessment) -> AssessmentOut:
    return AssessmentOut(
        id=a.id,
        crisis=a.crisis_id,
        title=a.title,
        summary=a.summary,
        impacts=[ImpactOut(**i) for i in a.impacts],
        options=[OptionOut(**o) for o in a.options],
        state=a.state,
        deciders=a.deciders,
        submitted_at=a.submitted_at,
        discussed_at=a.discussed_at,
        discussion=a.discussion,
        decided_at=a.decided_at,
        decided_by=a.decided_by_org_id,
        chosen_option=a.chosen_option,
        decision_rationale=a.decision_rationale,
        tlp=a.tlp,
        owner=a.owner_org_id,
        created_by=a.created_by_id,
        created=a.created_at,
        modified=a.modified_at,
        version=a.version,
        exercise=a.exercise,
        share_with=sharing.share_list(sharing.shares_of(db, a.id)),
        allowed_actions=assessment.allowed_actions(db, reader, a),
    )


@router.post(
    "/crises/{crisis_id}/assessments",
    status_code=201,
    operation_id="create_impact_assessment",
    response_model=AssessmentOut,
)
def create_impact_assessment(crisis_id: str, body: AssessmentIn, db: DB, principal: CurrentPrincipal) -> AssessmentOut:
    """Draft EU-CyCLONe's impact assessment of a crisis with proposed response options (NIS2 Art. 16(3)(c)).
    A member organisation of EU-CyCLONe only (not an observer or the secretariat); 403 for others."""
    a = assessment.create(db, actor=principal, crisis_id=crisis_id, data=body)
    return assessment_out(db, principal, a)


@router.get(
    "/crises/{crisis_id}/assessments", operation_id="list_impact_assessments", response_model=list[AssessmentOut]
)
def list_impact_assessments(crisis_id: str, db: DB, principal: CurrentPrincipal) -> list[AssessmentOut]:
    """The crisis's assessments this reader may read."""
    return [assessment_out(db, principal, a) for a in assessment.list_for_crisis(db, principal, crisis_id)]


@router.get("/assessments/{assessment_id}", operation_id="get_impact_assessment", response_model=AssessmentOut)
def get_impact_assessment(assessment_id: str, db: DB, principal: CurrentPrincipal) -> AssessmentOut:
    return assessment_out(db, principal, assessment.get(db, principal, assessment_id))


@router.patch("/assessments/{assessment_id}", operation_id="edit_impact_assessment", response_model=AssessmentOut)
def edit_impact_assessment(
    assessment_id: str, body: AssessmentPatch, db: DB, principal: CurrentPrincipal
) -> AssessmentOut:
    """Change a draft (the authoring organisation); options are renumbered option-1, option-2, ... in order."""
    return assessment_out(db, principal, assessment.edit(db, actor=principal, assessment_id=assessment_id, patch=body))


@router.post(
    "/assessments/{assessment_id}/submit", operation_id="submit_impact_assessment", response_model=AssessmentOut
)
def submit_impact_assessment(
    assessment_id: str, body: AssessmentAction, db: DB, principal: CurrentPrincipal, request: Request
) -> AssessmentOut:
    """Submit to the political level (the deployment's CYBERCRISIS_POLITICAL_DECIDERS, and the IPCR community where
    the TLP admits communities): they are added as readers and told."""
    a = assessment.submit(
        db, actor=principal, assessment_id=assessment_id, version=body.version, settings=_settings(request)
    )
    return assessment_out(db, principal, a)


@router.post(
    "/assessments/{assessment_id}/discuss", operation_id="discuss_impact_assessment", response_model=AssessmentOut
)
def discuss_impact_assessment(
    assessment_id: str, body: DiscussIn, db: DB, principal: CurrentPrincipal
) -> AssessmentOut:
    """Record that the political level discussed it, and what (the organisations it was submitted to)."""
    a = assessment.discuss(db, actor=principal, assessment_id=assessment_id, version=body.version, notes=body.notes)
    return assessment_out(db, principal, a)


@router.post(
    "/assessments/{assessment_id}/decide", operation_id="decide_impact_assessment", response_model=AssessmentOut
)
def decide_impact_assessment(assessment_id: str, body: DecideIn, db: DB, principal: CurrentPrincipal) -> AssessmentOut:
    """Record which proposed option the political level chose, and why (after its discussion)."""
    a = assessment.decide(
        db,
        actor=principal,
        assessment_id=assessment_id,
        version=body.version,
        option=body.option,
        rationale=body.rationale,
    )
    return assessment_out(db, principal, a)


@router.get(
    "/assessments/{assessment_id}/timeline",
    operation_id="impact_assessment_timeline",
    response_model=list[TimelineEntry],
)
def impact_assessment_timeline(assessment_id: str, db: DB, principal: CurrentPrincipal) -> list[TimelineEntry]:
    a = assessment.get(db, principal, assessment_id)
    return [timeline_out(e) for e in audit.timeline(db, reader=principal, object_id=a.id)]
