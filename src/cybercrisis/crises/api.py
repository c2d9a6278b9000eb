"""Crises API: open a crisis, escalate and de-escalate it, record decisions, track actions; the crisis room."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select

from cybercrisis.access import sharing
from cybercrisis.access.policy import read_filter
from cybercrisis.access.schemas import SharingIn
from cybercrisis.answers.models import Answer
from cybercrisis.config import Settings
from cybercrisis.crises import actions, decisions, escalations, governance, room, service
from cybercrisis.crises.deps import CurrentCrisis
from cybercrisis.crises.escalation import model_for
from cybercrisis.crises.models import Action, Decision, Escalation
from cybercrisis.crises.room_cache import RoomCache
from cybercrisis.crises.schemas import (
    ActionIn,
    ActionOut,
    ActionPatch,
    ActionsStatusIn,
    CloseIn,
    CommissionRoleIn,
    ConsultationIn,
    CrisisIn,
    CrisisOut,
    CrisisPage,
    CrisisPatch,
    CrisisSummary,
    DecisionIn,
    DecisionOut,
    EscalationIn,
    EscalationModelOut,
    EscalationOut,
    IncidentLinks,
    PhaseIn,
    StageOut,
    VerdictIn,
)
from cybercrisis.db import utcnow
from cybercrisis.deps import DB, CurrentPrincipal
from cybercrisis.schemas import AnswerOut

router = APIRouter(prefix="/api/v1", tags=["crises"])


def _settings(request: Request) -> Settings:
    s: Settings = request.app.state.settings
    return s


@router.get("/escalation-model", operation_id="escalation_model", response_model=EscalationModelOut)
def escalation_model(db: DB, principal: CurrentPrincipal, request: Request) -> EscalationModelOut:
    """The deployment's own escalation model: stages in order, who must agree to enter and leave each, who is told."""
    model = model_for(_settings(request))
    names = room.Names(db)
    names.load([o for s in model.stages for o in (*s.approvers, *s.exit_approvers)])
    return EscalationModelOut(
        note=model.note,
        stages=[
            StageOut(
                key=s.key,
                label=s.label,
                level=s.level,
                community=s.community,
                approvers=[names.ref(o) for o in s.approvers],
                exit_approvers=[names.ref(o) for o in s.exit_approvers],
                notify=list(s.notify),
            )
            for s in model.stages
        ],
    )


@router.post("/crises", status_code=201, operation_id="open_crisis", response_model=CrisisOut)
def open_crisis(body: CrisisIn, db: DB, principal: CurrentPrincipal, request: Request) -> CrisisOut:
    """Open a crisis from incidents (or from nothing: a threat may come first), saying why it is one."""
    crisis = service.open_crisis(db, actor=principal, data=body, settings=_settings(request))
    return room.room(db, principal, crisis.id, _settings(request))


