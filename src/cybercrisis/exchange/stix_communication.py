"""A coordinated communication (a public statement, or lines to take) as one STIX object, for the nodes that hold it
as a replica (ADR 0013 step 5).

STIX has no statement awaiting approval. One of ours travels as one `x-cybercrisis-communication` object, a new SDO
of our extension (docs/exchange.md), with what an approving organisation needs on its own node: the text of every
version, the approvers, the embargo, where it stands and every verdict given. A verdict given on a replica is an
answer (`communication.verdict`), applied at the origin (exchange/answers_in.py), and comes back in the next version.

- Its id is derived from the communication's own (`communication_id`); its `modified` is the newest time of anything
  in it (a verdict that does not change the state is a new version too). It is marked and shared like the
  communication. Users do not travel: who gave a verdict is the organisation.
- It names its crisis only when every reader of the communication may read that crisis too
  (`stix_crisis.nameable`); a new list makes a new version and only the latest is kept (publish.py `LATEST_ONLY`).
- What was released to the public is a publication (TLP:CLEAR, on the origin's public page): not in it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from cybercrisis.comms import reading
from cybercrisis.comms.models import Communication
from cybercrisis.crises.models import Crisis
from cybercrisis.exchange.stix_common import COMMUNICATION_EXTENSION_ID, COMMUNICATION_TYPE, derived_id, marking_id, ts
from cybercrisis.exchange.stix_crisis import nameable, no_nulls


def sdo_id(communication_id: str) -> str:
    return derived_id(COMMUNICATION_TYPE, communication_id)


def communication_object(session: Session, c: Communication) -> dict[str, Any]:
    """The communication, its versions and verdicts, as one STIX object (see the module's text)."""
    versions = reading.versions(session, c.id)
    verdicts = reading.approvals(session, c.id)
    times = [c.modified_at, c.created_at, *(v.created_at for v in versions), *(a.at for a in verdicts)]
    crisis = nameable(session, c, [c.crisis_id], Crisis) if c.crisis_id else []
    out: dict[str, Any] = {
        "type": COMMUNICATION_TYPE,
        "spec_version": "2.1",
        "id": sdo_id(c.id),
        "created": ts(c.created_at),
        "modified": ts(max(times)),
        "created_by_ref": c.owner_org_id,
        "object_marking_refs": [marking_id(c.tlp)],
        "extensions": {COMMUNICATION_EXTENSION_ID: {"extension_type": "new-sdo"}},
        "communication_id": c.id,
        "kind": c.kind,
        "language": c.language,
        "title": c.title,
        "body": c.body,
        "translations": c.translations or None,
        "approvers": list(c.approvers),
        "embargo_until": ts(c.embargo_until) if c.embargo_until else None,
        "state": c.state,
        "current_version": c.current_version,
        "released_at": ts(c.released_at) if c.released_at else None,
        "crisis_ref": crisis[0] if crisis else None,
        "versions": [
            {
                "number": v.number,
                "title": v.title,
                "body": v.body,
                "translations": v.translations or None,
                "created_at": ts(v.created_at),
            }
            for v in versions
        ],
        "approvals": [
            {
                "organisation": a.org_id,
                "version": a.version,
                "verdict": a.verdict,
                "comment": a.comment,
                "at": ts(a.at),
            }
            for a in verdicts
        ],
    }
    if c.exercise:
        out["labels"] = ["exercise"]
    cleaned: dict[str, Any] = no_nulls(out)
    return cleaned
