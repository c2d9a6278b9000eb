"""What a draft and a change of it must satisfy: its fields, its marking, its state, its version. Each check raises
the error that names the field (422) or says why the communication cannot change now (409)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import pycountry
from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access import sharing
from cybercrisis.access.policy import ORG, read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.comms.models import CommKind, CommState, Communication
from cybercrisis.comms.schemas import TranslationIn
from cybercrisis.crises.models import Crisis
from cybercrisis.directory.models import Organisation
from cybercrisis.errors import Conflict, InvalidInput

CLOSED = frozenset({CommState.RELEASED.value, CommState.WITHDRAWN.value})
KIND_LABELS = {CommKind.STATEMENT.value: "statement", CommKind.LINES_TO_TAKE.value: "lines to take"}
LINES_NOT_RELEASED = (
    "lines to take are internal guidance for spokespeople and are never released publicly; "
    "draft a statement for the public page instead"
)


def bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message}])


# --- fields -------------------------------------------------------------------------------------------------


def kind(value: str) -> str:
    valid = [k.value for k in CommKind]
    if value not in valid:
        raise bad("kind", f"'{value}' is not a kind of communication; valid: {', '.join(valid)}")
    return value


def language(field: str, value: str) -> str:
    code = value.strip().lower()
    if len(code) != 2 or pycountry.languages.get(alpha_2=code) is None:
        raise bad(field, f"'{value}' is not an ISO 639-1 language code (two letters, e.g. en, fr, de)")
    return code


def text(field: str, value: str | None) -> str:
    if value is None or not value.strip():
        raise bad(field, f"the {field.rsplit('.', 1)[-1]} is empty")
    return value.strip()


def translations(items: dict[str, TranslationIn], main: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for key, item in items.items():
        lang = language(f"translations.{key}", key)
        if lang == main:
            raise bad(f"translations.{key}", f"'{lang}' is the language of the main text, not a translation")
        if lang in out:
            raise bad(f"translations.{key}", f"the translation into '{lang}' is given twice")
        out[lang] = {
            "title": text(f"translations.{key}.title", item.title),
            "body": text(f"translations.{key}.body", item.body),
        }
    return dict(sorted(out.items()))


def approvers(session: Session, ids: list[str]) -> list[str]:
    wanted = list(dict.fromkeys(i.strip() for i in ids if i.strip()))
    if not wanted:
        raise bad("approvers", "name at least one organisation that must approve it")
    found = set(session.scalars(select(Organisation.id).where(Organisation.id.in_(wanted))))
    missing = [i for i in wanted if i not in found]
    if missing:
        raise bad("approvers", f"unknown organisation(s): {', '.join(missing)}")
    return wanted


def embargo(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise bad("embargo_until", "give a time zone, e.g. 2026-11-28T18:00:00Z")
    return value


def marking(value: str) -> TLP:
    tlp = sharing.parse_tlp(value)
    if tlp == TLP.RED:
        raise bad("tlp", "a statement draft must reach its approvers: use AMBER+STRICT or wider")
    if tlp == TLP.CLEAR:
        raise bad(
            "tlp",
            "a draft is not public: mark it GREEN, AMBER or AMBER+STRICT; once released it is "
            "published as a separate TLP:CLEAR copy",
        )
    return tlp


def crisis(session: Session, actor: Principal, crisis_id: str | None) -> Crisis | None:
    if crisis_id is None:
        return None
    found = session.scalars(select(Crisis).where(Crisis.id == crisis_id, read_filter(actor, Crisis))).first()
    if found is None:
        raise bad("crisis", f"no crisis you may see with id {crisis_id}")
    return found


def share_approvers(session: Session, c: Communication, orgs: Iterable[str], added_by: str | None) -> None:
    """Approver organisations read the draft: add those not yet on its share list."""
    present = {(s.kind, s.target) for s in sharing.shares_of(session, c.id)}
    missing = [(ORG, o) for o in orgs if o != c.owner_org_id and (ORG, o) not in present]
    sharing.write(session, object_id=c.id, entries=missing, added_by=added_by)


# --- state --------------------------------------------------------------------------------------------------


def lock(session: Session, c: Communication) -> Communication:
    """Hold the communication row until commit and reload it, so that writers see each other's commits.

    FOR NO KEY UPDATE, not FOR UPDATE: inserting a verdict takes a KEY SHARE lock on this row (its foreign key),
    which FOR UPDATE would wait for, deadlocking two approvals that arrive at once. SQLite ignores the clause; its
    write transactions begin IMMEDIATE and are serialised anyway.
    """
    session.execute(
        select(Communication)
        .where(Communication.id == c.id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    return c


def check_open(c: Communication) -> None:
    if c.state == CommState.RELEASED:
        raise Conflict(f"the {KIND_LABELS[c.kind]} was released on {iso(c.released_at)} and can no longer change")
    if c.state == CommState.WITHDRAWN:
        raise Conflict(f"the {KIND_LABELS[c.kind]} was withdrawn and can no longer change")


def check_version(c: Communication, version: int) -> None:
    if version != c.current_version:
        raise Conflict(
            f"the text changed since you read it (version {version}, now {c.current_version}): "
            "reload it and apply your change again"
        )


def iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else "?"


STALE_FIELD = "confirm_stale_translations"


def stale_refusal(stale: dict[str, int], act: str) -> Conflict:
    """The refusal of an approval while translations lag behind the text (issue 19): naming them, and how to go
    on."""
    named = {lang: pycountry.languages.get(alpha_2=lang) for lang in stale}
    langs = ", ".join(f"{named[lang].name if named[lang] else lang} ({lang})" for lang in stale)
    since = max(stale.values())
    message = (
        f"the {langs} translation{'s were' if len(stale) > 1 else ' was'} not updated since the text changed in "
        f"version {since}: update or remove {'them' if len(stale) > 1 else 'it'}, or {act} confirming that "
        f"{'they go' if len(stale) > 1 else 'it goes'} out as {'they are' if len(stale) > 1 else 'it is'} "
        f"({STALE_FIELD})"
    )
    return Conflict(message, errors=[{"field": STALE_FIELD, "message": message}])
