"""Reading communications: one through the access layer, its versions and verdicts, who it waits for, and what
changed between two versions."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access import sharing
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.comms.models import (
    Communication,
    CommunicationApproval,
    CommunicationVersion,
    Publication,
    Verdict,
)
from cybercrisis.crises.models import Crisis
from cybercrisis.directory.models import Organisation
from cybercrisis.errors import NotFound
from cybercrisis.situation.schemas import FieldChange


def get(session: Session, actor: Principal, communication_id: str) -> Communication:
    """Through the access layer: a communication the reader may not see is 404."""
    return sharing.get_readable(session, actor, Communication, communication_id)


def versions(session: Session, communication_id: str) -> list[CommunicationVersion]:
    return list(
        session.scalars(
            select(CommunicationVersion)
            .where(CommunicationVersion.communication_id == communication_id)
            .order_by(CommunicationVersion.number)
        )
    )


def stale_translations(rows: list[CommunicationVersion]) -> dict[str, int]:
    """The translations of the latest of these versions (in order) that did not change since the text in the main
    language last changed: language -> the version that changed the text. A translation changed in that same
    version counts as updated."""
    source, changed = 0, {}
    previous: CommunicationVersion | None = None
    for v in rows:
        if previous is None or (v.title, v.body) != (previous.title, previous.body):
            source = v.number
        for lang, t in v.translations.items():
            if previous is None or previous.translations.get(lang) != t:
                changed[lang] = v.number
        previous = v
    current = previous.translations if previous is not None else {}
    return {lang: source for lang in sorted(current) if changed.get(lang, 0) < source}


def approvals(session: Session, communication_id: str) -> list[CommunicationApproval]:
    return list(
        session.scalars(
            select(CommunicationApproval)
            .where(CommunicationApproval.communication_id == communication_id)
            .order_by(CommunicationApproval.version, CommunicationApproval.at, CommunicationApproval.org_id)
        )
    )


def waiting_for(c: Communication, rows: Iterable[CommunicationApproval]) -> list[str]:
    """Approver organisations that have not approved the current version, in the approvers' order."""
    done = {r.org_id for r in rows if r.version == c.current_version and r.verdict == Verdict.APPROVE}
    return [o for o in c.approvers if o not in done]


def waiting_for_many(session: Session, comms: Sequence[Communication]) -> dict[str, list[str]]:
    """`waiting_for` of a page of communications in one query."""
    if not comms:
        return {}
    rows = session.scalars(
        select(CommunicationApproval).where(
            CommunicationApproval.communication_id.in_(sorted({c.id for c in comms})),
            CommunicationApproval.verdict == Verdict.APPROVE.value,
        )
    ).all()
    by_comm: dict[str, list[CommunicationApproval]] = {c.id: [] for c in comms}
    for r in rows:
        by_comm[r.communication_id].append(r)
    return {c.id: waiting_for(c, by_comm[c.id]) for c in comms}


def org_names(session: Session, ids: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.execute(select(Organisation.id, Organisation.short_name).where(Organisation.id.in_(wanted)))
    return dict(rows.all())


def readable_crises(session: Session, reader: Principal, crisis_ids: Iterable[str | None]) -> set[str]:
    """The crises among these that the reader may see (a communication shows its crisis only to them)."""
    wanted = sorted({i for i in crisis_ids if i})
    if not wanted:
        return set()
    return set(session.scalars(select(Crisis.id).where(Crisis.id.in_(wanted), read_filter(reader, Crisis))))


def publication_of(session: Session, communication_id: str) -> Publication | None:
    return session.scalars(select(Publication).where(Publication.communication_id == communication_id)).first()


def _content(v: CommunicationVersion) -> dict[str, str]:
    out = {"title": v.title, "body": v.body}
    for lang, t in sorted(v.translations.items()):
        out[f"translations.{lang}.title"] = t.get("title", "")
        out[f"translations.{lang}.body"] = t.get("body", "")
    return out


def diff(session: Session, communication_id: str, a: int, b: int) -> list[FieldChange]:
    """Per field (title, body, and each translation's title and body): before, after and a unified diff."""
    by_number = {v.number: v for v in versions(session, communication_id)}
    for n in (a, b):
        if n not in by_number:
            raise NotFound(f"no version {n} of {communication_id}; versions: {sorted(by_number)}")
    before, after = _content(by_number[a]), _content(by_number[b])
    changes = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        lines = list(
            difflib.unified_diff(
                (old or "").splitlines(), (new or "").splitlines(), f"version {a}", f"version {b}", lineterm=""
            )
        )
        changes.append(FieldChange(field=key, before=old, after=new, diff=lines))
    return changes
