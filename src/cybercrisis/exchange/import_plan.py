"""Deciding about each batch of checked objects (exchange/importer.py): who holds an id, which copy a version goes
to, its TLP and share rows. The plan it makes is written by exchange/import_write.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import literal, select
from sqlalchemy.orm import Session

from cybercrisis.access import sharing
from cybercrisis.access.models import Share, Shareable
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.schemas import ShareWith
from cybercrisis.access.tlp import TLP
from cybercrisis.db import Base
from cybercrisis.errors import InvalidInput
from cybercrisis.exchange import bulk, copies
from cybercrisis.exchange import node as nodes
from cybercrisis.exchange.import_checks import MARKING_TLP, Candidate, ImportResult, Rejected, tlp_of
from cybercrisis.exchange.import_write import Plan, chunks
from cybercrisis.exchange.models import StixObject


def _local_models() -> list[type]:
    return sorted(
        (m.class_ for m in Base.registry.mappers if issubclass(m.class_, Shareable)), key=lambda c: c.__name__
    )


def local_types(session: Session) -> dict[str, list[type]]:
    """The id prefixes (`incident`, `crisis`, ...) of this node's own objects, with the tables that hold them.

    Each table's ids share one prefix, so one indexed row per table tells it; an empty table holds nothing an
    import could collide with. Read once per import, so that `holders` asks only the tables that matter."""
    out: dict[str, list[type]] = {}
    for m in _local_models():
        one = session.scalars(select(m.id).limit(1)).first()  # type: ignore[attr-defined]
        if one is not None:
            out.setdefault(str(one).split("--", 1)[0], []).append(m)
    return out


@dataclass(frozen=True, slots=True)
class Received:
    """What came with a federated object: its origin signature block, the share list it signs (as sent) and the
    entries of that list that exist here."""

    block: dict[str, str]
    entries: list[tuple[str, str]]
    signed: list[Any]
    relayed_by: str | None = None  # the relay it came through, when not from its origin (ADR 0013)


class ImportJob:
    """One import's state: who imports, the resolved recipients per TLP, the markings known, what was seen."""

    def __init__(
        self,
        session: Session,
        actor: Principal | None,
        *,
        owner: str,
        default: TLP,
        share_with: ShareWith | None,
        origin: str,
        reader: Principal | None = None,
    ) -> None:
        self.session, self.actor, self.owner, self.default, self.share_with = session, actor, owner, default, share_with
        self.origin = origin
        self.reader = reader  # whose view decides the answers (the importing user; None for a peer's objects)
        self.result = ImportResult()
        self.known_markings: set[str] = set(MARKING_TLP)
        self.seen: set[tuple[str, datetime, str]] = set()  # (id, version, share key) planned
        self.newest: dict[tuple[str, str], datetime] = {}  # per copy (id, share key): the newest version
        self.keys: dict[str, str] = {}  # the share key of each new copy this import makes
        # Share rows stored or planned, by share key: {key: {(kind, target)}} (indexed: an import of 100,000 objects
        # must not scan every row for each one).
        self.shared: dict[str, set[tuple[str, str]]] = {}
        self.local_tables = local_types(session)
        self.received: dict[int, Received] = {}  # federated objects, by input index
        self.changed: set[int] = set()  # input indexes stored as a new version, or again with a new share list
        # Checks that the recipients exist (and fit the default TLP) before anything is written.
        self.resolved: dict[TLP, list[tuple[str, str]] | str] = {}
        if share_with is not None:
            self.resolved[default] = self._resolve(default)

    def _resolve(self, tlp: TLP) -> list[tuple[str, str]]:
        return sharing.resolve(
            self.session,
            tlp=tlp,
            share_with=self.share_with or ShareWith(),
            owner_org_id=self.owner,
            author_id=self.actor.user_id if self.actor else None,
        )

    def recipients(self, tlp: TLP) -> list[tuple[str, str]] | str:
        """The share entries for an object of this TLP, or why the requested recipients do not fit it."""
        if tlp not in self.resolved:
            try:
                self.resolved[tlp] = self._resolve(tlp)
            except InvalidInput as exc:
                self.resolved[tlp] = f"object_marking_refs: the object is {tlp.label}: {exc.detail}"
        return self.resolved[tlp]

    def learn_markings(self, checked: Sequence[Candidate | Rejected]) -> None:
        """Known markings: the fixed TLP ids, the valid marking definitions of this input, stored readable ones."""
        candidates = [c for c in checked if isinstance(c, Candidate)]
        self.known_markings |= {c.id for c in candidates if c.type == "marking-definition"}
        unknown = {r for c in candidates for r in c.markings} - self.known_markings
        for chunk in chunks(sorted(unknown)):
            self.known_markings.update(
                self.session.scalars(
                    select(StixObject.id).where(
                        StixObject.id.in_(chunk),
                        StixObject.type == "marking-definition",
                        read_filter(self.actor, StixObject) if self.actor else literal(True),
                    )
                )
            )

    def reject(self, c: Candidate | Rejected, reason: str | None = None) -> None:
        self.result.rejected.append(c if isinstance(c, Rejected) else Rejected(c.index, c.id, reason or "rejected"))

    def _known(self, chunk: Sequence[Candidate | Rejected]) -> list[Candidate]:
        """The candidates whose markings are known; the others, and the rejected, are rejected."""
        candidates: list[Candidate] = []
        for c in chunk:
            missing = (
                None if isinstance(c, Rejected) else next((r for r in c.markings if r not in self.known_markings), None)
            )
            if isinstance(c, Rejected) or missing is not None:
                self.reject(c, f"object_marking_refs: unknown marking definition {missing}")
            else:
                candidates.append(c)
        return candidates

    def batch(self, chunk: Sequence[Candidate | Rejected]) -> Plan:
        """Decide about one batch with four queries (stored versions with whether the importer may read them,
        local objects, share rows); write nothing."""
        plan = Plan()
        candidates = self._known(chunk)
        if not candidates:
            return plan
        ids = sorted({c.id for c in candidates})
        # Most ids of a feed are new: one query with the ids as one parameter tells which are stored at all, and
        # only those are looked up version by version.
        present = self.session.scalars(select(StixObject.id).where(bulk.among(self.session, StixObject.id, ids)))
        stored = copies.held(self.session, sorted(set(present)), self.reader)
        local = copies.local_objects(self.session, ids, self.local_tables, self.reader)
        for versions in stored.values():
            for h in versions:
                copy = (h.id, h.share_id)
                self.newest[copy] = max(h.modified, self.newest.get(copy, h.modified))
        decided: list[tuple[Candidate, Decision]] = []
        for c in candidates:
            received = self.received.get(c.index)
            held = stored.get(c.id, [])
            d = self._receipt(c, received, held, local) if received else self._import(c, held, local)
            if d.reason is not None:
                self.reject(c, d.reason)
            elif d.key is None:
                self.result.unchanged += 1
            else:
                decided.append((c, d))
        keys = sorted({d.key for _, d in decided if d.key})
        found = self.session.execute(
            select(Share.object_id, Share.kind, Share.target).where(bulk.among(self.session, Share.object_id, keys))
        )
        for key, kind, target in found:
            self.shared.setdefault(key, set()).add((kind, target))
        existing = {h.share_id for versions in stored.values() for h in versions}
        for c, d in decided:
            self._plan(plan, c, d, existing)
        lists: dict[frozenset[tuple[str, str]], list[dict[str, str]]] = {}  # one list object per share list
        for row in plan.rows:
            if row["origin_node"] is None:
                entries = frozenset(self.shared.get(row["share_id"], ()))
                if entries not in lists:
                    lists[entries] = nodes.canonical_shares(entries)
                row["shares"] = lists[entries]
        return plan

    def _plan(self, plan: Plan, c: Candidate, d: Decision, existing: set[str]) -> None:
        """Add one accepted version, and the share rows of its copy, to the plan."""
        key = str(d.key)
        if (c.id, c.modified, key) in self.seen:  # repeated in the input
            self.result.unchanged += 1
            return
        received = self.received.get(c.index)
        # A received object keeps the TLP its origin node applied (signed), even if its markings say nothing.
        tlp = TLP(received.block["tlp"]) if received else tlp_of(c, self.default)
        entries = fit(received.entries, tlp) if received else self.recipients(tlp)
        if isinstance(entries, str):
            self.reject(c, entries)
            return
        if received is not None:
            # A copy from a peer has the recipients its origin signed last, and no others.
            if {(k, t) for k, t in self.shared.get(key, ()) if k in nodes.SHARE_KINDS} != set(entries):
                plan.reshare[key] = (received.block["owner"], sorted(set(entries)))
                self.shared[key] = set(entries)
        else:
            known = self.shared.setdefault(key, set())
            for kind, target in entries:
                if (kind, target) not in known:
                    known.add((kind, target))
                    plan.shares.append(
                        {"object_id": key, "kind": kind, "target": target, "added_by_org_id": self.owner}
                    )
                    if key in existing and kind in nodes.SHARE_KINDS:  # served versions travel with the new list
                        plan.reserve.add(key)
        self.seen.add((c.id, c.modified, key))
        self.changed.add(c.index)
        if d.resign is not None and received is not None:
            plan.resigned[d.resign.seq] = (received.block, received.signed)
            self.result.updated += 1
            return
        owner = received.block["owner"] if received else self.owner
        self._place(plan, c, self._row(c, tlp, owner, received, key))
        self.result.imported += 1
        self.result.custom += c.custom

    def _import(self, c: Candidate, held: list[copies.Held], local: dict[str, bool]) -> Decision:
        """Where an importer's version goes: decided only from what the importing user may read, so that the answer
        is the same whether or not something hidden from them holds the id (issue 12)."""
        org = self.owner
        if copies.content_addressed(c.type, c.id, c.obj):
            if any(h.readable and h.modified == c.modified and h.owner == org for h in held):
                return Decision()  # e.g. an observable of our own incident, exported and imported again
            return Decision(key=self._own_copy(c.id, held))
        if any(h.readable and h.modified == c.modified for h in held):
            return Decision()
        mine = [h for h in held if h.imported_by(org)]
        if c.id in local or len(mine) < len(held) or not all(h.readable for h in mine):
            return Decision(reason=self._held_elsewhere(c.id, held, local))
        return Decision(key=mine[0].share_id if mine else c.id)

    def _own_copy(self, oid: str, held: list[copies.Held]) -> str:
        """The importer's organisation's copy of a content-addressed id: the oldest copy it imported whose every
        version the importing user may read (adding recipients to it widens nothing hidden from them), else a new
        one: keyed by the id itself when no copy uses that key yet."""
        by_key: dict[str, list[copies.Held]] = {}
        for h in held:  # oldest first
            by_key.setdefault(h.share_id, []).append(h)
        for key, versions in by_key.items():
            if all(h.imported_by(self.owner) and h.readable for h in versions):
                return key
        if oid not in self.keys:
            self.keys[oid] = oid if oid not in by_key else copies.new_key()
        return self.keys[oid]

    def _held_elsewhere(self, oid: str, held: list[copies.Held], local: dict[str, bool]) -> str:
        """Why a version of an id held by someone else is refused, saying only what the importer may read. Such ids
        are random UUIDs: only someone who has the object knows one, so the refusal tells them nothing new."""
        seen = [h for h in held if h.readable]
        if local.get(oid) or any(h.local for h in seen):
            return f"{oid} is one of this node's own objects: change it through the platform"
        node = next((h.origin_node for h in seen if h.origin_node), None)
        if node is not None:
            return f"{oid} came from node {node}: new versions of it arrive only from that node"
        if any(h.owner != self.owner for h in seen):
            return f"id {oid} is held on this node by another organisation; only its holder imports new versions of it"
        return f"id {oid} is already held on this node; only its holder imports new versions of it"

    def _receipt(self, c: Candidate, received: Received, held: list[copies.Held], local: dict[str, bool]) -> Decision:
        """Where a peer's version goes: the copy of its origin node (and, for content-addressed ids, of the origin's
        copy); an id held here otherwise (ours, another node's, an organisation's import) is refused."""
        node, owner = received.block["node"], received.block["owner"]
        if copies.content_addressed(c.type, c.id, c.obj):
            key = copies.received_key(node, received.block["copy"])
        else:
            key = c.id
            if c.id in local or any((h.origin_node, h.owner, h.share_id) != (node, owner, key) for h in held):
                return Decision(
                    reason=f"id {c.id} is held on this node by another organisation or node; only its "
                    "holder adds versions of it"
                )
        same = next((h for h in held if h.share_id == key and h.modified == c.modified), None)
        if same is None:
            return Decision(key=key)
        if same.shares != received.signed:
            return Decision(key=key, resign=same)  # its origin re-served it with another share list
        return Decision()

    def _place(self, plan: Plan, c: Candidate, row: dict[str, Any]) -> None:
        """Add a new version to the plan, keeping `latest` true on the newest version of each copy only."""
        copy = (c.id, row["share_id"])
        newest = self.newest.get(copy)
        if newest is None or c.modified > newest:
            self.newest[copy] = c.modified
            if newest is not None:
                plan.superseded[copy] = c.modified
                for planned in plan.rows:  # an older version earlier in this batch
                    if (planned["id"], planned["share_id"]) == copy:
                        planned["latest"] = False
        else:
            row["latest"] = False
        plan.rows.append(row)

    def _row(self, c: Candidate, tlp: TLP, owner: str, received: Received | None, key: str) -> dict[str, Any]:
        return {
            "id": c.id,
            "modified": c.modified,
            "type": c.type,
            "spec_version": "2.1",
            "custom": c.custom,
            "revoked": c.obj.get("revoked") is True,
            "data": c.obj,
            "tlp": tlp.value,
            "owner_org_id": owner,
            "created_by_id": self.actor.user_id if self.actor else None,
            "exercise": False,
            "origin": self.origin,
            "share_id": key,
            "latest": True,
            "origin_node": received.block["node"] if received else None,
            "signature": received.block if received else None,
            "signed": received is not None,
            "shares": received.signed if received else None,
            "relayed_by": received.relayed_by if received else None,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """About one version: refused (`reason`), already here (no `key`), or stored in the copy `key` (`resign`: a
    version already stored, received again with another signed share list)."""

    key: str | None = None
    reason: str | None = None
    resign: copies.Held | None = None


def fit(entries: list[tuple[str, str]], tlp: TLP) -> list[tuple[str, str]]:
    """The received recipients that the TLP allows (RED: none; AMBER+STRICT: organisations only): received share
    lists are narrowed, never refused, so that a peer's object is stored with no wider audience than it allows."""
    if tlp == TLP.RED:
        return []
    if tlp == TLP.AMBER_STRICT:
        return [(k, t) for k, t in entries if k == "organisation"]
    return entries
