"""The crisis forms as the browser posts them, the words they offer, and their mapping to the service's input."""

from __future__ import annotations

from pydantic import Field

from cybercrisis.access.tlp import TLP
from cybercrisis.crises.models import ActionStatus, Justification, Phase
from cybercrisis.crises.schemas import ActionIn, CrisisIn, DecisionIn
from cybercrisis.web.forms import PostedForm, parse_utc, require_filled, share_with, validated

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


# Shown after a successful form, from `?done=`: fixed texts, never anything taken from the address.
DONE_NOTES = {
    "opened": "The crisis is open. The organisations it is shared with were told.",
    "proposed": "The move was proposed. It takes effect when every organisation listed has agreed.",
    "moved": "The crisis moved to its new stage; the step is in the decision log.",
    "agreed": "Your organisation's agreement is recorded.",
    "rejected": "Your organisation's refusal is recorded: the move is not taken.",
    "withdrawn": "The proposal was withdrawn.",
    "sent": "Your organisation's answer is sent to the node that holds this crisis: it counts once that node has "
    "applied it, and the move shows here when its new version arrives.",
    "consulted": "The consultation is recorded.",
    "commission-role": "The Commission's role is recorded; the change is in the decision log.",
    "decision": "The decision is recorded.",
    "decision-sent": "The decision is sent to the node that holds this crisis, which records it; it shows in the log "
    "when that node's new version arrives.",
    "phase": "The phase changed; the change is in the decision log.",
    "action": "The action was added and its owner told.",
    "action-updated": "The action was updated.",
    "actions-updated": "The selected actions were updated.",
    "linked": "The incidents were linked.",
}
# The section of the room whose change each note confirms: the note is shown there, where the form sent the reader.
DONE_SECTION = {
    "opened": "overview",
    "phase": "overview",
    "commission-role": "overview",
    "linked": "incidents",
    "decision": "decisions",
    "decision-sent": "decisions",
    "action": "actions",
    "action-updated": "actions",
    "actions-updated": "actions",
}  # every other note is about a move on the escalation scale
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
    "actions-status": ("The actions were not updated", "actions"),
    "link": ("The incidents were not linked", "link-form"),
}


# --- what the browser posts -------------------------------------------------------------------------------------


class NewCrisisForm(PostedForm):
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


class EscalateForm(PostedForm):
    to: str = Field(default="", max_length=64)
    rationale: str = Field(default="", max_length=50_000)
    share_with_approvers: str = Field(default="", max_length=10)


class AnswerForm(PostedForm):
    verdict: str = Field(default="", max_length=16)
    comment: str = Field(default="", max_length=10_000)
    back: str = Field(default="", max_length=40)  # "/my-work": the answer was given from My work, which shows it


class DecisionForm(PostedForm):
    level: str = Field(default="", max_length=32)
    kind: str = Field(default="", max_length=32)
    title: str = Field(default="", max_length=1000)
    detail: str = Field(default="", max_length=100_000)
    options: str = Field(default="", max_length=50_000)
    rationale: str = Field(default="", max_length=50_000)


class PhaseForm(PostedForm):
    phase: str = Field(default="", max_length=32)
    rationale: str = Field(default="", max_length=50_000)


class ActionForm(PostedForm):
    title: str = Field(default="", max_length=1000)
    detail: str = Field(default="", max_length=50_000)
    assignee: str = Field(default="", max_length=100)
    due_at: str = Field(default="", max_length=40)
    decision: str = Field(default="", max_length=100)


class ActionStatusForm(PostedForm):
    status: str = Field(default="", max_length=32)
    version: int = Field(default=0, ge=0)


class LinkForm(PostedForm):
    incidents: list[str] = Field(default_factory=list, max_length=1000)


# --- what the service takes -------------------------------------------------------------------------------------


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


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


def to_decision_in(form: DecisionForm) -> DecisionIn:
    require_filled(level=(form.level, "choose the level"), title=(form.title, "say what was decided"))
    return validated(
        DecisionIn,
        {
            "level": form.level,
            "kind": form.kind or "response",
            "title": form.title.strip(),
            "detail": form.detail.strip(),
            "options": lines(form.options),
            "rationale": form.rationale.strip(),
        },
    )


def to_action_in(form: ActionForm) -> ActionIn:
    require_filled(
        title=(form.title, "say what is to be done"),
        assignee=(form.assignee, "choose the organisation that owns the action"),
    )
    return validated(
        ActionIn,
        {
            "title": form.title.strip(),
            "detail": form.detail.strip(),
            "assignee": form.assignee,
            "due_at": parse_utc(form.due_at, field="due_at"),
            "decision": form.decision or None,
        },
    )
