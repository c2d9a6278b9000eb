"""The mutual assistance forms as the browser posts them, the words the pages use, and their mapping to the
service's input (Cyber Solidarity Act; Reg. (EU) 2025/38)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from cybercrisis.access.tlp import TLP
from cybercrisis.assistance.models import Need, OfferState, RequestState
from cybercrisis.assistance.schemas import CapabilityIn, OfferIn, RequestIn
from cybercrisis.directory.models import OrgType
from cybercrisis.web.forms import PostedForm, bad, require_filled, required_utc, share_with, validated

# --- words ------------------------------------------------------------------------------------------------------

NEEDS: list[tuple[str, str, str]] = [
    (Need.INCIDENT_RESPONSE.value, "Incident response team", "People to contain and eradicate, on site or remote."),
    (Need.FORENSICS.value, "Forensics", "Acquisition and analysis of disks, memory and logs."),
    (Need.MALWARE_ANALYSIS.value, "Malware analysis", "Reverse engineering, detection rules, decryptors."),
    (Need.DDOS_MITIGATION.value, "DDoS mitigation", "Scrubbing capacity, upstream filtering, traffic analysis."),
    (Need.LIAISON.value, "Liaison", "A liaison officer to coordinate with the helping teams or authorities."),
    (Need.OTHER.value, "Other", "Say what in the description."),
]
NEED_LABELS = {value: label for value, label, _ in NEEDS}
URGENCIES: list[tuple[str, str, str]] = [
    ("immediate", "Immediate", "Help is needed within hours."),
    ("urgent", "Urgent", "Help is needed within a day."),
    ("routine", "Routine", "Help is needed within days."),
]
URGENCY_LABELS = {value: label for value, label, _ in URGENCIES}
ENTITY_TYPES = [("essential", "Essential entity (NIS2)"), ("important", "Important entity (NIS2)")]
SEVERITIES = [("high", "High"), ("medium", "Medium"), ("low", "Low")]
IMPACTS = [
    ("red", "Red: very large impact"),
    ("yellow", "Yellow: large impact"),
    ("green", "Green: minor impact"),
    ("white", "White: no impact"),
]
SPILLOVERS = [("high", "High"), ("medium", "Medium"), ("low", "Low"), ("none", "None")]
# Reg. (EU) 2025/38 Art. 16 point (c): the potential impact on the affected Member State(s) or users.
POTENTIAL_IMPACTS = [("high", "High"), ("medium", "Medium"), ("low", "Low")]
STATE_LABELS = {
    RequestState.OPEN.value: "Open",
    RequestState.IN_SUPPORT.value: "In support",
    RequestState.SUPPORT_ENDED.value: "Support ended",
    RequestState.CLOSED.value: "Closed",
    RequestState.WITHDRAWN.value: "Withdrawn",
}
STATE_HELP = {
    RequestState.OPEN.value: "asking; offers welcome",
    RequestState.IN_SUPPORT.value: "an offer was accepted; support under way",
    RequestState.SUPPORT_ENDED.value: "waiting for the summary report",
    RequestState.CLOSED.value: "summary report recorded",
    RequestState.WITHDRAWN.value: "withdrawn by the requester",
}
OFFER_STATE_LABELS = {
    OfferState.OFFERED.value: "Offered",
    OfferState.ACCEPTED.value: "Accepted",
    OfferState.DECLINED.value: "Declined",
    OfferState.WITHDRAWN.value: "Withdrawn",
}
# A request must reach its recipients: TLP:RED is not offered (the service refuses it).
REQUEST_TLPS = [(t.value, t.label) for t in reversed(TLP) if t != TLP.RED]
# The communities a request may be addressed to, when the directory has them.
REQUEST_COMMUNITIES = ("csirts-network", "eu-cyclone")
# The organisations a request may name: those that speak for a Member State in a crisis.
RECIPIENT_TYPES = (
    (OrgType.NATIONAL_CSIRT, "National CSIRTs"),
    (OrgType.CRISIS_AUTHORITY, "Cyber crisis management authorities"),
)
CRITERION_LABELS = {
    "severity": "Severity of the incident (its impact severity)",
    "entity_type": "Entity type",
    "potential_impact": "Potential impact on the Member State(s) or users",
    "spillover": "Cross-border spill-over risk",
    "measures_taken": "Measures taken (precondition; shown, not ranked)",
}
# Shown after a successful form, from `?done=`: fixed texts, never anything taken from the address.
DONE_NOTES = {
    "sent": "The request was sent. Its recipients were told and may now offer help.",
    "offered": "Your offer was sent to the requester only; other recipients do not see it.",
    "offer-sent": "Your offer was sent to the node that holds this request, which makes it there, for the "
    "requester only; it shows below until that node has made it or refused it.",
    "accepted": "The offer was accepted and its organisation told.",
    "declined": "The offer was declined and its organisation told.",
    "offer-withdrawn": "Your offer was withdrawn and the requester told.",
    "offer-withdraw-sent": "Your withdrawal was sent to the node that holds this request, which withdraws the offer "
    "there and tells the requester; the offer shows as withdrawn once that node's new version arrives.",
    "support-ended": "Support ended. The summary report is due by the date shown below.",
    "transmitted": "The request was transmitted to the EU Cybersecurity Reserve; its administrators were told.",
    "summary": "The summary report is recorded; the request is closed.",
    "withdrawn": "The request was withdrawn; pending offers were withdrawn with it and their organisations told.",
    "published": "The entry is in the catalogue.",
    "saved": "The entry was changed.",
    "activated": "The entry is active again: requests are matched against it.",
    "deactivated": "The entry is inactive: requests are not matched against it until you activate it again.",
    "deleted": "The entry was deleted from the catalogue.",
}
# What each form on the request page is, for the message at the top of the page when it was refused.
FORM_TITLES = {
    "offer": ("Your offer was not sent", "offer-form"),
    "decide": ("The offer was not decided", "offers"),
    "withdraw-offer": ("Your offer was not withdrawn", "offers"),
    "support-ended": ("Support was not marked as ended", "support-ended-form"),
    "summary": ("The summary report was not recorded", "summary-form"),
    "withdraw": ("The request was not withdrawn", "lifecycle"),
    "transmit": ("The request was not transmitted to the Reserve", "transmit-form"),
}

# --- what the browser posts -------------------------------------------------------------------------------------


class RequestForm(PostedForm):
    """The request form as posted; checkboxes send "yes" when ticked."""

    needs: list[str] = Field(default_factory=list, max_length=20)
    description: str = Field(default="", max_length=20_000)
    affected_entity: str = Field(default="", max_length=1000)
    entity_type: str = Field(default="", max_length=32)
    impact: str = Field(default="", max_length=32)
    severity: str = Field(default="", max_length=32)
    spillover: str = Field(default="", max_length=32)
    potential_impact: str = Field(default="", max_length=32)
    measures_taken: str = Field(default="", max_length=20_000)
    other_support: str = Field(default="", max_length=20_000)
    urgency: str = Field(default="", max_length=32)
    organisations: list[str] = Field(default_factory=list, max_length=500)
    communities: list[str] = Field(default_factory=list, max_length=50)
    reserve: str = Field(default="", max_length=8)
    crisis: str = Field(default="", max_length=200)
    incidents: list[str] = Field(default_factory=list, max_length=200)
    tlp: str = Field(default="", max_length=20)
    exercise: str = Field(default="", max_length=8)


class OfferForm(PostedForm):
    capability: str = Field(default="", max_length=64)
    people: str = Field(default="", max_length=20)
    available_from: str = Field(default="", max_length=40)
    conditions: str = Field(default="", max_length=10_000)
    capability_id: str = Field(default="", max_length=200)


class DecideForm(PostedForm):
    verdict: str = Field(default="", max_length=16)
    comment: str = Field(default="", max_length=5_000)


class SupportEndedForm(PostedForm):
    ended_at: str = Field(default="", max_length=40)


class SummaryForm(PostedForm):
    report: str = Field(default="", max_length=100_000)


class CapabilityForm(PostedForm):
    kind: str = Field(default="", max_length=64)
    title: str = Field(default="", max_length=1000)
    description: str = Field(default="", max_length=20_000)
    notice_hours: str = Field(default="", max_length=20)
    people: str = Field(default="", max_length=20)
    tlp: str = Field(default="", max_length=20)
    communities: list[str] = Field(default_factory=list, max_length=50)
    organisations: list[str] = Field(default_factory=list, max_length=500)
    users: str = Field(default="", max_length=20_000)


class CapabilityEditForm(PostedForm):
    version: int = Field(default=0, ge=0)
    kind: str = Field(default="", max_length=64)
    title: str = Field(default="", max_length=1000)
    description: str = Field(default="", max_length=20_000)
    notice_hours: str = Field(default="", max_length=20)
    people: str = Field(default="", max_length=20)


class ActiveForm(PostedForm):
    version: int = Field(default=0, ge=0)
    active: str = Field(default="", max_length=8)


def _whole(field: str, text: str, *, label: str) -> int | None:
    value = text.strip().replace(" ", "")
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise bad(field, f"{label}: '{text.strip()[:20]}' is not a whole number") from None


# Service field names -> form field names, for showing each error next to its control ("" : in the summary only).
ALIASES = {"share_with": "communities", "form": ""}


def to_request_in(form: RequestForm) -> RequestIn:
    require_filled(description=(form.description, "say what happened and what help is wanted"))
    return validated(
        RequestIn,
        {
            "needs": form.needs,
            "description": form.description.strip(),
            "urgency": form.urgency or "urgent",
            "recipients": {
                "organisations": form.organisations,
                "communities": form.communities,
                "reserve": form.reserve == "yes",
            },
            "affected_entity": form.affected_entity.strip(),
            "entity_type": form.entity_type or "essential",
            # Left blank: not assessed. The impact is then the most severe of the linked incidents' (the service
            # asks for it when none states one); threat and spill-over stay "not assessed" and rank after others.
            "impact": form.impact or None,
            "severity": form.severity or None,
            "spillover": form.spillover or None,
            "potential_impact": form.potential_impact or None,
            "measures_taken": form.measures_taken.strip(),
            "other_support": form.other_support.strip(),
            "crisis": form.crisis or None,
            "incidents": form.incidents,
            "tlp": form.tlp or TLP.AMBER.value,
            "exercise": form.exercise == "yes",
        },
        depth=2,
    )


def to_offer_in(form: OfferForm) -> OfferIn:
    require_filled(
        capability=(form.capability, "choose what you offer"),
        people=(form.people, "say how many people"),
        available_from=(form.available_from, "say from when (UTC)"),
    )
    return validated(
        OfferIn,
        {
            "capability": form.capability,
            "people": _whole("people", form.people, label="people"),
            "available_from": required_utc(form.available_from, field="available_from"),
            "conditions": form.conditions.strip(),
            "capability_id": form.capability_id or None,
        },
        depth=2,
    )


def capability_fields(form: CapabilityForm | CapabilityEditForm) -> dict[str, Any]:
    require_filled(
        kind=(form.kind, "choose what kind of help it is"),
        title=(form.title, "give the entry a title"),
        notice_hours=(form.notice_hours, "say how many hours of notice are needed"),
        people=(form.people, "say how many people"),
    )
    return {
        "kind": form.kind,
        "title": form.title.strip(),
        "description": form.description.strip(),
        "notice_hours": _whole("notice_hours", form.notice_hours, label="notice"),
        "people": _whole("people", form.people, label="people"),
    }


def to_capability_in(form: CapabilityForm) -> CapabilityIn:
    fields = capability_fields(form)
    return validated(
        CapabilityIn,
        {
            **fields,
            "tlp": form.tlp or TLP.GREEN.value,
            "share_with": share_with(form.organisations, form.communities, form.users),
        },
        depth=2,
    )


def words() -> dict[str, Any]:
    return {
        "need_labels": NEED_LABELS,
        "urgency_labels": URGENCY_LABELS,
        "state_labels": STATE_LABELS,
        "state_help": STATE_HELP,
        "offer_state_labels": OFFER_STATE_LABELS,
    }
