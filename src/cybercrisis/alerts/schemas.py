from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from cybercrisis.access.schemas import ShareList
from cybercrisis.schemas import AnswerOut, HeldAt, Strict

WEEK_MINUTES = 7 * 24 * 60


class Recipients(BaseModel):
    """Organisation ids and community slugs; the recipients are the organisations and the communities' members."""

    model_config = ConfigDict(extra="forbid")

    organisations: list[str] = Field(default_factory=list, max_length=500)
    communities: list[str] = Field(default_factory=list, max_length=50)


class AlertIn(Strict):
    title: str = Field(min_length=1, max_length=300)
    body: str = Field(default="", max_length=100_000)
    tlp: str
    recipients: Recipients
    incident: str | None = Field(default=None, max_length=120)
    remind_after_minutes: int = Field(default=60, ge=1, le=WEEK_MINUTES)
    escalate_after_minutes: int = Field(default=240, ge=1, le=WEEK_MINUTES)
    exercise: bool = Field(default=False, description="Part of an exercise: marked as such in every notification")


class Acknowledgement(BaseModel):
    organisation: str
    at: datetime
    by: str | None


class TimeToAcknowledge(BaseModel):
    median_seconds: float | None
    max_seconds: float | None
    acknowledged: int
    pending: int


class AlertOut(BaseModel):
    id: str
    type: str = "alert"
    title: str
    body: str
    tlp: str
    owner: str
    created_by: str | None
    created: datetime
    incident: str | None
    exercise: bool
    remind_after_minutes: int
    escalate_after_minutes: int
    share_with: ShareList
    acknowledged: list[Acknowledgement]
    pending: list[str]
    time_to_acknowledge: TimeToAcknowledge
    held_at: HeldAt | None = Field(
        default=None, description="set when the alert is held at another node: acknowledgements are sent there"
    )
    answers: list[AnswerOut] = Field(
        default_factory=list, description="what the reader's organisation sent to the alert's origin node, newest first"
    )


class AlertSummary(BaseModel):
    id: str
    title: str
    tlp: str
    owner: str
    created: datetime
    incident: str | None
    exercise: bool
    acknowledged: int
    pending: int
    acknowledged_by_me: bool | None = Field(description="None when your organisation is not a recipient")


class AlertPage(BaseModel):
    items: list[AlertSummary]
    next: str | None


class AcknowledgeManyIn(Strict):
    alerts: list[str] = Field(
        min_length=1,
        max_length=200,
        description="ids of early warnings addressed to your organisation; all are acknowledged, or none (the first "
        "that cannot be is named as `alerts[i]`)",
        examples=[["alert--5a8e1f0c-6b2d-4c3e-9f4a-0b1c2d3e4f50"]],
    )


class AcknowledgedOut(BaseModel):
    acknowledged: list[str] = Field(
        description="the ids acknowledged (or, for one held at another node, whose acknowledgement was sent there)"
    )
