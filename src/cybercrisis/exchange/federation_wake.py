"""Federation soon after a change, not at the next 30 s round (issue 15: an early warning reaches the other
national nodes through the hub in seconds).

`soon(session)` brings the `federation_sync` job forward to now, in the transaction that stored versions a peer
should get (this node's own, or versions this node relays). The job runner polls every second; a round already
running when the change commits runs again right after (`jobs._release` keeps a wake that came during the run).
One conditional UPDATE of the job's row, only when a peer would be sent something.
"""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from cybercrisis.exchange.models import Peer
from cybercrisis.notify.wake import wake

JOB = "federation_sync"


def soon(session: Session, *, relayed: bool = False) -> None:
    """Run the next federation round now, if some enabled peer is pushed to (`relayed`: one this node relays to)."""
    pushed = select(Peer.id).where(Peer.enabled.is_(True), Peer.direction.in_(("push", "both")))
    if relayed:
        pushed = pushed.where(Peer.relay.is_(True))
    if session.scalar(select(exists(pushed))):
        wake(session, JOB)
