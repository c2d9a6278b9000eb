"""Actions of a crisis: given to an organisation with a due time, updated by it or by the crisis owner."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from cybercrisis.access import authority, sharing
from cybercrisis.access.principal import Principal
from cybercrisis.audit import service as audit
from cybercrisis.config import Settings
from cybercrisis.crises.audience import copy_shares, notify, org_can_read, org_names
from cybercrisis.crises.escalation import model_for
from cybercrisis.crises.models import (
    Action,
    ActionStatus,
    Decision,
)
from cybercrisis.crises.rules import bad, choice, for_update, relations, require_open
from cybercrisis.crises.schemas import ActionIn, ActionPatch
from cybercrisis.db import new_id, utcnow
from cybercrisis.directory.models import Organisation
from cybercrisis.errors import Conflict, DomainError, NotFound, in_batch


def _check_due(due_at: datetime | None) -> None:
    if due_at is not None and due_at.tzinfo is None:
        raise bad("due_at", "give a time zone, e.g. 2026-11-28T18:00:00Z")


def create_action(session: Session, *, actor: Principal, crisis_id: str, data: ActionIn, settings: Settings) -> Action:
    crisis = for_update(session, actor, crisis_id)
    authority.authorize(actor, "crisis.action.create", relations(session, actor, crisis, model_for(settings)))
    require_open(crisis)
    _check_due(data.due_at)
    if session.get(Organisation, data.assignee) is None:
        raise bad("assignee", f"unknown organisation {data.assignee}")
    if not org_can_read(session, data.assignee, crisis):
        name = org_names(session, [data.assignee])[data.assignee]
        raise bad("assignee", f"{name} cannot see this crisis; the originator shares it with them first")
    if data.decision is not None:
        decision = sharing.get_readable(session, actor, Decision, data.decision)
        if decision.crisis_id != crisis.id:
            raise bad("decision", f"decision {data.decision} belongs to another crisis")
    now = utcnow()
    action = Action(
        id=new_id("task"),
        owner_org_id=crisis.owner_org_id,
        created_by_id=actor.user_id,
        tlp=crisis.tlp,
        exercise=crisis.exercise,
        crisis_id=crisis.id,
        title=data.title,
        detail=data.detail,
        assignee_org_id=data.assignee,
        due_at=data.due_at,
        status=ActionStatus.OPEN.value,
        decision_id=data.decision,
        created_at=now,
        modified_at=now,
    )
    session.add(action)
    session.flush()
    copy_shares(session, crisis, [action.id])
    audit.record(
        session,
        actor=actor,
        tag="crises:action:create",
        object_id=action.id,
        summary={
            "crisis": crisis.id,
            "assignee": data.assignee,
            "due_at": data.due_at.isoformat() if data.due_at else None,
        },
    )
    notify(
        session,
        crisis,
        event="crises:action:assigned",
        subject=f"Action for your organisation: {action.title}",
        body=f"In crisis '{crisis.title}'" + (f", due {data.due_at:%Y-%m-%d %H:%M} UTC." if data.due_at else "."),
        object_id=action.id,
        dedupe=f"action-assigned:{action.id}",
        orgs=[data.assignee],
        exclude=actor,
    )
    return action


def update_action(session: Session, *, actor: Principal, action_id: str, patch: ActionPatch) -> Action:
    action = sharing.get_readable(session, actor, Action, action_id)
    crisis = for_update(session, actor, action.crisis_id)
    rel = {authority.R.OWNER} if actor.org_id == crisis.owner_org_id else set()
    if actor.org_id is not None and actor.org_id == action.assignee_org_id:
        rel.add(authority.R.ASSIGNEE)
    authority.authorize(actor, "crisis.action.update", rel)
    if patch.version != action.version:
        raise Conflict(
            f"the action changed since you read it (version {patch.version}, now {action.version}): "
            "reload and apply your change again"
        )
    _check_due(patch.due_at)
    before = {"status": action.status, "assignee": action.assignee_org_id}
    if patch.assignee is not None and patch.assignee != action.assignee_org_id:
        authority.authorize(actor, "crisis.action.reassign", rel & {authority.R.OWNER})
        if session.get(Organisation, patch.assignee) is None or not org_can_read(session, patch.assignee, crisis):
            raise bad("assignee", f"{patch.assignee} is unknown or cannot see this crisis")
        action.assignee_org_id = patch.assignee
        action.reminded_at = action.overdue_notified_at = None
    if patch.status is not None:
        status = choice("status", patch.status, [s.value for s in ActionStatus])
        if status != action.status:
            action.status = status
            action.done_at = utcnow() if status == ActionStatus.DONE else None
    for field in ("title", "detail"):
        value = getattr(patch, field)
        if value is not None:
            setattr(action, field, value)
    if patch.due_at is not None and patch.due_at != action.due_at:
        action.due_at = patch.due_at
        action.reminded_at = action.overdue_notified_at = None
    if session.is_modified(action):
        action.modified_at = utcnow()
        audit.record(
            session,
            actor=actor,
            tag="crises:action:update",
            object_id=action.id,
            summary={
                "crisis": crisis.id,
                "status": [before["status"], action.status],
                "assignee": action.assignee_org_id,
            },
        )
    return action


def update_statuses(
    session: Session, *, actor: Principal, crisis_id: str, items: list[tuple[str, int]], status: str
) -> list[Action]:
    """One status for several actions of one crisis (issue 19: bulk action updates), all or none: each is changed as
    `update_action` changes one (its readers, owner or assignee, its version); the first refused stops the batch,
    named by its place in the list."""
    done: list[Action] = []
    for i, (action_id, version) in enumerate(items):
        try:
            action = sharing.get_readable(session, actor, Action, action_id)
            if action.crisis_id != crisis_id:
                raise NotFound(f"no action {action_id} in this crisis")
            done.append(
                update_action(
                    session, actor=actor, action_id=action_id, patch=ActionPatch(version=version, status=status)
                )
            )
        except DomainError as exc:
            raise in_batch(exc, "actions", i, action_id) from None
    return done
