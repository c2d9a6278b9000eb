"""Signs the STIX versions this node originated, for federation (ADR 0008).

Imports and our own objects as STIX are stored unsigned so that writing stays fast; the job runner (`sign_exchange`,
every 5 s) and the sync engine before a push sign them in batches. Ed25519 signatures are deterministic, so two
signers racing over one row write the same value. The TAXII server signs a row still waiting on the fly.
"""

from __future__ import annotations

import time

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work
from cybercrisis.exchange import node as nodes
from cybercrisis.exchange.models import StixObject

BATCH = 1000


def sign_pending(
    factory: sessionmaker[Session], settings: Settings, *, budget_seconds: float = 20.0, batch: int = BATCH
) -> int:
    """Sign unsigned versions of this node, oldest first, in transactions of `batch` rows, until none is left or the
    budget is spent; returns how many were signed."""
    import cybercrisis.models  # noqa: F401 - every table, so that the bulk update resolves the store's foreign keys

    node = nodes.load(settings.data_dir)
    started = time.monotonic()
    total = 0
    while time.monotonic() - started < budget_seconds:
        with unit_of_work(factory) as session:
            rows = session.execute(
                select(StixObject.seq, StixObject.data, StixObject.owner_org_id, StixObject.tlp)
                .where(StixObject.signed.is_(False), StixObject.origin_node.is_(None))
                .order_by(StixObject.seq)
                .limit(batch)
            ).all()
            if not rows:
                return total
            session.execute(
                update(StixObject),
                [
                    {"seq": r.seq, "signature": node.sign(r.data, r.owner_org_id, tlp=r.tlp), "signed": True}
                    for r in rows
                ],
            )
        total += len(rows)
    return total
