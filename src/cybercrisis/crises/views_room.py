"""The crisis room page (ADR 0007): `crises.room.room` as this reader sees it, with the forms it may use.

Every part of the room is filtered in `crises.room` through the access layer; which forms show is what
`crises.rules` allows this reader. A refused form comes back on the room with what was typed and the message next
to its field, and nothing is written; a successful one redirects back to the room with a short note of what happened.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.accounts.models import User
from cybercrisis.config import Settings
from cybercrisis.crises import room, rules
from cybercrisis.crises.audience import audience_orgs
from cybercrisis.crises.escalation import EscalationModel, model_for
from cybercrisis.crises.forms import (
    ACTION_STATUS_LABELS,
    CRITERIA,
    DECISION_KINDS,
    DONE_NOTES,
    DONE_SECTION,
    ESCALATION_STATE_LABELS,
    FORM_TITLES,
    KIND_LABELS,
    PHASE_LABELS,
    PHASES,
    SCALE_NOTE,
)
from cybercrisis.crises.models import CrisisStatus
from cybercrisis.crises.room_cache import RoomCache
from cybercrisis.crises.schemas import CrisisOut
from cybercrisis.deps import DB
from cybercrisis.errors import DomainError
from cybercrisis.web import queries
from cybercrisis.web.forms import FormState
from cybercrisis.web.pagedeps import CSRF, PagePrincipal, see_other
from cybercrisis.web.render import render
from cybercrisis.web.timeline import timeline_rows

router = APIRouter(include_in_schema=False, dependencies=[CSRF])

# Audit tags of a crisis's timeline, in words. Unknown tags (a newer module's) are shown as they are.
EVENT_LABELS = {
    "crises:crisis:create": "Crisis opened",
    "crises:crisis:edit": "Crisis edited",
    "crises:crisis:link": "Incidents linked",
    "crises:crisis:unlink": "Incident unlinked",
    "crises:crisis:share": "Marking or recipients changed",
    "crises:crisis:close": "Crisis closed",
    "crises:crisis:reopen": "Crisis reopened",
    "crises:crisis:phase": "Phase changed",
    "crises:crisis:stage": "Stage changed",
    "crises:escalation:propose": "Move proposed",
    "crises:escalation:agree": "Move agreed",
    "crises:escalation:reject": "Move not agreed",
    "crises:escalation:withdraw": "Proposal withdrawn",
    "crises:escalation:done": "Move took effect",
    "crises:decision:create": "Decision recorded",
    "crises:action:create": "Action assigned",
    "crises:action:update": "Action updated",
}


def settings_of(request: Request) -> Settings:
    s: Settings = request.app.state.settings
    return s


def stage_label(model: EscalationModel, key: str) -> str:
    try:
        return model.stage(key).label
    except KeyError:
        return key


def stages(db: Session, model: EscalationModel, current: str | None = None) -> list[dict[str, Any]]:
    """The model's stages in order, with the organisations that must agree to enter each, by name."""
    names = queries.community_names(db)
    orgs = queries.org_refs(db, [o for s in model.stages for o in s.approvers])
    rank = next((s.rank for s in model.stages if s.key == current), -1)
    return [
        {
            "key": s.key,
            "label": s.label,
            "level": s.level,
            "community": names.get(s.community, s.community) if s.community else None,
            "approvers": [orgs[o].short_name if o in orgs else o for o in s.approvers],
            "current": s.key == current,
            "passed": current is not None and s.rank < rank,
        }
        for s in model.stages
    ]


def _recipients(db: Session, view: CrisisOut) -> queries.Recipients:
    orgs = queries.org_refs(db, view.share_with.organisations)
    names = queries.community_names(db)
    emails = queries.user_emails(db, view.share_with.users)
    return queries.Recipients(
        organisations=sorted(orgs.values(), key=lambda o: o.short_name.lower()),
        communities=sorted((c, names.get(c, c)) for c in view.share_with.communities),
        users=sorted(emails.get(u, "(deleted user)") for u in view.share_with.users),
    )


def _hide_unseen(value: object, seen: set[str]) -> object:
    """An incident id the reader may not see (linked by someone who may) is not shown, not even as an id."""
    if isinstance(value, str) and value.startswith("incident--") and value not in seen:
        return "an incident you may not see"
    if isinstance(value, list):
        return [_hide_unseen(v, seen) for v in value]
    return value


def _timeline(db: Session, principal: Principal, view: CrisisOut, model: EscalationModel) -> dict[str, Any]:
    seen = {i.id for i in view.incidents}
    return timeline_rows(
        db,
        principal,
        view.timeline,
        labels=EVENT_LABELS,
        omit=lambda _key, value: value == view.id,  # the crisis's own id names the page the reader is on
        hide=lambda value: _hide_unseen(value, seen),
        # Linked incidents and decisions by their titles, stages of the scale by their names (not their keys).
        names={i.id: i.title for i in view.incidents}
        | {d.id: f"“{d.title}”" for d in view.decisions}
        | {s.key: s.label for s in model.stages},
    )


