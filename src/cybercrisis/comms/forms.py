"""What the communication forms post, and how it becomes the service's input."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from cybercrisis.access.tlp import TLP
from cybercrisis.comms.labels import lang_name
from cybercrisis.comms.models import CommKind
from cybercrisis.comms.schemas import MAX_TRANSLATIONS, CommunicationIn, CommunicationPatch
from cybercrisis.errors import DomainError
from cybercrisis.web.forms import FormState, PostedForm, bad, parse_utc, require_filled, validated

MORE_LANGUAGES = "more-languages"  # the submit button that re-renders a form with one more translation block
EMPTY_BLOCK = {"lang": "", "title": "", "body": ""}

# --- what the browser posts -------------------------------------------------------------------------------------


class TextForm(PostedForm):
    """The text and its translations, as parallel lists: one entry per translation block, in page order."""

    title: str = Field(default="", max_length=1000)
    body: str = Field(default="", max_length=100_000)
    tr_lang: list[str] = Field(default_factory=list, max_length=MAX_TRANSLATIONS + 5)
    tr_title: list[str] = Field(default_factory=list, max_length=MAX_TRANSLATIONS + 5)
    tr_body: list[str] = Field(default_factory=list, max_length=MAX_TRANSLATIONS + 5)
    embargo_until: str = Field(default="", max_length=40)
    action: str = Field(default="", max_length=32)


class NewForm(TextForm):
    crisis: str = Field(default="", max_length=120)
    kind: str = Field(default="", max_length=32)
    language: str = Field(default="", max_length=16)
    approvers: list[str] = Field(default_factory=list, max_length=200)
    tlp: str = Field(default="", max_length=20)


class EditForm(TextForm):
    version: int = Field(default=0, ge=0)


class VerdictForm(PostedForm):
    version: int = Field(default=0, ge=0)
    comment: str = Field(default="", max_length=10_000)
    confirm_stale_translations: str = Field(default="", max_length=8)  # "yes" when ticked


# --- from the form to the service's input -----------------------------------------------------------------------


def blocks_of(form: TextForm) -> list[dict[str, str]]:
    """The translation blocks as typed: language, title and body of each, in page order."""
    n = max(len(form.tr_lang), len(form.tr_title), len(form.tr_body))

    def at(items: list[str], i: int) -> str:
        return items[i] if i < len(items) else ""

    return [
        {"lang": at(form.tr_lang, i).strip().lower(), "title": at(form.tr_title, i), "body": at(form.tr_body, i)}
        for i in range(n)
    ]


def _translations(blocks: Sequence[dict[str, str]]) -> dict[str, dict[str, str]]:
    """Blocks left entirely empty are ignored (that is how a translation is removed)."""
    out: dict[str, dict[str, str]] = {}
    for i, b in enumerate(blocks):
        if not (b["lang"] or b["title"].strip() or b["body"].strip()):
            continue
        if not b["lang"]:
            raise bad(f"tr-{i}", "choose the language of this translation")
        if b["lang"] in out:
            raise bad(f"tr-{i}", f"the translation into {lang_name(b['lang'])} is given twice")
        out[b["lang"]] = {"title": b["title"], "body": b["body"]}
    return out  # checked by the service's schema (lengths) and the service (codes, emptiness)


def to_communication_in(form: NewForm) -> CommunicationIn:
    blocks = blocks_of(form)
    require_filled(
        title=(bool(form.title.strip()), "give the statement a title"),
        body=(bool(form.body.strip()), "write the text"),
        approvers=(bool(form.approvers), "choose at least one organisation that must approve it"),
    )
    return validated(
        CommunicationIn,
        {
            "crisis": form.crisis.strip() or None,
            "kind": form.kind or CommKind.STATEMENT.value,
            "language": form.language or "en",
            "title": form.title.strip(),
            "body": form.body.strip(),
            "translations": _translations(blocks),
            "approvers": form.approvers,
            "embargo_until": parse_utc(form.embargo_until, field="embargo_until"),
            "tlp": form.tlp or TLP.AMBER.value,
        },
        depth=None,
    )


def to_patch(form: EditForm) -> CommunicationPatch:
    require_filled(
        title=(bool(form.title.strip()), "give the statement a title"), body=(bool(form.body.strip()), "write the text")
    )
    return validated(
        CommunicationPatch,
        {
            "version": form.version,
            "title": form.title.strip(),
            "body": form.body.strip(),
            "translations": _translations(blocks_of(form)),
            "embargo_until": parse_utc(form.embargo_until, field="embargo_until"),
        },
        depth=None,
    )


def failed(exc: DomainError, values: dict[str, Any]) -> FormState:
    """The form again, each complaint next to its field; a translation's (`translations.fr.body`) next to its block
    (`tr-<index>`), in words that name the language."""
    form = FormState.failed(exc, values, nested=True)
    blocks: list[dict[str, str]] = values.get("translations", [])
    errors: dict[str, str] = {}
    for name, said in form.errors.items():
        key, message = name, said
        if key.startswith("translations."):
            parts = key.split(".")
            lang = parts[1].strip().lower()
            index = next((i for i, b in enumerate(blocks) if b["lang"] == lang), None)
            key = f"tr-{index}" if index is not None else "translations"
            if len(parts) == 3 and "is empty" in message:  # the service says "the body is empty"
                message = f"give the {'title' if parts[2] == 'title' else 'text'} in {lang_name(lang)}"
                if len(form.errors) == 1:
                    form.message = message
        elif not key.startswith("tr-"):
            key = key.split(".", 1)[0]
        errors.setdefault(key, message)
    form.errors = errors
    return form


def text_values(form: TextForm, *, more: bool = False) -> dict[str, Any]:
    """What was typed, to show back; `more` adds an empty translation block."""
    blocks = blocks_of(form)
    if more or not blocks:
        blocks.append(dict(EMPTY_BLOCK))
    return {"title": form.title, "body": form.body, "translations": blocks, "embargo_until": form.embargo_until}
