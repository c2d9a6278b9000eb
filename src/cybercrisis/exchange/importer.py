"""STIX 2.1 import into the store of STIX objects (ADR 0008): checked, idempotent, fast, one audit entry.

`ingest` checks every object (type, `<type>--<uuid>` id, spec_version 2.1, RFC 3339 timestamps with a zone, known
markings), keeps custom (`x-`) objects and custom properties as received, and stores each new version
(`id`, `modified`) once, owned by the importer's organisation, with the TLP of its marking and share rows from
`share_with`. A version already stored is `unchanged` and nothing is written. `atomic=True` refuses the whole input
when any object is rejected. The caller owns the transaction: the API request, or one per file in the CLI.

Speed: objects are checked in Python, existing versions are looked up ~1,000 ids per query, rows are inserted with
Core executemany and share rows in bulk; there is no per-object SELECT.

Who holds an id (exchange/copies.py, issue 12): share rows are keyed by each copy's share key, so all versions of a
copy share one list. An import never adds a version or a recipient to another holder's copy: an observable (or
another id anyone may compute from content) gets the importing organisation's own copy, and any other id held here
by someone else (another organisation, a peer node, this node's own objects) is refused, so a user can never make
a version that the node would then sign as another organisation's. Every answer (unchanged, imported, the reason
of a refusal) is decided from what the importing user may read: an id that only hidden objects hold gets the same
answer as an id nobody holds, except for the refusal of a random id (see `_Import._held_elsewhere`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from cybercrisis import textcheck
from cybercrisis.access import sharing
from cybercrisis.access.permissions import Permission
from cybercrisis.access.principal import Principal
from cybercrisis.access.schemas import ShareWith
from cybercrisis.access.tlp import TLP
from cybercrisis.audit import service as audit
from cybercrisis.directory.models import Community, Organisation
from cybercrisis.errors import InvalidInput, PermissionDenied
from cybercrisis.exchange import bulk, federation_wake, replica_apply
from cybercrisis.exchange import node as nodes
from cybercrisis.exchange.import_checks import (
    MARKING_TLP,
    MAX_ID,
    MAX_ORIGIN,
    TLP1_MARKING_IDS,
    TLP_VALUES,
    ImportResult,
    NotStix21,
    Rejected,
    bundle_objects,
    check,
    loads,
)
from cybercrisis.exchange.import_plan import ImportJob, Received, local_types
from cybercrisis.exchange.import_write import Plan, added_now, chunks
from cybercrisis.exchange.models import NO_MODIFIED

MAX_LISTED = 20  # rejections listed in an atomic refusal
ANALYZE_AFTER = 5000  # imports this large refresh PostgreSQL's statistics of the store
# What other modules use from here (publish.py checks its own mapping with the importer's checks).
_check = check
__all__ = [
    "MARKING_TLP",
    "NO_MODIFIED",
    "TLP1_MARKING_IDS",
    "ImportResult",
    "Rejected",
    "added_now",
    "bundle_objects",
    "ingest",
    "loads",
    "local_types",
    "receive",
]


def ingest(
    session: Session,
    *,
    actor: Principal,
    objects: Iterable[dict[str, Any]],
    origin: str,
    default_tlp: str = "amber",
    share_with: ShareWith | None = None,
    atomic: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Store the STIX 2.1 objects of one input (a bundle's `objects`) in the caller's transaction.

    - `actor` needs `exchange:object:import` and an organisation, which owns the stored copies.
    - Each object is checked; rejected ones are listed (in input order) with their position, id and reason.
      An object with a spec_version other than 2.1 refuses the whole input (InvalidInput), as does an invalid
      `share_with` or `default_tlp`. With `atomic=True` any rejection refuses the whole input (InvalidInput
      listing up to 20, nothing written); otherwise the valid objects are stored.
    - TLP: the strictest TLP 2.0/1.0 marking in `object_marking_refs`, else `default_tlp`. Share rows: `share_with`
      checked with access.sharing.resolve against that TLP (default: GREEN -> the importer's communities,
      AMBER and stricter -> the importer's organisation only). An object whose TLP does not allow the requested
      recipients (e.g. communities for a RED object) is rejected.
    - A version (`id`, `modified`; `created` or 1970-01-01 when absent) that the importing user may already read
      (for observables: in a copy of their organisation), or repeated in the input, counts as unchanged and
      writes nothing. A version of an id held by someone else is refused, or for an observable stored in the
      organisation's own copy (exchange/copies.py).
    - `progress(n)` is called after each batch of about 1,000 objects, with `n` the number of input objects
      that batch handled (add them up for a running total).
    - One audit entry for the whole import: `exchange:import:stix` with the counts and `origin`.
    """
    actor.require(Permission.EXCHANGE_IMPORT)
    if not actor.org_id or not actor.user_id:
        raise PermissionDenied("importing needs a user of an organisation, which owns the imported copies")
    default = sharing.parse_tlp(default_tlp, field="tlp")
    job = ImportJob(
        session,
        actor,
        owner=actor.org_id,
        default=default,
        share_with=share_with or ShareWith(),
        origin=origin[:MAX_ORIGIN],
        reader=actor,
    )
    items = objects if isinstance(objects, list) else list(objects)
    result = _run(session, job, items, atomic=atomic, progress=progress)
    _audit(
        session,
        actor,
        "exchange:import:stix",
        job,
        result,
        custom=result.custom,
        atomic=atomic,
        default_tlp=default.value,
    )
    return result


