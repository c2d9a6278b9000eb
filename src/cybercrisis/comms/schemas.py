"""API shapes of coordinated public communication: drafts, versions, approvals and publications."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from cybercrisis.access.schemas import ShareList, ShareWith
from cybercrisis.schemas import AnswerOut, HeldAt, Strict

MAX_BODY = 50_000
MAX_TRANSLATIONS = 30
MAX_APPROVERS = 50


class TranslationIn(Strict):
    title: str = Field(max_length=300)
    body: str = Field(max_length=MAX_BODY)


class CommunicationIn(Strict):
    crisis: str | None = Field(default=None, description="id of the crisis it is about; you must be able to read it")
    kind: str = Field(
        default="statement",
        description="statement (released to the public page and feed once approved) or lines-to-take "
        "(internal guidance for spokespeople: never released)",
    )
    title: str = Field(max_length=300)
    body: str = Field(max_length=MAX_BODY)
    language: str = Field(default="en", description="ISO 639-1 code of the main text, e.g. en, fr, de")
    translations: dict[str, TranslationIn] = Field(
        default_factory=dict,
        max_length=MAX_TRANSLATIONS,
        description='the text in other languages, kept side by side: {"fr": {"title": ..., "body": ...}}',
    )
    approvers: list[str] = Field(
        max_length=MAX_APPROVERS,
        description="ids of the organisations that must approve it (your own may be one); the draft is shared "
        "with each of them",
    )
    embargo_until: datetime | None = Field(
        default=None, description="not released before this time (with a time zone); null: as soon as approved"
    )
    tlp: str = Field(
        default="amber",
        description="the marking of the draft (GREEN, AMBER or AMBER+STRICT); the publication is TLP:CLEAR",
    )
    share_with: ShareWith = Field(
        default_factory=ShareWith, description="recipients besides the approvers, who are added automatically"
    )
    exercise: bool = Field(
        default=False, description="part of an exercise (also when its crisis is): never shown on the public page"
    )


class CommunicationPatch(Strict):
    version: int = Field(description="the text version you edited (`version` as read); a stale one is refused with 409")
    title: str | None = Field(default=None, max_length=300)
    body: str | None = Field(default=None, max_length=MAX_BODY)
    translations: dict[str, TranslationIn] | None = Field(
        default=None, max_length=MAX_TRANSLATIONS, description="replaces all translations"
    )
    embargo_until: datetime | None = Field(
        default=None, description="a new embargo time, or null to lift it; approvers approve it again"
    )
    approvers: list[str] | None = Field(
        default=None, max_length=MAX_APPROVERS, description="the owner organisation only: replaces the list"
    )


class VerdictIn(Strict):
    version: int = Field(description="the text version you approve; it must be the current one")
    comment: str = Field(default="", max_length=10_000)
    confirm_stale_translations: bool = Field(
        default=False,
        description="needed (else 409) when a translation was not updated since the text changed "
        "(`stale_translations`): you let it go out as it is",
    )


class ChangesIn(Strict):
    version: int = Field(description="the text version you ask to change; it must be the current one")
    comment: str = Field(min_length=1, max_length=10_000, description="what should change, and why")


class OrgRef(BaseModel):
    id: str
    short_name: str


class ApprovalOut(BaseModel):
    version: int
    org: str
    org_short_name: str
    verdict: str = Field(description="approve, or changes (changes requested)")
    comment: str
    user: str | None
    at: datetime


class CommunicationOut(BaseModel):
    id: str
    kind: str
    crisis: str | None = Field(description="the crisis it is about, when you may read that crisis")
    title: str
    body: str
    language: str
    translations: dict[str, dict[str, str]]
    approvers: list[OrgRef]
    embargo_until: datetime | None
    state: str = Field(description="draft, approved (waits for its embargo), released or withdrawn")
    version: int = Field(description="the current text version: send it back when editing or approving")
    versions: int = Field(description="how many versions are stored")
    approvals: list[ApprovalOut] = Field(description="every verdict, on every version, oldest first")
    waiting_for: list[OrgRef] = Field(description="approver organisations that have not approved the current version")
    stale_translations: dict[str, int] = Field(
        default_factory=dict,
        description="translations not updated since the text in the main language changed: language -> the "
        "version that changed the text. Approving then needs `confirm_stale_translations`",
        examples=[{"fr": 3}],
    )
    released_at: datetime | None
    publication: str | None = Field(description="id of the public copy, once released")
    public_url: str | None
    tlp: str = Field(description="the marking of the draft")
    owner: str
    created_by: str | None
    created: datetime
    modified: datetime
    exercise: bool
    share_with: ShareList
    held_at: HeldAt | None = Field(
        default=None,
        description="set when the communication is held at another node (ADR 0013): read-only here; a verdict is "
        "sent there (`answers`) and counts once that node applied it",
    )
    answers: list[AnswerOut] = Field(
        default_factory=list,
        description="(held at another node) your organisation's verdicts sent to that node, with where each stands",
    )


class CommunicationSummary(BaseModel):
    id: str
    kind: str
    crisis: str | None
    title: str
    language: str
    state: str
    version: int
    approvers: list[str]
    waiting_for: list[str]
    embargo_until: datetime | None
    released_at: datetime | None
    tlp: str
    owner: str
    created: datetime
    modified: datetime
    exercise: bool


class CommunicationPage(BaseModel):
    items: list[CommunicationSummary]
    next: str | None


class CommVersionOut(BaseModel):
    version: int
    created_at: datetime
    created_by: str | None
    title: str
    languages: list[str] = Field(description="the languages of the translations of this version")


class PublicationOut(BaseModel):
    id: str
    title: str
    body: str
    language: str
    translations: dict[str, dict[str, str]]
    released_at: datetime
    url: str


class PublicationPage(BaseModel):
    items: list[PublicationOut]
    next: str | None
