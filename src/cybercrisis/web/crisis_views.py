"""Crisis pages: the list, opening a crisis, and the crisis room with the forms that act on it (ADR 0007).

The room is `crises.room.room` as this reader sees it: every part of it is filtered there through the access layer.
Every write goes through `crises.service`, exactly as the API does: the same checks, audit, notifications and
errors. A refused form comes back on the room (or the new-crisis form) with what was typed and the message next to
the field, and nothing is written; a successful one redirects back to the room with a short note of what happened.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from cybercrisis.access import authority, sharing
from cybercrisis.access.permissions import Permission
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.accounts.models import User
from cybercrisis.cache import HeadCache, audit_head, reader_key
from cybercrisis.config import Settings
from cybercrisis.crises import room, service
from cybercrisis.crises.escalation import EscalationModel, model_for
from cybercrisis.crises.models import Action, ActionStatus, Crisis, CrisisIncident, CrisisStatus, Justification, Phase
from cybercrisis.crises.schemas import ActionIn, ActionPatch, CrisisIn, CrisisOut, DecisionIn
from cybercrisis.deps import DB
from cybercrisis.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied
from cybercrisis.incidents.models import Incident, IncidentCountry, IncidentStatus
from cybercrisis.web import queries
from cybercrisis.web.forms import FormState, require_filled, share_with, validated
from cybercrisis.web.incident_form import parse_utc
from cybercrisis.web.pagedeps import PagePrincipal, check_csrf, see_other
from cybercrisis.web.render import render

router = APIRouter()
LIST_LIMIT = 200  # crises are few; the list shows the most recent ones, open first
INCIDENT_CHOICES = 200  # the most recent open incidents offered when opening a crisis or linking more
Csrf = Annotated[str, Form(max_length=100)]

SCALE_NOTE = "This escalation scale is the deployment's own; the EU publishes no numbered alert scale."
# The definitions a crisis meets (NIS2 Art. 6(7); the Blueprint: Commission Recommendation (EU) 2017/1584 and the
# Council Recommendation of 6 June 2025, C/2025/3445), as the form and the room show them.
CRITERIA: list[tuple[str, str, str]] = [
    (
        Justification.EXCEEDS_NATIONAL_CAPACITY.value,
        "Exceeds national capacity",
        "The disruption exceeds a Member State's capacity to respond (NIS2 Art. 6: large-scale cybersecurity "
        "incident), or is too extensive for the Member State concerned to handle alone (cyber crisis at Union "
        "level: the Blueprint, Commission Recommendation (EU) 2017/1584, and the Council Recommendation of 6 June "
        "2025 on an EU Blueprint for cyber crisis management, C/2025/3445).",
    ),
    (
        Justification.MULTI_MEMBER_STATE_IMPACT.value,
        "Significant impact in two or more Member States",
        "Significant impact on at least two Member States (NIS2 Art. 6), or affecting two or more Member States "
        "with an impact that needs timely coordination at Union political level (Blueprint: Commission "
        "Recommendation (EU) 2017/1584; Council Recommendation of 6 June 2025, C/2025/3445).",
    ),
]
PHASES: list[tuple[str, str, str]] = [
    (Phase.PREPAREDNESS.value, "Preparedness", "Plans, exercises, shared situational awareness before it hits."),
    (Phase.DETECTION.value, "Detection", "A threat or first signs: not yet a confirmed large-scale incident."),
    (Phase.RESPONSE.value, "Response", "Coordinating the response to incidents under way."),
    (Phase.RECOVERY.value, "Recovery", "Restoring services; lessons learned."),
]
PHASE_LABELS = {value: label for value, label, _ in PHASES}
KIND_LABELS = {
    "escalation": "Escalation",
    "de-escalation": "De-escalation",
    "phase": "Phase change",
    "response": "Response",
    "political-measure": "Political measure",
    "communication": "Communication",
    "other": "Other",
}
# What the decision form offers; escalations and phase changes have their own forms.
DECISION_KINDS = [
    ("response", "Response"),
    ("political-measure", "Political measure (e.g. a cyber diplomacy toolbox option): recorded, never automated"),
    ("communication", "Communication"),
    ("other", "Other"),
]
ACTION_STATUS_LABELS = {
    ActionStatus.OPEN.value: "Open",
    ActionStatus.IN_PROGRESS.value: "In progress",
    ActionStatus.DONE.value: "Done",
    ActionStatus.CANCELLED.value: "Cancelled",
}
ESCALATION_STATE_LABELS = {
    "pending": "Waiting for agreement",
    "done": "Done",
    "rejected": "Not agreed",
    "withdrawn": "Withdrawn",
}
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
# Shown after a successful form, from `?done=`: fixed texts, never anything taken from the address.
DONE_NOTES = {
    "opened": "The crisis is open. The organisations it is shared with were told.",
    "proposed": "The move was proposed. It takes effect when every organisation listed has agreed.",
    "moved": "The crisis moved to its new stage; the step is in the decision log.",
    "agreed": "Your organisation's agreement is recorded.",
    "rejected": "Your organisation's refusal is recorded: the move is not taken.",
    "withdrawn": "The proposal was withdrawn.",
    "consulted": "The consultation is recorded.",
    "commission-role": "The Commission's role is recorded; the change is in the decision log.",
    "decision": "The decision is recorded.",
    "phase": "The phase changed; the change is in the decision log.",
    "action": "The action was added and its owner told.",
    "action-updated": "The action was updated.",
    "linked": "The incidents were linked.",
}
# What each room form is, for the message at the top of the page when it was refused.
FORM_TITLES = {
    "escalate": ("The move was not proposed", "escalate-form"),
    "answer": ("Your answer was not recorded", "answer-form"),
    "withdraw": ("The proposal was not withdrawn", "escalations"),
    "consult": ("The consultation was not recorded", "consult-form"),
    "commission-role": ("The Commission's role was not recorded", "commission-form"),
    "decision": ("The decision was not recorded", "decision-form"),
    "phase": ("The phase did not change", "phase-form"),
    "action": ("The action was not added", "action-form"),
    "action-status": ("The action was not updated", "actions"),
    "link": ("The incidents were not linked", "link-form"),
}
_CLOSED_INCIDENT = (IncidentStatus.RESOLVED.value, IncidentStatus.CLOSED.value)


# --- what the browser posts -------------------------------------------------------------------------------------


class _Form(BaseModel):
    model_config = ConfigDict(extra="ignore")

    csrf_token: str = Field(default="", max_length=100)


class NewCrisisForm(_Form):
    """The new-crisis form as posted; checkboxes send "yes" when ticked."""

    title: str = Field(default="", max_length=1000)
    description: str = Field(default="", max_length=100_000)
    justification: str = Field(default="", max_length=50_000)
    criteria: list[str] = Field(default_factory=list, max_length=10)
    incidents: list[str] = Field(default_factory=list, max_length=1000)
    stage: str = Field(default="", max_length=64)
    phase: str = Field(default="", max_length=32)
    suspected_criminal: str = Field(default="", max_length=8)
    tlp: str = Field(default="", max_length=20)
    communities: list[str] = Field(default_factory=list, max_length=50)
    organisations: list[str] = Field(default_factory=list, max_length=500)
    users: str = Field(default="", max_length=20_000)


class EscalateForm(_Form):
    to: str = Field(default="", max_length=64)
    rationale: str = Field(default="", max_length=50_000)
    share_with_approvers: str = Field(default="", max_length=10)


class AnswerForm(_Form):
    verdict: str = Field(default="", max_length=16)
    comment: str = Field(default="", max_length=10_000)


class DecisionForm(_Form):
    level: str = Field(default="", max_length=32)
    kind: str = Field(default="", max_length=32)
    title: str = Field(default="", max_length=1000)
    detail: str = Field(default="", max_length=100_000)
    options: str = Field(default="", max_length=50_000)
    rationale: str = Field(default="", max_length=50_000)


class PhaseForm(_Form):
    phase: str = Field(default="", max_length=32)
    rationale: str = Field(default="", max_length=50_000)


class ActionForm(_Form):
    title: str = Field(default="", max_length=1000)
    detail: str = Field(default="", max_length=50_000)
    assignee: str = Field(default="", max_length=100)
    due_at: str = Field(default="", max_length=40)
    decision: str = Field(default="", max_length=100)


class ActionStatusForm(_Form):
    status: str = Field(default="", max_length=32)
    version: int = Field(default=0, ge=0)


class LinkForm(_Form):
    incidents: list[str] = Field(default_factory=list, max_length=1000)


def _settings(request: Request) -> Settings:
    s: Settings = request.app.state.settings
    return s


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def failed(exc: DomainError, values: dict[str, Any], aliases: dict[str, str] | None = None) -> FormState:
    """The form again with the service's complaints next to the fields they are about."""
    form = FormState.failed(exc, values)
    errors: dict[str, str] = {}
    for name, message in form.errors.items():
        key = name.split("[", 1)[0].split(".", 1)[0]
        errors.setdefault((aliases or {}).get(key, key), message)
    form.errors = errors
    return form


