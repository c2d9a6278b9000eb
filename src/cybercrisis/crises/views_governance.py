"""The crisis room's forms that steer the crisis: proposing, answering and withdrawing moves, the consultations
before an activation and the Commission's role (IPCR arrangements, NIS2 Art. 16(2)), decisions, phase changes and
actions. Each calls the crises services as the API does; a refusal shows the room again (`views_room`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from cybercrisis.access import sharing
from cybercrisis.answers.models import Answer
from cybercrisis.crises import actions, decisions, escalations, governance
from cybercrisis.crises.deps import PageCrisis
from cybercrisis.crises.forms import (
    ActionForm,
    ActionStatusForm,
    AnswerForm,
    DecisionForm,
    EscalateForm,
    PhaseForm,
    to_action_in,
    to_decision_in,
)
from cybercrisis.crises.models import Action
from cybercrisis.crises.schemas import ActionPatch, ConsultationIn
from cybercrisis.crises.views_room import back, refused_on_room, settings_of
from cybercrisis.deps import DB
from cybercrisis.errors import InvalidInput, NotFound
from cybercrisis.web.forms import FORM_REFUSALS, bad, require_filled
from cybercrisis.web.pagedeps import CSRF, PagePrincipal, see_other

router = APIRouter(include_in_schema=False, dependencies=[CSRF])


def _invalid(exc: ValidationError) -> InvalidInput:
    errors = [{"field": str(e["loc"][0]), "message": str(e["msg"])} for e in exc.errors()]
    return InvalidInput(errors[0]["message"], errors=errors)


@router.post("/crises/{crisis_id}/escalations")
def propose_escalation(
    *, crisis_id: str, request: Request, db: DB, principal: PagePrincipal, data: Annotated[EscalateForm, Form()]
) -> Response:
    values = data.entered()
    try:
        require_filled(
            to=(data.to, "choose the stage to move to"), rationale=(data.rationale, "say why it should move")
        )
        esc = escalations.propose_escalation(
            db,
            actor=principal,
            crisis_id=crisis_id,
            to=data.to,
            rationale=data.rationale.strip(),
            settings=settings_of(request),
            share_with_approvers=bool(data.share_with_approvers),
        )
    except FORM_REFUSALS as exc:
        return refused_on_room(request, db, principal, crisis_id, "escalate", exc, values)
    return back(crisis_id, "moved" if esc.state == "done" else "proposed", "escalations")


@router.post("/crises/{crisis_id}/escalations/{escalation_id}/answer")
def answer_escalation(
    *,
    crisis_id: str,
    escalation_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    data: Annotated[AnswerForm, Form()],
) -> Response:
    values = data.entered()
    try:
        if data.verdict not in ("agree", "reject"):
            raise InvalidInput(
                "choose Agree or Do not agree", errors=[{"field": "comment", "message": "choose Agree or Do not agree"}]
            )
        esc = escalations.answer_escalation(
            db,
            actor=principal,
            crisis_id=crisis_id,
            escalation_id=escalation_id,
            agree=data.verdict == "agree",
            comment=data.comment.strip(),
            settings=settings_of(request),
        )
    except FORM_REFUSALS as exc:
        return refused_on_room(request, db, principal, crisis_id, "answer", exc, values)
    done = (
        "sent"
        if esc.origin_node is not None
        else "rejected"
        if data.verdict == "reject"
        else "moved"
        if esc.state == "done"
        else "agreed"
    )
    if data.back == "/my-work":
        return see_other(f"/my-work?done={done}")
    return back(crisis_id, done, "escalations")


@router.post("/crises/{crisis_id}/escalations/{escalation_id}/withdraw")
def withdraw_escalation(
    *, crisis_id: str, escalation_id: str, request: Request, db: DB, principal: PagePrincipal
) -> Response:
    try:
        escalations.withdraw_escalation(db, actor=principal, crisis_id=crisis_id, escalation_id=escalation_id)
    except FORM_REFUSALS as exc:
        return refused_on_room(request, db, principal, crisis_id, "withdraw", exc, {})
    return back(crisis_id, "withdrawn", "escalations")


@router.post("/crises/{crisis_id}/decisions")
def record_decision(
    *, crisis_id: str, request: Request, db: DB, principal: PagePrincipal, data: Annotated[DecisionForm, Form()]
) -> Response:
    values = data.entered()
    try:
        body = to_decision_in(data)
        made = decisions.record_decision(
            db, actor=principal, crisis_id=crisis_id, data=body, settings=settings_of(request)
        )
    except FORM_REFUSALS as exc:
        return refused_on_room(request, db, principal, crisis_id, "decision", exc, values)
    return back(crisis_id, "decision-sent" if isinstance(made, Answer) else "decision", "decisions")


@router.post("/crises/{crisis_id}/phase")
def change_phase(
    *, crisis_id: str, request: Request, db: DB, principal: PagePrincipal, data: Annotated[PhaseForm, Form()]
) -> Response:
    values = data.entered()
    try:
        require_filled(
            phase=(data.phase, "choose the new phase"), rationale=(data.rationale, "say why the phase changes")
        )
        decisions.change_phase(
            db,
            actor=principal,
            crisis_id=crisis_id,
            phase=data.phase,
            rationale=data.rationale.strip(),
            settings=settings_of(request),
        )
    except FORM_REFUSALS as exc:
        return refused_on_room(request, db, principal, crisis_id, "phase", exc, values)
    return back(crisis_id, "phase", "overview")


@router.post("/crises/{crisis_id}/actions")
def create_action(
    *, crisis_id: str, request: Request, db: DB, principal: PagePrincipal, data: Annotated[ActionForm, Form()]
) -> Response:
    values = data.entered()
    try:
        body = to_action_in(data)
        actions.create_action(db, actor=principal, crisis_id=crisis_id, data=body, settings=settings_of(request))
    except FORM_REFUSALS as exc:
        return refused_on_room(request, db, principal, crisis_id, "action", exc, values)
    return back(crisis_id, "action", "actions")


@router.post("/crises/{crisis_id}/actions/{action_id}/status")
def update_action_status(
    *,
    crisis_id: str,
    action_id: str,
    crisis: PageCrisis,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    data: Annotated[ActionStatusForm, Form()],
) -> Response:
    values = {"action": action_id, **data.entered()}
    action = sharing.get_readable(db, principal, Action, action_id)
    if action.crisis_id != crisis.id:
        raise NotFound(f"no action {action_id} in this crisis")
    try:
        actions.update_action(
            db,
            actor=principal,
            action_id=action.id,
            patch=ActionPatch(version=data.version, status=data.status or None),
        )
    except FORM_REFUSALS as exc:
        return refused_on_room(request, db, principal, crisis_id, "action-status", exc, values)
    return back(crisis_id, "action-updated", "actions")


@router.post("/crises/{crisis_id}/actions/status")
def update_selected_actions(
    *,
    crisis_id: str,
    crisis: PageCrisis,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    actions_: Annotated[list[str] | None, Form(alias="actions", max_length=200)] = None,
    status: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """The actions table's "Apply to selected": each ticked action carries the version the page showed."""
    items: list[tuple[str, int]] = []
    for value in actions_ or []:
        action_id, _, version = value.rpartition(":")
        items.append((action_id, int(version) if version.isdigit() else -1))
    values = {"status": status}
    try:
        if not items:
            raise bad("actions", "tick the actions to change")
        actions.update_statuses(db, actor=principal, crisis_id=crisis.id, items=items, status=status)
    except FORM_REFUSALS as exc:
        return refused_on_room(request, db, principal, crisis_id, "actions-status", exc, values)
    return back(crisis_id, "actions-updated", "actions")


