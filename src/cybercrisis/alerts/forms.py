"""The early-warning form: what the browser posts, turned into the service's input or a field error.

Every field arrives as text (or a list of checkbox values) so that a bad value comes back to the form with its
message instead of a bare 422 page; the limits are the API's (`AlertIn`), the rules the service's.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from sqlalchemy.orm import Session

from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.alerts.schemas import AlertIn
from cybercrisis.errors import NotFound
from cybercrisis.incidents import service as incidents
from cybercrisis.incidents.models import Incident
from cybercrisis.web import queries
from cybercrisis.web.forms import PostedForm, bad, validated
from cybercrisis.web.render import TLP_OPTIONS

NETWORK = "csirts-network"
REMIND_DEFAULT, ESCALATE_DEFAULT = 60, 240  # minutes, as the API's defaults
RECENT_INCIDENTS = 50
# Alerts go to organisations; TLP:RED is for named people, so the form does not offer it.
ALERT_TLP_OPTIONS = [(value, label) for value, label in TLP_OPTIONS if value != TLP.RED.value]
# An incident's marking the form proposes for an alert about it; a stricter one leaves the choice to the sender.
_PROPOSED_FROM_INCIDENT = frozenset({TLP.CLEAR.value, TLP.GREEN.value, TLP.AMBER.value})


class AlertForm(PostedForm):
    """The new-alert form as posted; the exercise checkbox sends "yes" when ticked."""

    title: str = Field(default="", max_length=1000)
    body: str = Field(default="", max_length=200_000)
    tlp: str = Field(default="", max_length=20)
    communities: list[str] = Field(default_factory=list, max_length=50)
    organisations: list[str] = Field(default_factory=list, max_length=500)
    incident: str = Field(default="", max_length=200)
    remind_after_minutes: str = Field(default="", max_length=30)
    escalate_after_minutes: str = Field(default="", max_length=30)
    exercise: str = Field(default="", max_length=8)


def _minutes(field: str, value: str, default: int) -> int:
    text = value.strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise bad(field, f"'{text[:30]}' is not a whole number of minutes") from None


def to_alert_in(form: AlertForm) -> AlertIn:
    if not form.title.strip():
        raise bad("title", "the early warning needs a title")
    if not form.tlp:
        raise bad("tlp", "choose a TLP label")
    data = {
        "title": form.title,
        "body": form.body,
        "tlp": form.tlp,
        "recipients": {"organisations": form.organisations, "communities": form.communities},
        "incident": form.incident or None,
        "remind_after_minutes": _minutes("remind_after_minutes", form.remind_after_minutes, REMIND_DEFAULT),
        "escalate_after_minutes": _minutes("escalate_after_minutes", form.escalate_after_minutes, ESCALATE_DEFAULT),
        "exercise": form.exercise == "yes",
    }
    result: AlertIn = validated(AlertIn, data)
    return result


# --- what the form offers ---------------------------------------------------------------------------------


def readable_incident(db: Session, principal: Principal, incident_id: str) -> Incident | None:
    """The incident named in `?incident=`, if the sender may read it; any other id is as if none was given."""
    if not incident_id:
        return None
    try:
        return incidents.get_incident(db, principal=principal, incident_id=incident_id)
    except NotFound:
        return None


def new_alert_defaults(db: Session, incident: Incident | None) -> dict[str, Any]:
    """TLP:AMBER to the CSIRTs Network, reminder after an hour, escalation after four; from an incident, its title."""
    values: dict[str, Any] = {
        "tlp": TLP.AMBER.value,
        "communities": [NETWORK] if NETWORK in queries.community_names(db) else [],
        "remind_after_minutes": str(REMIND_DEFAULT),
        "escalate_after_minutes": str(ESCALATE_DEFAULT),
    }
    if incident is not None:
        values["incident"] = incident.id
        values["title"] = incident.title
        values["tlp"] = incident.tlp if incident.tlp in _PROPOSED_FROM_INCIDENT else ""
    return values


def alert_choices(db: Session, principal: Principal, *, incident_id: str = "") -> dict[str, Any]:
    """Communities, organisations (never the sender's own) and the incidents the sender may read, newest first."""
    page, _ = incidents.list_incidents(
        db, principal=principal, filters=incidents.IncidentFilter(), cursor=None, limit=RECENT_INCIDENTS
    )
    recent: list[Incident] = list(page.items)
    if incident_id and all(i.id != incident_id for i in recent):
        chosen = readable_incident(db, principal, incident_id)
        recent = [chosen, *recent] if chosen is not None else recent
    return {
        "communities": queries.community_names(db),
        "org_choices": [o for o in queries.org_choices(db) if o.id != principal.org_id],
        "incident_options": [(i.id, f"{i.title} ({TLP(i.tlp).label})") for i in recent],
        "tlp_options": ALERT_TLP_OPTIONS,
    }
