"""Replicas are read-only here (ADR 0013): the second of two locks, after the authority policy.

A replica is a row of a shareable table whose `origin_node` names the node that holds it: that node decides about
it, and the row changes here only when its signed versions arrive (exchange/replica_apply.py, which writes inside
`writing(session)`). The authority policy refuses every act on a replica but the answers it sends home
(`authority.ANSWERS`); this guard refuses, at flush, any other change to a replica or to a child row of one, so a
service that forgot to ask cannot make a replica diverge from its origin: the write fails with 403 and the
transaction is rolled back.

A child names its parent with `__replica_parent__ = (foreign key attribute, parent class name)`; a parent that is
itself a child is followed up to the shareable row (a report submission -> its report -> its incident). A shareable
row may name a parent too (an offer, its request): it is then guarded as its parent's when it is not a replica
itself. Share rows
name their object by id only: the guard checks those of the kinds that have replicas (`install(kinds)`, by id
prefix). The guard sees what the unit of work flushes; the few bulk UPDATE statements that may touch a replica's
children (the reminder sweeps) filter replicas out themselves.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from cybercrisis.access.models import Share, Shareable
from cybercrisis.errors import PermissionDenied

_WRITER = "cybercrisis.replica_writer"
_KINDS: dict[str, type] = {}  # id prefix -> the shareable model whose replicas exist (incident, alert)


def held_at(obj: Any) -> str | None:
    """The node that holds `obj` when it is a replica, else None (it is this node's own)."""
    return getattr(obj, "origin_node", None)


@contextmanager
def writing(session: Session) -> Iterator[None]:
    """Let the replica writer change replicas in this block (exchange/replica_apply.py only)."""
    session.info[_WRITER] = session.info.get(_WRITER, 0) + 1
    try:
        yield
    finally:
        session.info[_WRITER] -= 1


def refusal(node: str) -> PermissionDenied:
    return PermissionDenied(f"this is held at node {node}, which decides about it: change it there")


def install(kinds: Mapping[str, type]) -> None:
    """Listen to every session's flush, and guard the share rows of these kinds (by id prefix) too (idempotent;
    called by the composition root, `cybercrisis.wiring`)."""
    _KINDS.update(kinds)
    if not event.contains(Session, "before_flush", _guard):
        event.listen(Session, "before_flush", _guard)


def _committed_origin(obj: Shareable) -> str | None:
    state = inspect(obj)
    if "origin_node" in state.committed_state:
        return state.committed_state["origin_node"]  # type: ignore[no-any-return]
    return obj.origin_node


def _parent_class(cls: type) -> tuple[str, type] | None:
    spec = getattr(cls, "__replica_parent__", None)
    if spec is None:
        return None
    attr, name = spec
    registry = cls.registry  # type: ignore[attr-defined]
    return attr, registry._class_registry[name]


def _origin_of(session: Session, cls: type, pk: Any, seen: dict[tuple[type, Any], str | None]) -> str | None:
    """The origin node of the shareable row at the top of `cls` `pk`'s chain of parents (None: ours)."""
    if pk is None:
        return None
    if (cls, pk) in seen:
        return seen[(cls, pk)]
    table: Any = cls
    found: str | None
    if issubclass(cls, Shareable):
        found = session.scalars(select(table.origin_node).where(table.id == pk)).first()
        parent = _parent_class(cls)
        if found is None and parent is not None:  # a shareable row of a replica's (an offer on a request)
            attr, parent_cls = parent
            up = session.scalars(select(getattr(table, attr)).where(table.id == pk)).first()
            found = _origin_of(session, parent_cls, up, seen)
    else:
        parent = _parent_class(cls)
        mapper = inspect(cls)
        key = mapper.primary_key[0] if len(mapper.primary_key) == 1 else None
        if parent is None or key is None:
            found = None
        else:
            attr, parent_cls = parent
            up = session.scalars(select(getattr(table, attr)).where(key == pk)).first()
            found = _origin_of(session, parent_cls, up, seen)
    seen[(cls, pk)] = found
    return found


def _guard(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(_WRITER):
        return
    seen: dict[tuple[type, Any], str | None] = {}
    with session.no_autoflush:
        for obj in (*session.new, *session.dirty, *session.deleted):
            if isinstance(obj, Shareable):
                if obj in session.dirty and not session.is_modified(obj):
                    continue
                node = obj.origin_node or (None if obj in session.new else _committed_origin(obj))
                parent = _parent_class(type(obj))
                if not node and parent is not None:  # a shareable row that belongs to a replica (an offer)
                    node = _origin_of(session, parent[1], getattr(obj, parent[0]), seen)
                if node:
                    raise refusal(node)
                continue
            if isinstance(obj, Share):
                model = _KINDS.get(obj.object_id.split("--", 1)[0])
                node = _origin_of(session, model, obj.object_id, seen) if model is not None else None
                if node:
                    raise refusal(node)
                continue
            parent = _parent_class(type(obj))
            if parent is None:
                continue
            attr, parent_cls = parent
            node = _origin_of(session, parent_cls, getattr(obj, attr), seen)
            if node:
                raise refusal(node)
