"""The words and choices of the communication pages: languages, kinds, states, events, notes."""

from __future__ import annotations

from collections.abc import Iterable

import pycountry

from cybercrisis.access.tlp import TLP
from cybercrisis.comms import release, service
from cybercrisis.comms.models import CommKind, CommState
from cybercrisis.directory.models import OrgType

# The EU's official languages, offered first in the language pickers (any ISO 639-1 code typed through the API is
# shown too). pycountry's names are not always the everyday ones ("Modern Greek (1453-)").
EU_LANGUAGES: dict[str, str] = {
    "bg": "Bulgarian",
    "cs": "Czech",
    "da": "Danish",
    "de": "German",
    "el": "Greek",
    "en": "English",
    "es": "Spanish",
    "et": "Estonian",
    "fi": "Finnish",
    "fr": "French",
    "ga": "Irish",
    "hr": "Croatian",
    "hu": "Hungarian",
    "it": "Italian",
    "lt": "Lithuanian",
    "lv": "Latvian",
    "mt": "Maltese",
    "nl": "Dutch",
    "pl": "Polish",
    "pt": "Portuguese",
    "ro": "Romanian",
    "sk": "Slovak",
    "sl": "Slovenian",
    "sv": "Swedish",
}
KIND_LABELS = {CommKind.STATEMENT.value: "Statement", CommKind.LINES_TO_TAKE.value: "Lines to take"}
KIND_CHOICES = list(KIND_LABELS.items())
STATE_LABELS = {
    CommState.DRAFT.value: "Draft",
    CommState.APPROVED.value: "Approved",
    CommState.RELEASED.value: "Released",
    CommState.WITHDRAWN.value: "Withdrawn",
}
# A draft is never public: the choices stop at GREEN; TLP:RED could not reach the approvers.
TLP_CHOICES = [(t.value, t.label) for t in (TLP.AMBER_STRICT, TLP.AMBER, TLP.GREEN)]
# The approvers picker's groups, in this order; every other organisation comes last under "Other organisations".
APPROVER_GROUPS: list[tuple[str, str]] = [
    (OrgType.CRISIS_AUTHORITY.value, "National cyber crisis management authorities"),
    (OrgType.NATIONAL_CSIRT.value, "National CSIRTs"),
    (OrgType.EU_BODY.value, "EU institutions, bodies and agencies"),
]
EVENT_LABELS = {
    service.CREATE: "Drafted",
    service.EDIT: "Edited",
    service.APPROVE: "Approved",
    service.REQUEST_CHANGES: "Changes requested",
    release.RELEASE: "Released",
    release.WITHDRAW: "Withdrawn",
    release.PUBLICATION_CREATE: "Public copy made (TLP:CLEAR)",
}
# Shown after a successful form, from `?done=`: fixed texts, never anything taken from the address.
DONE_NOTES = {
    "created": "The draft is saved as version 1. The organisations on its approvers list were asked to approve it.",
    "edited": "Your change is saved as a new version. Approvals of earlier versions no longer count: the approvers "
    "were asked again.",
    "unchanged": "Nothing changed, so no new version was made.",
    "approved": "Your organisation's approval of this version is recorded.",
    "changes": "Your organisation's request for changes is recorded; the owner organisation was told.",
    "sent": "Your organisation's verdict is sent to the node that holds this statement: it counts once that node "
    "has applied it.",
    "released": "The statement was released: it is on the public page and in the feed.",
    "withdrawn": "It was withdrawn: it will neither change nor be released.",
}
# What each form on the page is, for the message at the top when it was refused: (title, anchor).
FORM_TITLES = {
    "edit": ("Your change was not saved", "edit-form"),
    "approve": ("Your approval was not recorded", "approve-form"),
    "changes": ("Your request for changes was not recorded", "changes-form"),
    "release": ("The statement was not released", "release"),
    "withdraw": ("It was not withdrawn", "withdraw-form"),
}


def language_name(code: str) -> str:
    """A language's name from its ISO 639-1 code (pycountry's), or the code itself."""
    lang = pycountry.languages.get(alpha_2=code)
    return str(lang.name) if lang is not None else code


def lang_name(code: str) -> str:
    return EU_LANGUAGES.get(code) or language_name(code)


def language_choices(extra: Iterable[str] = ()) -> list[tuple[str, str]]:
    """The EU languages, and any other code already used, as (code, "French (fr)") pairs by name."""
    codes = set(EU_LANGUAGES) | {c for c in extra if c}
    return sorted(((c, f"{lang_name(c)} ({c})") for c in codes), key=lambda pair: pair[1])