def _escalation_rows(view: CrisisOut, model: EscalationModel, principal: Principal) -> list[dict[str, Any]]:
    """Newest first; for a pending one, whether this reader may answer or withdraw it."""
    rows = []
    for e in reversed(view.escalations):
        acts = rules.escalation_actions(
            principal,
            owner_org_id=view.owner.id,
            proposer_org_id=e.proposed_by_org.id,
            waiting_for=[o.id for o in e.waiting_for],
            pending=e.state == "pending",
            held_at=view.held_at.node if view.held_at else None,
        )
        rows.append(
            {
                "e": e,
                "from_label": stage_label(model, e.from_stage),
                "agreed": [a for a in e.approvals if a.verdict == "agree"],
                "refused": [a for a in e.approvals if a.verdict != "agree"],
                # An answer already sent to the node that holds the crisis is shown, not asked again.
                "can_answer": "crisis.escalation.answer" in acts and (e.answer is None or e.answer.state == "refused"),
                "answer": e.answer,
                "can_withdraw": "crisis.escalation.withdraw" in acts,
            }
        )
    return rows


def _escalate_choices(db: Session, view: CrisisOut, model: EscalationModel) -> list[dict[str, Any]]:
    """The stages this reader may propose, each with who must agree to the move."""
    current = model.stage(view.stage)
    targets = [model.stage(k) for k in view.can_escalate_to]
    needed = {t.key: model.required_for(current, t) for t in targets}
    orgs = queries.org_refs(db, [o for req in needed.values() for o in req])
    out = []
    for t in targets:
        who = [orgs[o].short_name if o in orgs else o for o in needed[t.key]]
        direction = "escalate" if t.rank > current.rank else "de-escalate"
        out.append({"key": t.key, "label": t.label, "level": t.level, "direction": direction, "needs": who})
    return out


def _decision_groups(view: CrisisOut) -> list[dict[str, Any]]:
    """The decision log by level, in escalation order; newest first within each."""
    groups = []
    for level in rules.LEVELS:
        items = [d for d in view.decisions if d.level == level]
        if items:
            groups.append({"level": level, "decisions": items})
    return groups


def _own_org_emails(db: Session, principal: Principal, view: CrisisOut) -> dict[str, str]:
    """Who recorded each decision, by e-mail address for colleagues only: other organisations' staff are named by
    organisation, as on the other pages."""
    ids = sorted({d.recorded_by for d in view.decisions if d.recorded_by})
    if not ids or principal.org_id is None:
        return {}
    rows = db.execute(select(User.id, User.email).where(User.id.in_(ids), User.org_id == principal.org_id)).all()
    return {r.id: r.email for r in rows}


def _defaults(view: CrisisOut) -> dict[str, FormState]:
    return {
        "escalate": FormState(values={"to": "", "rationale": ""}),
        "answer": FormState(values={"comment": ""}),
        "decision": FormState(values={"level": view.level, "kind": "response"}),
        "phase": FormState(values={"phase": ""}),
        "action": FormState(values={}),
        "action-status": FormState(values={}),
        "link": FormState(values={"incidents": []}),
        "consult": FormState(values={}),
        "commission-role": FormState(values={"role": "member" if view.commission_role == "observer" else "observer"}),
    }


def _room(request: Request, db: Session, principal: Principal, crisis_id: str, settings: Settings) -> CrisisOut:
    """The room as the API serves it: from the per-process cache (keyed by reader and audit head) when there is one.

    The page only reads the shared object, never changes it."""
    cache: RoomCache | None = getattr(request.app.state, "room_cache", None)
    if cache is None:
        return room.room(db, principal, crisis_id, settings)
    return cache.entry(db, principal, crisis_id, settings)[0]