@router.get("/crises", operation_id="list_crises", response_model=CrisisPage)
def list_crises(
    db: DB,
    principal: CurrentPrincipal,
    request: Request,
    status: Annotated[str | None, Query(description="open or closed")] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CrisisPage:
    found = service.list_crises(
        db, principal=principal, filters=service.CrisisFilters(status=status), cursor=cursor, limit=limit
    )
    page = found.items
    model = model_for(_settings(request))
    names = room.Names(db)
    names.load([c.owner_org_id for c in page])
    items = []
    for c in page:
        try:
            stage = model.stage(c.stage)
            level, label = stage.level, stage.label
        except KeyError:
            level, label = "unknown", c.stage
        items.append(
            CrisisSummary(
                id=c.id,
                title=c.title,
                level=level,
                stage=c.stage,
                stage_label=label,
                phase=c.phase,
                status=c.status,
                tlp=c.tlp,
                owner=names.ref(c.owner_org_id),
                incidents=found.incidents.get(c.id, 0),
                created=c.created_at,
                modified=c.modified_at,
            )
        )
    return CrisisPage(items=items, next=found.next)


@router.get("/crises/{crisis_id}", operation_id="get_crisis", response_model=CrisisOut)
def get_crisis(crisis_id: str, db: DB, principal: CurrentPrincipal, request: Request) -> Response:
    """The crisis room: level, phase, linked incidents, reports, warnings, requests, statements, decisions,
    actions and timeline, each limited to what the reader may see."""
    cache: RoomCache = request.app.state.room_cache
    return Response(cache.entry(db, principal, crisis_id, _settings(request))[1], media_type="application/json")


@router.patch("/crises/{crisis_id}", operation_id="update_crisis", response_model=CrisisOut)
def update_crisis(
    crisis_id: str, body: CrisisPatch, db: DB, principal: CurrentPrincipal, request: Request
) -> CrisisOut:
    service.update(db, actor=principal, crisis_id=crisis_id, patch=body)
    return room.room(db, principal, crisis_id, _settings(request))


@router.put("/crises/{crisis_id}/sharing", operation_id="share_crisis", response_model=CrisisOut)
def share_crisis(crisis_id: str, body: SharingIn, db: DB, principal: CurrentPrincipal, request: Request) -> CrisisOut:
    """Change the marking and audience (originator only); its escalations, decisions and actions follow."""
    service.set_sharing(db, actor=principal, crisis_id=crisis_id, tlp=body.tlp, share_with=body.share_with)
    return room.room(db, principal, crisis_id, _settings(request))


@router.post("/crises/{crisis_id}/incidents", operation_id="link_crisis_incidents", response_model=list[str])
def link_incidents(
    crisis_id: str, body: IncidentLinks, request: Request, db: DB, principal: CurrentPrincipal
) -> list[str]:
    """Link more incidents; returns the ones newly linked. The crisis owner links any incident it may read; an
    organisation taking part in the crisis links its own organisation's incidents."""
    return service.link_incidents(
        db, actor=principal, crisis_id=crisis_id, incident_ids=body.incidents, settings=_settings(request)
    )


@router.delete("/crises/{crisis_id}/incidents/{incident_id}", status_code=204, operation_id="unlink_crisis_incident")
def unlink_incident(crisis_id: str, incident_id: str, db: DB, principal: CurrentPrincipal) -> None:
    service.unlink_incident(db, actor=principal, crisis_id=crisis_id, incident_id=incident_id)


@router.post("/crises/{crisis_id}/close", operation_id="close_crisis", response_model=CrisisOut)
def close_crisis(crisis_id: str, body: CloseIn, db: DB, principal: CurrentPrincipal, request: Request) -> CrisisOut:
    service.close(db, actor=principal, crisis_id=crisis_id, rationale=body.rationale, settings=_settings(request))
    return room.room(db, principal, crisis_id, _settings(request))


@router.post("/crises/{crisis_id}/reopen", operation_id="reopen_crisis", response_model=CrisisOut)
def reopen_crisis(crisis_id: str, body: CloseIn, db: DB, principal: CurrentPrincipal, request: Request) -> CrisisOut:
    service.reopen(db, actor=principal, crisis_id=crisis_id, rationale=body.rationale, settings=_settings(request))
    return room.room(db, principal, crisis_id, _settings(request))


@router.post(
    "/crises/{crisis_id}/phase", status_code=201, operation_id="change_crisis_phase", response_model=DecisionOut
)
def change_phase(crisis_id: str, body: PhaseIn, db: DB, principal: CurrentPrincipal, request: Request) -> DecisionOut:
    """Move the crisis to another phase (preparedness, detection, response, recovery): a recorded decision."""
    d = decisions.change_phase(
        db,
        actor=principal,
        crisis_id=crisis_id,
        phase=body.phase,
        rationale=body.rationale,
        settings=_settings(request),
    )
    names = room.Names(db)
    names.load(d.decided_by)
    return room.decision_out(d, names)


@router.post("/crises/{crisis_id}/commission-role", operation_id="set_commission_role", response_model=DecisionOut)
def set_commission_role(
    crisis_id: str, body: CommissionRoleIn, db: DB, principal: CurrentPrincipal, request: Request
) -> DecisionOut:
    """Record whether the Commission takes part in EU-CyCLONe as a member or an observer in this crisis (NIS2
    Art. 16(2)): a member where a potential or ongoing large-scale incident has or is likely to have a significant
    impact on services within NIS2's scope, otherwise an observer. A deciding member of EU-CyCLONe or the crisis
    owner records it; the answer is the decision entry it leaves in the log. While observer, the Commission does
    not decide at the operational level."""
    settings = _settings(request)
    governance.set_commission_role(
        db, actor=principal, crisis_id=crisis_id, role=body.role, rationale=body.rationale, settings=settings
    )
    latest = select(Decision).where(Decision.crisis_id == crisis_id)
    d = db.scalars(latest.order_by(Decision.decided_at.desc(), Decision.id.desc())).first()
    assert d is not None
    names = room.Names(db)
    names.load(d.decided_by)
    return room.decision_out(d, names)


# --- escalation ----------------------------------------------------------------------------------------------


def _escalation(db: DB, principal: CurrentPrincipal, request: Request, escalation_id: str) -> EscalationOut:
    esc = sharing.get_readable(db, principal, Escalation, escalation_id)
    return room.escalation_outs(db, [esc], model_for(_settings(request)), room.Names(db), principal)[0]


@router.post(
    "/crises/{crisis_id}/escalations", status_code=201, operation_id="propose_escalation", response_model=EscalationOut
)
def propose_escalation(
    crisis_id: str, body: EscalationIn, db: DB, principal: CurrentPrincipal, request: Request
) -> EscalationOut:
    """Propose moving the crisis to another stage, level or mechanism of the deployment's escalation model.

    The answer is `pending` while organisations the model names (e.g. the Council Presidency for IPCR) have not
    agreed, or `done` when nobody else had to agree."""
    esc = escalations.propose_escalation(
        db,
        actor=principal,
        crisis_id=crisis_id,
        to=body.to,
        rationale=body.rationale,
        settings=_settings(request),
        share_with_approvers=body.share_with_approvers,
    )
    return _escalation(db, principal, request, esc.id)


@router.get("/crises/{crisis_id}/escalations", operation_id="list_escalations", response_model=list[EscalationOut])
def list_escalations(
    crisis: CurrentCrisis, db: DB, principal: CurrentPrincipal, request: Request
) -> list[EscalationOut]:
    return room.escalation_outs(
        db, room.escalations_of(db, principal, [crisis.id]), model_for(_settings(request)), room.Names(db), principal
    )


@router.post(
    "/crises/{crisis_id}/escalations/{escalation_id}/approve",
    operation_id="approve_escalation",
    response_model=EscalationOut,
)
def approve_escalation(
    crisis_id: str,
    escalation_id: str,
    db: DB,
    principal: CurrentPrincipal,
    request: Request,
    body: VerdictIn | None = None,
) -> EscalationOut:
    """Your organisation agrees to the step. When the last required organisation agrees, it is done.

    On a crisis held at another node (`held_at` on the crisis), the agreement is sent to that node, which applies it
    under its own escalation model: the step is returned unchanged, with `answer` saying whether it is queued,
    applied or refused; the move changes here when that node's new version arrives (ADR 0013)."""
    escalations.answer_escalation(
        db,
        actor=principal,
        crisis_id=crisis_id,
        escalation_id=escalation_id,
        agree=True,
        comment=body.comment if body else "",
        settings=_settings(request),
    )
    return _escalation(db, principal, request, escalation_id)


@router.post(
    "/crises/{crisis_id}/escalations/{escalation_id}/consultations",
    status_code=201,
    operation_id="record_consultation",
    response_model=EscalationOut,
)
def record_consultation(
    crisis_id: str, escalation_id: str, body: ConsultationIn, db: DB, principal: CurrentPrincipal, request: Request
) -> EscalationOut:
    """Record a consultation held before agreeing to a pending step (who was consulted, when, and their view).

    IPCR (Council Implementing Decision (EU) 2018/1993, IPCR arrangements): information-sharing mode is activated by
    the Presidency, or by the GSC, the Commission services or the EEAS in consultation with the Presidency; full
    activation is decided by the Presidency after consulting the affected Member States, the Commission and the High
    Representative. An agreement before the consultations the step names is refused with 409 naming the missing
    ones. Recorded by an organisation that may agree to the step, or by the consulted organisation itself."""
    governance.record_consultation(db, actor=principal, crisis_id=crisis_id, escalation_id=escalation_id, data=body)
    return _escalation(db, principal, request, escalation_id)


@router.post(
    "/crises/{crisis_id}/escalations/{escalation_id}/reject",
    operation_id="reject_escalation",
    response_model=EscalationOut,
)
def reject_escalation(
    crisis_id: str, escalation_id: str, body: VerdictIn, db: DB, principal: CurrentPrincipal, request: Request
) -> EscalationOut:
    """Your organisation does not agree (say why): the step is not taken, and that is a recorded decision. On a
    crisis held at another node, sent there like an agreement (see approve_escalation)."""
    escalations.answer_escalation(
        db,
        actor=principal,
        crisis_id=crisis_id,
        escalation_id=escalation_id,
        agree=False,
        comment=body.comment,
        settings=_settings(request),
    )
    return _escalation(db, principal, request, escalation_id)


@router.post(
    "/crises/{crisis_id}/escalations/{escalation_id}/withdraw",
    operation_id="withdraw_escalation",
    response_model=EscalationOut,
)
def withdraw_escalation(
    crisis_id: str, escalation_id: str, db: DB, principal: CurrentPrincipal, request: Request
) -> EscalationOut:
    escalations.withdraw_escalation(db, actor=principal, crisis_id=crisis_id, escalation_id=escalation_id)
    return _escalation(db, principal, request, escalation_id)


# --- decisions and actions -----------------------------------------------------------------------------------


@router.post(
    "/crises/{crisis_id}/decisions",
    status_code=201,
    operation_id="record_decision",
    response_model=DecisionOut,
    responses={
        202: {
            "model": AnswerOut,
            "description": "the crisis is held at another node (`held_at`): the decision is sent there, which records "
            "it; `state` says whether it is queued, applied or refused (ADR 0013)",
        }
    },
)
def record_decision(
    crisis_id: str, body: DecisionIn, db: DB, principal: CurrentPrincipal, request: Request
) -> DecisionOut | JSONResponse:
    """Record a decision at a level: what was decided, the options considered and why. Political measures such
    as cyber diplomacy toolbox options are recorded here (kind political-measure), never automated. On a crisis
    held at another node, a deciding organisation's decision is sent there (202 with the answer); the crisis's
    `answers` lists it until that node has recorded or refused it."""
    d = decisions.record_decision(db, actor=principal, crisis_id=crisis_id, data=body, settings=_settings(request))
    if isinstance(d, Answer):
        return JSONResponse(status_code=202, content=AnswerOut.of(d).model_dump(mode="json"))
    names = room.Names(db)
    names.load(d.decided_by)
    return room.decision_out(d, names)


@router.get("/crises/{crisis_id}/decisions", operation_id="list_decisions", response_model=list[DecisionOut])
def list_decisions(
    crisis: CurrentCrisis, db: DB, principal: CurrentPrincipal, level: str | None = None
) -> list[DecisionOut]:
    q = select(Decision).where(Decision.crisis_id == crisis.id, read_filter(principal, Decision))
    if level:
        q = q.where(Decision.level == level)
    rows = list(db.scalars(q.order_by(Decision.decided_at.desc(), Decision.id)))
    names = room.Names(db)
    names.load([o for d in rows for o in d.decided_by])
    return [room.decision_out(d, names) for d in rows]


@router.post("/crises/{crisis_id}/actions", status_code=201, operation_id="create_action", response_model=ActionOut)
def create_action(crisis_id: str, body: ActionIn, request: Request, db: DB, principal: CurrentPrincipal) -> ActionOut:
    """Give an organisation an action with a due time; it is reminded before, and flagged when overdue. The crisis
    owner and the organisations taking part in the crisis record actions."""
    a = actions.create_action(db, actor=principal, crisis_id=crisis_id, data=body, settings=_settings(request))
    names = room.Names(db)
    names.load([a.assignee_org_id])
    return room.action_out(a, names, utcnow())


@router.get("/crises/{crisis_id}/actions", operation_id="list_actions", response_model=list[ActionOut])
def list_actions(crisis: CurrentCrisis, db: DB, principal: CurrentPrincipal) -> list[ActionOut]:
    rows = list(
        db.scalars(
            select(Action)
            .where(Action.crisis_id == crisis.id, read_filter(principal, Action))
            .order_by(Action.due_at.is_(None), Action.due_at, Action.id)
        )
    )
    names = room.Names(db)
    names.load([a.assignee_org_id for a in rows])
    now = utcnow()
    return [room.action_out(a, names, now) for a in rows]


@router.post("/crises/{crisis_id}/actions/status", operation_id="update_actions_status", response_model=list[ActionOut])
def update_actions_status(
    crisis_id: str, body: ActionsStatusIn, db: DB, principal: CurrentPrincipal
) -> list[ActionOut]:
    """One status for several actions of the crisis at once, each with the `version` you read. All or none: the
    first that may not change (not yours to update, changed since, not of this crisis) refuses the batch with its
    own status, named as `actions[i]`."""
    changed = actions.update_statuses(
        db, actor=principal, crisis_id=crisis_id, items=[(a.id, a.version) for a in body.actions], status=body.status
    )
    names = room.Names(db)
    names.load([a.assignee_org_id for a in changed])
    now = utcnow()
    return [room.action_out(a, names, now) for a in changed]


@router.patch("/actions/{action_id}", operation_id="update_action", response_model=ActionOut)
def update_action(action_id: str, body: ActionPatch, db: DB, principal: CurrentPrincipal) -> ActionOut:
    """Change an action's status (open, in-progress, done, cancelled), text, due time or owner."""
    a = actions.update_action(db, actor=principal, action_id=action_id, patch=body)
    names = room.Names(db)
    names.load([a.assignee_org_id])
    return room.action_out(a, names, utcnow())