def _audit(
    session: Session, actor: Principal | None, tag: str, job: ImportJob, result: ImportResult, **extra: Any
) -> None:
    """One audit entry for a whole import or receipt: where from and the counts."""
    summary = {
        "origin": job.origin,
        "imported": result.imported,
        "unchanged": result.unchanged,
        "rejected": len(result.rejected),
    }
    audit.record(session, actor=actor, tag=tag, object_id=None, summary=summary | extra)


def _run(
    session: Session, job: ImportJob, items: list[Any], *, atomic: bool, progress: Callable[[int], None] | None
) -> ImportResult:
    try:
        checked = [check(i, obj) for i, obj in enumerate(items)]
    except NotStix21 as exc:
        raise InvalidInput(str(exc), errors=[{"field": "spec_version", "message": str(exc)}]) from None
    job.learn_markings(checked)

    # Serialise with other imports and audit writers from here (the audit chain's lock: a PostgreSQL advisory
    # lock; SQLite write transactions are IMMEDIATE anyway), so that the versions looked up below cannot change
    # before they are written, and `seq` and `added_at` grow in commit order (ADR 0008).
    audit.lock(session)
    now = added_now(session)

    plans: list[Plan] = []
    with bulk.large_write(session):
        for chunk in chunks(checked):
            plan = job.batch(chunk)
            if atomic:
                plans.append(plan)
            else:
                plan.write(session, now)
            if progress is not None:
                progress(len(chunk))

    result = job.result
    result.rejected.sort(key=lambda r: r.index)
    if atomic and result.rejected:
        listed = result.rejected[:MAX_LISTED]
        more = f"; the first {len(listed)} are listed" if len(result.rejected) > len(listed) else ""
        raise InvalidInput(
            f"{len(result.rejected)} object(s) rejected, so nothing was imported (atomic){more}",
            errors=[
                {"field": f"objects[{r.index}]", "message": r.reason, "id": r.id, "index": r.index} for r in listed
            ],
        )
    with bulk.large_write(session):
        for plan in plans:
            plan.write(session, now)
    if result.imported >= ANALYZE_AFTER and session.get_bind().dialect.name == "postgresql":
        # Fresh planner statistics now rather than at autovacuum's next pass: with stale ones PostgreSQL drives a
        # TAXII page from the share rows and sorts the whole collection instead of walking `seq` (measured 50 ms
        # against 4 ms for a page of a 10,000-object collection).
        session.execute(text("ANALYZE stix_objects"))
        session.execute(text("ANALYZE shares"))
    return result