def render_room(
    request: Request,
    db: Session,
    principal: Principal,
    crisis_id: str,
    *,
    form: tuple[str, FormState] | None = None,
    done: str = "",
    code: int = 200,
) -> Response:
    """The crisis room; `form` is a refused form (its name and state) to show again with its errors."""
    settings = settings_of(request)
    model = model_for(settings)
    view = _room(request, db, principal, crisis_id, settings)
    is_open = view.status == CrisisStatus.OPEN.value
    forms = _defaults(view)
    failed_form, failure = None, None
    if form is not None:
        failed_form, forms[form[0]] = form[0], form[1]
        failure = {
            "name": form[0],
            "title": FORM_TITLES[form[0]][0],
            "anchor": FORM_TITLES[form[0]][1],
            "message": form[1].message or "",
        }
    # Offer only what the authority policy allows this reader (the service checks again on post).
    crisis = rules.get(db, principal, view.id)
    allowed = rules.allowed_actions(db, principal, crisis, model)
    can_act = "crisis.action.create" in allowed
    assignees: list[queries.OrgRef] = []
    if can_act:
        assignees = sorted(queries.org_refs(db, audience_orgs(db, crisis)).values(), key=lambda o: o.short_name.lower())
    can_link = "crisis.link" in allowed

    def can_update_action(a: Any) -> bool:
        return can_act and "crisis.action.update" in rules.action_actions(
            principal,
            owner_org_id=view.owner.id,
            assignee_org_id=a.assignee.id,
            held_at=view.held_at.node if view.held_at else None,
        )

    linked = [i.id for i in view.incidents]
    pending = next((e for e in view.escalations if e.state == "pending"), None)
    communities = queries.community_names(db)
    return render(
        request,
        "crisis.html",
        {
            "c": view,
            "tlp": TLP(view.tlp),
            "is_open": is_open,
            "mechanism": communities.get(view.mechanism, view.mechanism) if view.mechanism else None,
            "stages": stages(db, model, view.stage),
            "scale_note": SCALE_NOTE,
            "criteria": CRITERIA,
            "phases": PHASES,
            "phase_labels": PHASE_LABELS,
            "kind_labels": KIND_LABELS,
            "decision_kinds": DECISION_KINDS,
            "action_status_labels": ACTION_STATUS_LABELS,
            "escalation_state_labels": ESCALATION_STATE_LABELS,
            "escalations": _escalation_rows(view, model, principal),
            "pending": pending,
            # Whom a consultation before an activation names (IPCR arrangements): any organisation of the directory.
            "consult_choices": [(o.id, f"{o.short_name} — {o.name}") for o in queries.org_choices(db)]
            if pending is not None and pending.consult
            else [],
            "escalate_choices": _escalate_choices(db, view, model) if view.can_escalate_to and is_open else [],
            "decision_groups": _decision_groups(view),
            "recorded_by": _own_org_emails(db, principal, view),
            "recipients": _recipients(db, view),
            "can_decide": view.can_decide and is_open,
            # Held at another node: the decision form sends the decision there (ADR 0013); nothing else is offered.
            "can_record_decision": (view.can_decide or view.can_send_decision) and is_open,
            "can_act": can_act,
            "can_update_action": can_update_action,
            # Several actions this reader may update: the table offers to change them together.
            "bulk_actions": sum(1 for a in view.actions if can_update_action(a)),
            "assignees": assignees,
            "can_link": can_link,
            # A crisis held at another node is changed there, by its owner's users on that node (ADR 0013).
            "is_owner": crisis.owner_org_id == principal.org_id and crisis.origin_node is None,
            "held": view.held_at,
            "held_org": queries.held_by(db, view.held_at),
            "link_choices": queries.open_incidents(db, principal, exclude=linked) if can_link else [],
            "forms": forms,
            "failed_form": failed_form,
            "failure": failure,
            "done_note": DONE_NOTES.get(done),
            "done_section": DONE_SECTION.get(done, "escalations"),
            **_timeline(db, principal, view, model),
        },
        status=code,
    )


@router.get("/crises/{crisis_id}", response_class=HTMLResponse)
def crisis_room(
    *,
    crisis_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    done: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    # The page as this viewer last saw it, until a change reaches it and for 30 s at most (room_cache): a crisis
    # room is read far more often than it changes, by many people at once during a crisis.
    viewer = getattr(request.state, "viewer", None)
    key = (getattr(viewer, "csrf_token", ""), getattr(viewer, "pending_alerts", 0), done)
    cache: RoomCache = request.app.state.room_cache
    body = cache.page(
        db,
        principal,
        crisis_id,
        settings_of(request),
        key,
        lambda: bytes(render_room(request, db, principal, crisis_id, done=done).body),
    )
    return HTMLResponse(body)


def refused_on_room(
    request: Request,
    db: Session,
    principal: Principal,
    crisis_id: str,
    name: str,
    exc: DomainError,
    values: dict[str, Any],
    aliases: dict[str, str] | None = None,
) -> Response:
    """Nothing written: the room again, the form with what was typed and the message next to its field."""
    db.rollback()
    return render_room(
        request, db, principal, crisis_id, form=(name, FormState.failed(exc, values, aliases=aliases)), code=exc.status
    )


def back(crisis_id: str, done: str, anchor: str) -> Response:
    return see_other(f"/crises/{crisis_id}?done={done}#{anchor}")
