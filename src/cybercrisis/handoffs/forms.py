"""What the hand-off form posts, and how it becomes the service's input."""

from __future__ import annotations

from pydantic import Field

from cybercrisis.access.tlp import TLP
from cybercrisis.handoffs.schemas import HandoffIn
from cybercrisis.web.forms import PostedForm, bad, require_filled, validated

OBSERVABLE_CHOICES = 1000  # what one hand-off may carry (HandoffIn)


# --- what the browser posts -------------------------------------------------------------------------------------


class HandoffForm(PostedForm):
    """The hand-off form as posted; each ticked observable arrives as "type:value"."""

    incident: str = Field(default="", max_length=120)
    crisis: str = Field(default="", max_length=120)
    recipient: str = Field(default="", max_length=120)
    onward: list[str] = Field(default_factory=list, max_length=20)
    reason: str = Field(default="", max_length=20_000)
    observables: list[str] = Field(default_factory=list, max_length=OBSERVABLE_CHOICES)
    tlp: str = Field(default="", max_length=20)


def to_handoff_in(form: HandoffForm) -> HandoffIn:
    require_filled(
        recipient=(form.recipient, "choose the law-enforcement organisation to hand it to"),
        reason=(form.reason, "say why this is handed to law enforcement"),
    )
    chosen = []
    for item in form.observables:
        kind, sep, value = item.partition(":")
        if not sep or not kind.strip() or not value.strip():
            raise bad("observables", f"'{item[:60]}' is not an observable of the form type:value")
        chosen.append({"type": kind.strip(), "value": value.strip()})
    return validated(
        HandoffIn,
        {
            "incident": form.incident.strip() or None,
            "crisis": form.crisis.strip() or None,
            "recipient": form.recipient.strip(),
            "onward": [o.strip() for o in form.onward if o.strip()],
            "reason": form.reason.strip(),
            "observables": chosen,
            "tlp": form.tlp or TLP.AMBER_STRICT.value,
        },
    )
