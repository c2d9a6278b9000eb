"""Signs the STIX versions this node originated, for federation (ADR 0008).

Imports and our own objects as STIX are stored unsigned so that writing stays fast; the job runner (`sign_exchange`,
every 5 s) and the sync engine before a push sign them in batches. Ed25519 signatures are deterministic, so two
signers racing over one row write the same value. The TAXII server signs a row still waiting on the fly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work
from cybercrisis.exchange import copies
from cybercrisis.exchange import node as nodes
from cybercrisis.exchange.models import StixObject

BATCH = 1000
log = logging.getLogger("cybercrisis.exchange")
_UNSIGNABLE: set[int] = set()  # seqs already reported in this process


def sign_pending(
    factory: sessionmaker[Session], settings: Settings, *, budget_seconds: float = 20.0, batch: int = BATCH
) -> int:
    """Sign unsigned versions of this node, oldest first, in transactions of `batch` rows, until none is left or the
    budget is spent; returns how many were signed."""
    import cybercrisis.models  # noqa: F401 - every table, so that the bulk update resolves the store's foreign keys

    node = nodes.load(settings.data_dir)
    started = time.monotonic()
    total = 0
    after = 0  # rows that could not be signed stay behind this cursor: never read twice in one run
    while time.monotonic() - started < budget_seconds:
        with unit_of_work(factory) as session:
            rows = session.execute(
                select(StixObject.seq, StixObject.data, StixObject.owner_org_id, StixObject.tlp, StixObject.share_id)
                .where(StixObject.signed.is_(False), StixObject.origin_node.is_(None), StixObject.seq > after)
                .order_by(StixObject.seq)
                .limit(batch)
            ).all()
            if not rows:
                return total
            # Signed with the share list they travel with: the current one of their copy (exchange/copies.py).
            lists = copies.share_lists(session, {r.share_id for r in rows})
            signed = _signatures(node, rows, lists)
            if signed:
                session.execute(update(StixObject), signed)
        after = rows[-1].seq
        total += len(signed)
    return total


def _signatures(node: nodes.Node, rows: Sequence[Row[Any]], lists: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The update of each row that can be signed. A row whose text is not valid Unicode (stored before the input
    checks, textcheck.py; migration 0008 repairs it) is logged once and left unsigned, never failing the batch."""
    out = []
    for r in rows:
        try:
            signature = node.sign(r.data, r.owner_org_id, tlp=r.tlp, shares=lists[r.share_id], share_key=r.share_id)
        except (ValueError, RecursionError):
            if r.seq not in _UNSIGNABLE:
                _UNSIGNABLE.add(r.seq)
                log.warning("cannot sign the STIX version with seq %s: its stored text is not valid Unicode", r.seq)
            continue
        out.append({"seq": r.seq, "signed": True, "shares": lists[r.share_id], "signature": signature})
    return out
