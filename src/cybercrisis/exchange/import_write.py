"""Writing an import's plans (exchange/importer.py): the planned versions and share rows in bulk (exchange/bulk.py),
older versions of a copy no longer `latest`, re-signed and re-served copies; and the date_added of the write.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, tuple_, update
from sqlalchemy.orm import Session

from cybercrisis.access.models import Share
from cybercrisis.db import utcnow
from cybercrisis.exchange import bulk, copies
from cybercrisis.exchange import node as nodes
from cybercrisis.exchange.models import StixObject

BATCH = 1000


def chunks(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(slots=True)
class Plan:
    rows: list[dict[str, Any]] = field(default_factory=list)
    shares: list[dict[str, Any]] = field(default_factory=list)
    # copies (id, share key) whose newest version is now one of `rows`: their older versions stop being `latest`
    superseded: dict[tuple[str, str], datetime] = field(default_factory=dict)
    # received copies whose signed share list changed: their share rows become these entries (owner, entries)
    reshare: dict[str, tuple[str, list[tuple[str, str]]]] = field(default_factory=dict)
    # stored versions received again with another signed share list: seq -> (signature block, signed list)
    resigned: dict[int, tuple[dict[str, str], list[Any]]] = field(default_factory=dict)
    # import copies of ours that got recipients: re-served with their new list once written (copies.reserve)
    reserve: set[str] = field(default_factory=set)

    def write(self, session: Session, now: datetime) -> None:
        for row in self.rows:
            row["added_at"] = now
        bulk.insert_rows(session, StixObject.__table__, self.rows)  # type: ignore[arg-type]
        for key, (owner, entries) in self.reshare.items():
            session.execute(delete(Share).where(Share.object_id == key, Share.kind.in_(nodes.SHARE_KINDS)))
            rows = [{"object_id": key, "kind": k, "target": t, "added_by_org_id": owner} for k, t in entries]
            bulk.insert_rows(session, Share.__table__, rows)  # type: ignore[arg-type]
        bulk.insert_rows(session, Share.__table__, self.shares)  # type: ignore[arg-type]
        by_version: dict[datetime, list[tuple[str, str]]] = {}
        for copy, newest in self.superseded.items():
            by_version.setdefault(newest, []).append(copy)
        for newest, pairs in by_version.items():
            for chunk in chunks(sorted(pairs)):
                session.execute(
                    update(StixObject)
                    .where(
                        tuple_(StixObject.id, StixObject.share_id).in_(chunk),
                        StixObject.modified < newest,
                        StixObject.latest.is_(True),
                    )
                    .values(latest=False)
                )
        for seq, (block, signed) in self.resigned.items():
            # Stored again at the end of the store, as its origin re-served it (copies.reserve does the same for
            # ours): readers and peers past this row, a hub's national nodes among them, get the new list too.
            copies.restore_at_end(session, seq=seq, now=now, signature=block, shares=signed)
        for key in sorted(self.reserve):
            copies.reserve(session, key=key, shares=copies.share_lists(session, [key])[key], now=now)


def added_now(session: Session) -> datetime:
    """The date_added of a write transaction, taken under the audit lock: later than every stored one, so that
    TAXII `added_after` never misses a transaction that committed after a reader's last page."""
    now = utcnow()
    last = session.scalar(select(func.max(StixObject.added_at)))
    if last is not None and last.replace(tzinfo=UTC) >= now:
        from datetime import timedelta

        now = last.replace(tzinfo=UTC) + timedelta(microseconds=1)
    return now