def to_crisis_in(form: NewCrisisForm) -> CrisisIn:
    require_filled(
        title=(form.title, "give the crisis a title"), justification=(form.justification, "say why this is a crisis")
    )
    recipients = share_with(form.organisations, form.communities, form.users)
    empty = not (recipients.organisations or recipients.communities or recipients.users)
    return validated(
        CrisisIn,
        {
            "title": form.title.strip(),
            "description": form.description.strip(),
            "incidents": form.incidents,
            "justification": form.justification.strip(),
            "criteria": form.criteria,
            "stage": form.stage or None,
            "phase": form.phase or None,
            "suspected_criminal": form.suspected_criminal == "yes",
            "tlp": form.tlp or TLP.AMBER.value,
            # Nobody chosen: the service shares it with the starting stage's community where the marking allows.
            "share_with": None if empty else recipients,
        },
    )


# --- what the forms offer ---------------------------------------------------------------------------------------


def _stage_label(model: EscalationModel, key: str) -> str:
    try:
        return model.stage(key).label
    except KeyError:
        return key


def open_incidents(db: Session, principal: Principal, *, exclude: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The reader's most recent visible incidents that are not resolved or closed, with their countries."""
    rows = db.execute(
        select(Incident.id, Incident.title, Incident.tlp, Incident.aware_at, Incident.status)
        .where(read_filter(principal, Incident), Incident.status.not_in(_CLOSED_INCIDENT))
        .order_by(Incident.aware_at.desc(), Incident.id)
        .limit(INCIDENT_CHOICES)
    ).all()
    skip = set(exclude)
    rows = [r for r in rows if r.id not in skip]
    countries: dict[str, list[str]] = {r.id: [] for r in rows}
    if rows:
        for iid, country in db.execute(
            select(IncidentCountry.incident_id, IncidentCountry.country)
            .where(IncidentCountry.incident_id.in_(list(countries)))
            .order_by(IncidentCountry.country)
        ):
            countries[iid].append(country)
    return [
        {
            "id": r.id,
            "title": r.title,
            "tlp": r.tlp,
            "aware_at": r.aware_at,
            "status": r.status,
            "countries": countries[r.id],
        }
        for r in rows
    ]


def _stages(db: Session, model: EscalationModel, current: str | None = None) -> list[dict[str, Any]]:
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


def _new_choices(request: Request, db: Session, principal: Principal) -> dict[str, Any]:
    model = model_for(_settings(request))
    return {
        "stages": _stages(db, model),
        "scale_note": SCALE_NOTE,
        "criteria": CRITERIA,
        "phases": PHASES,
        "incident_choices": open_incidents(db, principal),
        "incident_limit": INCIDENT_CHOICES,
        "communities": list(queries.community_names(db).items()),
        "org_choices": queries.org_choices(db),
    }


# --- the list ---------------------------------------------------------------------------------------------------


@router.get("/crises", response_class=HTMLResponse)
def crisis_list(*, request: Request, db: DB, principal: PagePrincipal) -> Response:
    is_closed = case((Crisis.status == CrisisStatus.OPEN.value, 0), else_=1)
    rows = list(
        db.scalars(
            select(Crisis)
            .where(read_filter(principal, Crisis))
            .order_by(is_closed, Crisis.modified_at.desc(), Crisis.id.desc())
            .limit(LIST_LIMIT + 1)
        )
    )
    more = len(rows) > LIST_LIMIT
    rows = rows[:LIST_LIMIT]
    counts: dict[str, int] = {}
    if rows:
        # Only the incidents this reader may see are counted.
        counts = dict(
            db.execute(
                select(CrisisIncident.crisis_id, func.count())
                .join(Incident, Incident.id == CrisisIncident.incident_id)
                .where(CrisisIncident.crisis_id.in_([c.id for c in rows]), read_filter(principal, Incident))
                .group_by(CrisisIncident.crisis_id)
            ).all()
        )
    model = model_for(_settings(request))
    levels = {s.key: s.level for s in model.stages}
    items = [
        {
            "c": c,
            "level": levels.get(c.stage),
            "stage_label": _stage_label(model, c.stage),
            "incidents": counts.get(c.id, 0),
        }
        for c in rows
    ]
    return render(
        request,
        "crises.html",
        {
            "items": items,
            "open_count": sum(1 for c in rows if c.status == CrisisStatus.OPEN.value),
            "more": more,
            "limit": LIST_LIMIT,
            "owners": queries.org_refs(db, (c.owner_org_id for c in rows)),
            "phase_labels": PHASE_LABELS,
            "scale_note": SCALE_NOTE,
            "can_write": principal.has(Permission.CRISIS_WRITE),
        },
    )


# --- opening a crisis -------------------------------------------------------------------------------------------


def _new_form(request: Request, db: Session, principal: Principal, form: FormState, status: int = 200) -> Response:
    return render(request, "crisis_new.html", {"form": form, **_new_choices(request, db, principal)}, status=status)


@router.get("/crises/new", response_class=HTMLResponse)
def new_crisis_form(*, request: Request, db: DB, principal: PagePrincipal) -> Response:
    principal.require(Permission.CRISIS_WRITE)
    model = model_for(_settings(request))
    values = {
        "tlp": TLP.AMBER.value,
        "stage": model.stages[0].key,
        "phase": "",
        "criteria": [],
        "incidents": [],
        "communities": [],
        "organisations": [],
    }
    return _new_form(request, db, principal, FormState(values=values))


@router.post("/crises/new")
def create_crisis(
    *, request: Request, db: DB, principal: PagePrincipal, data: Annotated[NewCrisisForm, Form()]
) -> Response:
    check_csrf(request, db, data.csrf_token)
    principal.require(Permission.CRISIS_WRITE)
    values = data.model_dump(exclude={"csrf_token"})
    try:
        crisis = service.open_crisis(db, actor=principal, data=to_crisis_in(data), settings=_settings(request))
    except (InvalidInput, Conflict, PermissionDenied) as exc:
        db.rollback()
        # The model names the starting stage `to`, as escalation requests do.
        form = failed(exc, values, {"to": "stage", "share_with": "communities"})
        return _new_form(request, db, principal, form, status=exc.status)
    return see_other(f"/crises/{crisis.id}?done=opened")


# --- the crisis room --------------------------------------------------------------------------------------------


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


def _timeline(db: Session, principal: Principal, view: CrisisOut) -> dict[str, Any]:
    events = view.timeline
    seen = {i.id for i in view.incidents}
    orgs = queries.org_refs(db, (e.actor_org_id or "" for e in events))
    # Other organisations' staff are named by organisation only, as on the other pages.
    emails = queries.user_emails(db, (e.actor_user_id or "" for e in events if e.actor_org_id == principal.org_id))
    entries: list[dict[str, Any]] = [
        {
            "at": e.at,
            "what": EVENT_LABELS.get(e.tag, e.tag),
            "org": orgs.get(e.actor_org_id or ""),
            "user": emails.get(e.actor_user_id or ""),
            # The crisis's own id names the page the reader is on.
            "summary": {k: _hide_unseen(v, seen) for k, v in e.summary.items() if v != view.id},
        }
        for e in events
    ]
    names = queries.org_names_in(db, (e["summary"] for e in entries))
    # Linked incidents and decisions by their titles.
    names.update({i.id: i.title for i in view.incidents} | {d.id: f"“{d.title}”" for d in view.decisions})
    return {"timeline": entries, "timeline_names": names}


def _escalation_rows(view: CrisisOut, model: EscalationModel, principal: Principal) -> list[dict[str, Any]]:
    """Newest first; for a pending one, whether this reader may answer or withdraw it."""
    rows = []
    for e in reversed(view.escalations):
        pending = e.state == "pending"
        rows.append(
            {
                "e": e,
                "from_label": _stage_label(model, e.from_stage),
                "agreed": [a for a in e.approvals if a.verdict == "agree"],
                "refused": [a for a in e.approvals if a.verdict != "agree"],
                "can_answer": pending
                and principal.has(Permission.ESCALATION_APPROVE)
                and principal.org_id in {o.id for o in e.waiting_for},
                "can_withdraw": pending
                and principal.has(Permission.CRISIS_DECIDE)
                and principal.org_id in (view.owner.id, e.proposed_by_org.id),
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
    for level in service.LEVELS:
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
    cache: room.RoomCache | None = getattr(request.app.state, "room_cache", None)
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
    settings = _settings(request)
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
    crisis = service.get(db, principal, view.id)
    relations = service.relations(db, principal, crisis, model)
    can_act = is_open and authority.allows(principal, "crisis.action.create", relations)
    assignees: list[queries.OrgRef] = []
    if can_act:
        assignees = sorted(
            queries.org_refs(db, service.audience_orgs(db, crisis)).values(), key=lambda o: o.short_name.lower()
        )
    can_link = is_open and authority.allows(principal, "crisis.link", relations)
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
            "stages": _stages(db, model, view.stage),
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
            "can_act": can_act,
            "can_update_action": lambda a: can_act and principal.org_id in (a.assignee.id, view.owner.id),
            "assignees": assignees,
            "can_link": can_link,
            "is_owner": authority.R.OWNER in relations,
            "link_choices": open_incidents(db, principal, exclude=linked) if can_link else [],
            "forms": forms,
            "failed_form": failed_form,
            "failure": failure,
            "done_note": DONE_NOTES.get(done),
            **_timeline(db, principal, view),
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
    # The page as this viewer last saw it, while nothing changed anywhere (the audit head) and for 30 s at most:
    # a crisis room is read far more often than it changes, by many people at once during a crisis.
    viewer = getattr(request.state, "viewer", None)
    key = (
        "room-page",
        crisis_id,
        reader_key(principal),
        audit_head(db),
        getattr(viewer, "csrf_token", ""),
        getattr(viewer, "pending_alerts", 0),
        done,
    )
    cache: HeadCache[bytes] = request.app.state.page_cache
    body = cache.get(key, lambda: bytes(render_room(request, db, principal, crisis_id, done=done).body))
    return HTMLResponse(body)


def _refused(
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
    return render_room(request, db, principal, crisis_id, form=(name, failed(exc, values, aliases)), code=exc.status)


def _back(crisis_id: str, done: str, anchor: str) -> Response:
    return see_other(f"/crises/{crisis_id}?done={done}#{anchor}")


_Refusals = (InvalidInput, Conflict, PermissionDenied)


@router.post("/crises/{crisis_id}/escalations")
def propose_escalation(
    *, crisis_id: str, request: Request, db: DB, principal: PagePrincipal, data: Annotated[EscalateForm, Form()]
) -> Response:
    check_csrf(request, db, data.csrf_token)
    values = data.model_dump(exclude={"csrf_token"})
    try:
        require_filled(
            to=(data.to, "choose the stage to move to"), rationale=(data.rationale, "say why it should move")
        )
        esc = service.propose_escalation(
            db,
            actor=principal,
            crisis_id=crisis_id,
            to=data.to,
            rationale=data.rationale.strip(),
            settings=_settings(request),
            share_with_approvers=bool(data.share_with_approvers),
        )
    except _Refusals as exc:
        return _refused(request, db, principal, crisis_id, "escalate", exc, values)
    return _back(crisis_id, "moved" if esc.state == "done" else "proposed", "escalations")


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
    check_csrf(request, db, data.csrf_token)
    values = data.model_dump(exclude={"csrf_token"})
    try:
        if data.verdict not in ("agree", "reject"):
            raise InvalidInput(
                "choose Agree or Do not agree", errors=[{"field": "comment", "message": "choose Agree or Do not agree"}]
            )
        esc = service.answer_escalation(
            db,
            actor=principal,
            crisis_id=crisis_id,
            escalation_id=escalation_id,
            agree=data.verdict == "agree",
            comment=data.comment.strip(),
            settings=_settings(request),
        )
    except _Refusals as exc:
        return _refused(request, db, principal, crisis_id, "answer", exc, values)
    done = "rejected" if data.verdict == "reject" else "moved" if esc.state == "done" else "agreed"
    return _back(crisis_id, done, "escalations")


@router.post("/crises/{crisis_id}/escalations/{escalation_id}/withdraw")
def withdraw_escalation(
    *, crisis_id: str, escalation_id: str, request: Request, db: DB, principal: PagePrincipal, csrf_token: Csrf = ""
) -> Response:
    check_csrf(request, db, csrf_token)
    try:
        service.withdraw_escalation(db, actor=principal, crisis_id=crisis_id, escalation_id=escalation_id)
    except _Refusals as exc:
        return _refused(request, db, principal, crisis_id, "withdraw", exc, {})
    return _back(crisis_id, "withdrawn", "escalations")


@router.post("/crises/{crisis_id}/decisions")
def record_decision(
    *, crisis_id: str, request: Request, db: DB, principal: PagePrincipal, data: Annotated[DecisionForm, Form()]
) -> Response:
    check_csrf(request, db, data.csrf_token)
    values = data.model_dump(exclude={"csrf_token"})
    try:
        require_filled(level=(data.level, "choose the level"), title=(data.title, "say what was decided"))
        body = validated(
            DecisionIn,
            {
                "level": data.level,
                "kind": data.kind or "response",
                "title": data.title.strip(),
                "detail": data.detail.strip(),
                "options": _lines(data.options),
                "rationale": data.rationale.strip(),
            },
        )
        service.record_decision(db, actor=principal, crisis_id=crisis_id, data=body, settings=_settings(request))
    except _Refusals as exc:
        return _refused(request, db, principal, crisis_id, "decision", exc, values)
    return _back(crisis_id, "decision", "decisions")


@router.post("/crises/{crisis_id}/phase")
def change_phase(
    *, crisis_id: str, request: Request, db: DB, principal: PagePrincipal, data: Annotated[PhaseForm, Form()]
) -> Response:
    check_csrf(request, db, data.csrf_token)
    values = data.model_dump(exclude={"csrf_token"})
    try:
        require_filled(
            phase=(data.phase, "choose the new phase"), rationale=(data.rationale, "say why the phase changes")
        )
        service.change_phase(
            db,
            actor=principal,
            crisis_id=crisis_id,
            phase=data.phase,
            rationale=data.rationale.strip(),
            settings=_settings(request),
        )
    except _Refusals as exc:
        return _refused(request, db, principal, crisis_id, "phase", exc, values)
    return _back(crisis_id, "phase", "overview")


@router.post("/crises/{crisis_id}/actions")
def create_action(
    *, crisis_id: str, request: Request, db: DB, principal: PagePrincipal, data: Annotated[ActionForm, Form()]
) -> Response:
    check_csrf(request, db, data.csrf_token)
    values = data.model_dump(exclude={"csrf_token"})
    try:
        require_filled(
            title=(data.title, "say what is to be done"),
            assignee=(data.assignee, "choose the organisation that owns the action"),
        )
        body = validated(
            ActionIn,
            {
                "title": data.title.strip(),
                "detail": data.detail.strip(),
                "assignee": data.assignee,
                "due_at": parse_utc(data.due_at, field="due_at"),
                "decision": data.decision or None,
            },
        )
        service.create_action(db, actor=principal, crisis_id=crisis_id, data=body, settings=request.app.state.settings)
    except _Refusals as exc:
        return _refused(request, db, principal, crisis_id, "action", exc, values)
    return _back(crisis_id, "action", "actions")


@router.post("/crises/{crisis_id}/actions/{action_id}/status")
def update_action_status(
    *,
    crisis_id: str,
    action_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    data: Annotated[ActionStatusForm, Form()],
) -> Response:
    check_csrf(request, db, data.csrf_token)
    values = {"action": action_id, **data.model_dump(exclude={"csrf_token"})}
    crisis = service.get(db, principal, crisis_id)
    action = sharing.get_readable(db, principal, Action, action_id)
    if action.crisis_id != crisis.id:
        raise NotFound(f"no action {action_id} in this crisis")
    try:
        service.update_action(
            db,
            actor=principal,
            action_id=action.id,
            patch=ActionPatch(version=data.version, status=data.status or None),
        )
    except _Refusals as exc:
        return _refused(request, db, principal, crisis_id, "action-status", exc, values)
    return _back(crisis_id, "action-updated", "actions")


@router.post("/crises/{crisis_id}/incidents")
def link_incidents(
    *, crisis_id: str, request: Request, db: DB, principal: PagePrincipal, data: Annotated[LinkForm, Form()]
) -> Response:
    check_csrf(request, db, data.csrf_token)
    values = data.model_dump(exclude={"csrf_token"})
    try:
        if not data.incidents:
            raise InvalidInput(
                "tick at least one incident", errors=[{"field": "incidents", "message": "tick at least one incident"}]
            )
        service.link_incidents(
            db, actor=principal, crisis_id=crisis_id, incident_ids=data.incidents, settings=request.app.state.settings
        )
    except _Refusals as exc:
        return _refused(request, db, principal, crisis_id, "link", exc, values)
    return _back(crisis_id, "linked", "incidents")
