"""API shapes of law-enforcement hand-offs, their evidence files and chain of custody."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from cybercrisis.access.schemas import ShareList
from cybercrisis.schemas import Strict, TimelineEntry


class ChosenObservable(Strict):
    type: str = Field(max_length=32, description="an observable type, e.g. ipv4-addr, domain-name, sha256")
    value: str = Field(min_length=1, max_length=2048, description="the value; defanged input is accepted")


class HandoffIn(Strict):
    incident: str | None = Field(default=None, max_length=120, description="the incident handed over")
    crisis: str | None = Field(default=None, max_length=120, description="or the crisis handed over (exactly one)")
    recipient: str = Field(
        max_length=120, description="organisation id of a law-enforcement unit of the directory, or of Europol EC3"
    )
    reason: str = Field(min_length=1, max_length=20_000, description="why this is handed to law enforcement")
    observables: list[ChosenObservable] = Field(
        default_factory=list,
        max_length=1000,
        description="chosen from the observables sighted in the incident (for a crisis: in its incidents) that "
        "the sender may read",
    )
    tlp: str = Field(default="amber+strict", description="amber+strict (default) or amber; shared with the recipient")
    onward: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="law-enforcement organisations the holder may transfer the package to: named now by the sender "
        "(the originator), they read it from the start; the holder transfers to no one else, since only the "
        "originator widens who reads it",
    )


class TransferIn(Strict):
    to: str = Field(max_length=120, description="organisation id of a law-enforcement unit, or of Europol EC3")
    note: str = Field(default="", max_length=5_000)


class NoteIn(Strict):
    note: str = Field(min_length=1, max_length=5_000)


class ReceiveIn(Strict):
    note: str = Field(default="", max_length=5_000)


class OrgRef(BaseModel):
    id: str
    short_name: str


class ObservableOut(BaseModel):
    type: str
    value: str


class EvidenceFileOut(BaseModel):
    id: int
    name: str
    media_type: str
    size: int
    sha256: str
    added_at: datetime
    added_by: str | None


class CustodyEntryOut(BaseModel):
    seq: int
    at: datetime
    action: str = Field(description="handed-over, received, transferred or note")
    from_org: OrgRef | None
    to_org: OrgRef | None
    by: str | None = Field(description="the user who acted")
    items: list[str] = Field(description="observables as type:value and file SHA-256 digests")
    note: str


class HandoffOut(BaseModel):
    id: str
    incident: str | None
    crisis: str | None
    sender: OrgRef = Field(description="the organisation that handed it over (owner)")
    recipient: OrgRef = Field(description="the law-enforcement organisation it was first handed to")
    holder: OrgRef = Field(description="who holds it now: the recipient, or the last organisation it went to")
    reason: str
    state: str = Field(description="handed-over (awaiting the holder's receipt) or received")
    sealed: bool = Field(description="true once first received: no more files may be added")
    tlp: str
    observables: list[ObservableOut]
    files: list[EvidenceFileOut]
    custody: list[CustodyEntryOut]
    share_with: ShareList
    timeline: list[TimelineEntry]
    created_by: str | None
    created: datetime
    modified: datetime
    version: int


class HandoffSummary(BaseModel):
    id: str
    incident: str | None
    crisis: str | None
    sender: str
    recipient: str
    state: str
    tlp: str
    observables: int
    created: datetime
    modified: datetime


class HandoffPage(BaseModel):
    items: list[HandoffSummary]
    next: str | None