def _received_entries(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        return []
    out = []
    for entry in value:
        if isinstance(entry, dict) and entry.get("kind") in ("organisation", "community"):
            target = entry.get("target")
            if isinstance(target, str) and 0 < len(target) <= MAX_ID:
                out.append((entry["kind"], target))
    return out


_Pending = dict[int, tuple[dict[str, str], list[tuple[str, str]], list[Any], str | None]]
# What a relay passes on (ADR 0013 point 5): never AMBER+STRICT (the recipient organisation only) nor RED.
RELAYABLE = frozenset({TLP.CLEAR.value, TLP.GREEN.value, TLP.AMBER.value})


def _relay_refusal(raw: dict[str, Any], block: dict[str, Any], relays: Mapping[str, str], via: str) -> str | None:
    """Why a version signed by another node than the sender may not come through it; None when it may: its origin
    was pinned through this sender (`node pin --via`), the sender got it first hand, and it is CLEAR to AMBER."""
    node = block["node"]
    if node not in relays:
        # Only the origin node speaks for its objects: a user who merely holds one does not, nor an unpinned relay.
        return (
            f"objects signed by node {node} arrive only from that node, or through a relay it was pinned with "
            f"(node pin); this came {via}"
        )
    if raw.get(nodes.RELAYED):
        return (
            f"relayed twice (by {raw[nodes.RELAYED]}, then {relays[node]}): a relay passes on only first-hand versions"
        )
    if block.get("tlp") not in RELAYABLE:
        return f"TLP:{str(block.get('tlp')).upper()} is never relayed: it arrives only from its origin node"
    return None


def _unpack(
    items: list[Any],
    ring: nodes.KeyRing,
    local_node: str,
    senders: Collection[str],
    via: str,
    relays: Mapping[str, str],
) -> tuple[list[Any], _Pending, list[Rejected], int]:
    """Each received object without its envelope (None when set aside), the verified signature blocks, share
    entries and signed share lists by position, the rejections so far, and how many were ours coming back."""
    stripped: list[Any] = []
    pending: _Pending = {}
    early: list[Rejected] = []
    ours = 0
    for index, raw in enumerate(items):
        if not isinstance(raw, dict):
            stripped.append(raw)
            continue
        obj = {k: v for k, v in raw.items() if k not in nodes.ENVELOPE}
        block = raw.get(nodes.ORIGIN)
        oid = obj["id"] if isinstance(obj.get("id"), str) else None
        if block is None:
            early.append(Rejected(index, oid, f"unsigned: a peer's object carries its origin node's {nodes.ORIGIN}"))
            stripped.append(None)
            continue
        if isinstance(block, dict) and block.get("node") == local_node:
            ours += 1  # one of ours, back from a peer: never stored twice, never sent on again
            stripped.append(None)
            continue
        relayed_by = None
        if isinstance(block, dict) and isinstance(block.get("node"), str) and block["node"] not in senders:
            why = _relay_refusal(raw, block, relays, via)
            if why is not None:
                early.append(Rejected(index, oid, why))
                stripped.append(None)
                continue
            relayed_by = relays[block["node"]]
        reason = nodes.verify(raw, block, ring)
        if reason is not None:
            early.append(Rejected(index, oid, reason))
            stripped.append(None)
            continue
        signed = raw.get(nodes.SHARES, [])
        pending[index] = (
            dict(block),
            _received_entries(signed),
            signed if isinstance(signed, list) else [],
            relayed_by,
        )
        stripped.append(obj)

    return stripped, pending, early, ours


def _unreadable(items: list[Any]) -> dict[int, Rejected]:
    """The received objects holding text that is not valid Unicode, by position, each with the reason."""
    out: dict[int, Rejected] = {}
    for index, obj in enumerate(items):
        problem = textcheck.find_problem(obj)
        if problem is not None:
            oid = obj.get("id") if isinstance(obj, dict) else None
            safe = textcheck.printable(oid) if isinstance(oid, str) else None
            out[index] = Rejected(index, safe, f"{problem.field}: {problem.message}")
    return out


def receive(
    session: Session,
    *,
    objects: Iterable[Any],
    ring: nodes.KeyRing,
    local_node: str,
    actor: Principal | None,
    origin: str,
    senders: Collection[str],
    via: str,
    relays: Mapping[str, str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Store objects from a peer node (pulled by the sync job, or pushed to our TAXII server), ADR 0008.

    `relays`: the origin nodes pinned through one of the `senders` (`node pin --via`), each with that relay's node
    id; their versions are taken from it first hand, CLEAR to AMBER only, and stored as relayed (ADR 0013).

    Each object must carry the signature block of its origin node (`x_cybercrisis_origin`), made with a key of
    that node in `ring`, and that node must be one of `senders` (the peer pulled from, or the nodes run by the
    organisation of the user who posts: `via` says which, for the reason); an unsigned, relayed, unknown-node or
    tampered object (its share list included) is rejected with the reason. The stored copy is owned by the
    organisation the signature names (which must exist here: the directory is the same on every node) and shared
    with the recipients it was signed with (`x_cybercrisis_shares`) that exist here and that its TLP allows; a
    version received again with another signed list follows the new list. An id held here otherwise (one of our
    objects, another node's, an organisation's import) is refused. Our own objects coming back, and versions
    already stored, are unchanged: nothing loops. Same checks, idempotence and batching as `ingest`; never atomic.
    One audit entry `exchange:peer:receive`."""
    items = objects if isinstance(objects, list) else list(objects)
    # Text that is not valid Unicode (or NUL, or nesting past the bound) is refused per object before anything
    # reads it, so that no reason, audit entry or stored row carries it (textcheck.py); the others go on.
    unreadable = _unreadable(items)
    if unreadable:
        items = [None if i in unreadable else obj for i, obj in enumerate(items)]
    stripped, pending, early, ours = _unpack(items, ring, local_node, senders, via, relays or {})
    early += unreadable.values()
    owners = {b["owner"] for b, _, _, _ in pending.values()}
    targets = {t for _, entries, _, _ in pending.values() for k, t in entries if k == "organisation"}
    known_orgs: set[str] = set()
    for chunk in chunks(sorted(owners | targets)):
        known_orgs.update(session.scalars(select(Organisation.id).where(Organisation.id.in_(chunk))))
    known_communities = set(session.scalars(select(Community.slug)))

    job = ImportJob(session, actor, owner="", default=TLP.AMBER, share_with=None, origin=origin[:MAX_ORIGIN])
    keep: list[Any] = []
    positions: list[int] = []
    for index, obj in enumerate(stripped):
        if obj is None:
            continue
        if index in pending:
            block, entries, signed, relayed_by = pending[index]
            if block["tlp"] not in TLP_VALUES:
                early.append(Rejected(index, obj.get("id"), f"the signed TLP {block['tlp']!r} is not a TLP 2.0 level"))
                continue
            if block["owner"] not in known_orgs:
                early.append(
                    Rejected(
                        index, obj.get("id"), f"owner {block['owner']} is not an organisation of this node's directory"
                    )
                )
                continue
            fitting = [(k, t) for k, t in entries if t in (known_orgs if k == "organisation" else known_communities)]
            job.received[len(keep)] = Received(block, fitting, signed, relayed_by)
        keep.append(obj)
        positions.append(index)
    result = _run(session, job, keep, atomic=False, progress=progress)
    # The incidents and early warnings among them become (or update) replicas, in this same transaction (ADR 0013).
    replica_apply.apply(session, ((keep[i], rec) for i, rec in sorted(job.received.items()) if i in job.changed))
    if job.changed:
        federation_wake.soon(session, relayed=True)  # what this node passes on goes on in seconds
    # Report positions in the input as sent, not in the filtered list.
    result.rejected = sorted(
        [Rejected(positions[r.index], r.id, r.reason) for r in result.rejected] + early, key=lambda r: r.index
    )
    result.unchanged += ours
    first = [{"id": r.id, "reason": r.reason} for r in result.rejected[:5]]
    _audit(session, actor, "exchange:peer:receive", job, result, updated=result.updated, first_rejections=first)
    return result