@router.post("/crises/{crisis_id}/escalations/{escalation_id}/consultations")
def record_consultation(
    *,
    crisis_id: str,
    escalation_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    consulted: Annotated[str, Form(max_length=120)] = "",
    view: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    values = {"consulted": consulted, "view": view}
    try:
        try:
            data = ConsultationIn(consulted=consulted, view=view.strip())
        except ValidationError as exc:
            raise _invalid(exc) from None
        governance.record_consultation(db, actor=principal, crisis_id=crisis_id, escalation_id=escalation_id, data=data)
    except FORM_REFUSALS as exc:
        return refused_on_room(request, db, principal, crisis_id, "consult", exc, values)
    return back(crisis_id, "consulted", "escalations")


@router.post("/crises/{crisis_id}/commission-role")
def set_commission_role(
    *,
    crisis_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    role: Annotated[str, Form(max_length=16)] = "",
    rationale: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    values = {"role": role, "rationale": rationale}
    try:
        if not rationale.strip():
            raise InvalidInput("say why (NIS2 Art. 16(2))", errors=[{"field": "rationale", "message": "say why"}])
        governance.set_commission_role(
            db,
            actor=principal,
            crisis_id=crisis_id,
            role=role,
            rationale=rationale.strip(),
            settings=settings_of(request),
        )
    except FORM_REFUSALS as exc:
        return refused_on_room(request, db, principal, crisis_id, "commission-role", exc, values)
    return back(crisis_id, "commission-role", "overview")
