"""Audit events as one reader may see them: the audit log, the admin pages and every object timeline read here.

An event about an object the reader may not read keeps its tag, time, actor and place in the chain, and says
nothing else: its object id and summary are withheld. In the summaries of the others, ids of objects the reader
may not read are left out, and so are counts of linked incidents (they would count hidden ones too).

Readability is the read policy's (`access.policy.read_filter`), decided in bulk: ids are grouped by their STIX-style
type prefix (`incident--…`), each prefix is mapped to the table of shareable objects that holds it (learned as
`exchange.importer.local_types` does, in one query), and each table is asked once for a whole page of events.
The hash chain is not touched: this is a view of it.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, true, union_all
from sqlalchemy.orm import Session

from cybercrisis.access.models import Shareable
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.audit.models import AuditEvent
from cybercrisis.db import Base
from cybercrisis.schemas import TimelineEntry

# `<type>--<uuid>`: our own ids (db.new_id), organisations' deterministic ones and STIX ids alike.
ID = re.compile(r"\b[a-z][a-z0-9-]*--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
# Ids of what is administration, not shared content: user accounts, API tokens, federation peers. The audit log's
# readers (administrators) see them; everything else is decided by the policy or withheld.
NOT_SHARED = frozenset({"user", "api-token", "peer"})
DIRECTORY = "identity"  # organisations: who-is-who, readable by every signed-in user
# Summary keys whose number counts linked incidents, some of which the reader may not read.
LINK_COUNTS = frozenset({"incidents"})


@dataclass(frozen=True, slots=True)
class ShownEvent:
    """One audit event as its reader may see it."""

    seq: int
    occurred_at: datetime
    tag: str
    actor_user_id: str | None
    actor_org_id: str | None
    token_id: str | None
    request_id: str | None
    hash: str
    object_id: str | None
    summary: dict[str, Any]
    withheld: bool


def _prefix(object_id: str) -> str:
    return object_id.split("--", 1)[0]


def _shareable_models() -> list[type]:
    import cybercrisis.models  # noqa: F401 - every table registered, so that no kind of object escapes the check

    return sorted(
        (m.class_ for m in Base.registry.mappers if issubclass(m.class_, Shareable)), key=lambda c: c.__name__
    )


def _tables_by_prefix(session: Session) -> dict[str, list[type]]:
    """Each table of shareable objects under the id prefix its rows carry, from one row each, in one query.

    An empty table holds nothing to decide about; ids of its prefix fall through to the checks after it."""
    models = _shareable_models()
    row = session.execute(
        select(*(select(m.id).limit(1).scalar_subquery().label(f"t{i}") for i, m in enumerate(models)))  # type: ignore[attr-defined]
    ).one()
    out: dict[str, list[type]] = defaultdict(list)
    for model, one in zip(models, row, strict=True):
        if one is not None:
            out[_prefix(str(one))].append(model)
    return out


def ids_in(value: object) -> Iterable[str]:
    """Every STIX-style id in a summary (strings, lists and objects, at any depth)."""
    if isinstance(value, str):
        yield from ID.findall(value)
    elif isinstance(value, list):
        for item in value:
            yield from ids_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from ids_in(item)


def readable_ids(session: Session, reader: Principal, ids: Iterable[str], *, known: Collection[str] = ()) -> set[str]:
    """Those of `ids` the reader may read: one query for the tables involved (one to map prefixes to tables, one
    for what no table holds).

    `known` are ids the caller has already found readable (the object of a page), not asked again."""
    from cybercrisis.directory.models import Organisation
    from cybercrisis.exchange.models import StixObject
    from cybercrisis.incidents.models import Incident, Report

    wanted = set(ids)
    out = wanted & set(known)
    todo: dict[str, set[str]] = defaultdict(set)
    for i in wanted - out:
        prefix = _prefix(i)
        if prefix in NOT_SHARED:
            out.add(i)
        else:
            todo[prefix].add(i)
    if not todo:
        return out

    decided: set[str] = set()

    def ask(query: Any) -> None:
        for object_id, may in session.execute(query):
            decided.add(object_id)
            if may:
                out.add(object_id)

    questions: list[Any] = []
    tables = _tables_by_prefix(session) if set(todo) - {DIRECTORY} else {}
    for prefix, models in tables.items():
        for model in models if prefix in todo else ():
            column: Any = model.id  # type: ignore[attr-defined]
            questions.append(
                select(column, case((read_filter(reader, model), True), else_=False)).where(
                    column.in_(sorted(todo[prefix]))
                )
            )
    if todo.get("report"):  # a report of an incident is read with its incident
        questions.append(
            select(Report.id, case((read_filter(reader, Incident), True), else_=False))
            .join(Incident, Incident.id == Report.incident_id)
            .where(Report.id.in_(sorted(todo["report"])))
        )
    if todo.get(DIRECTORY):
        questions.append(select(Organisation.id, true()).where(Organisation.id.in_(sorted(todo[DIRECTORY]))))
    # The questions to several tables go as one statement: (id, may the reader read it) rows of each.
    if len(questions) > 1:
        ask(union_all(*questions))
    elif questions:
        ask(questions[0])
    # Anything else is a STIX object of the store (readable if one of its versions is), or no longer exists.
    rest = sorted({i for same in todo.values() for i in same} - decided)
    if rest:
        may = func.max(case((read_filter(reader, StixObject), 1), else_=0))
        ask(select(StixObject.id, may).where(StixObject.id.in_(rest)).group_by(StixObject.id))
    return out


def _redact(value: Any, readable: set[str]) -> Any:
    """`value` with every id the reader may not read left out (a string naming one is left out whole)."""
    if isinstance(value, str):
        return value if all(i in readable for i in ID.findall(value)) else None
    if isinstance(value, list):
        return [kept for kept in (_redact(v, readable) for v in value) if kept is not None]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in LINK_COUNTS and isinstance(item, int) and not isinstance(item, bool):
                continue
            kept = _redact(item, readable)
            if kept is not None or item is None:
                out[key] = kept
        return out
    return value


def shown(
    session: Session, reader: Principal, events: Sequence[AuditEvent], *, known: Collection[str] = ()
) -> list[ShownEvent]:
    """Every event, each as the reader may see it (the audit log: withheld ones keep their tag, time and actor)."""
    summaries = [json.loads(e.summary) for e in events]
    named = {e.object_id for e in events if e.object_id} | {i for s in summaries for i in ids_in(s)}
    readable = readable_ids(session, reader, named, known=known)
    out = []
    for e, summary in zip(events, summaries, strict=True):
        hidden = e.object_id is not None and e.object_id not in readable
        out.append(
            ShownEvent(
                seq=e.seq,
                occurred_at=e.occurred_at,
                tag=e.tag,
                actor_user_id=e.actor_user_id,
                actor_org_id=e.actor_org_id,
                token_id=e.token_id,
                request_id=e.request_id,
                hash=e.hash,
                object_id=None if hidden else e.object_id,
                summary={} if hidden else _redact(summary, readable),
                withheld=hidden,
            )
        )
    return out


def visible(
    session: Session, reader: Principal, events: Sequence[AuditEvent], *, known: Collection[str] = ()
) -> list[ShownEvent]:
    """Only the events about objects the reader may read, each as they may see it (timelines)."""
    return [e for e in shown(session, reader, events, known=known) if not e.withheld]


def timeline_out(e: ShownEvent) -> TimelineEntry:
    """One shown event as the API and the crisis room serialise a timeline entry."""
    return TimelineEntry(
        seq=e.seq,
        at=e.occurred_at,
        tag=e.tag,
        actor_user_id=e.actor_user_id,
        actor_org_id=e.actor_org_id,
        summary=e.summary,
    )
