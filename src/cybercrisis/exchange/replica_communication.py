"""A coordinated communication held at another node, rebuilt from its origin's signed `x-cybercrisis-communication`
object (ADR 0013 step 5; exchange/stix_communication.py).

Each version replaces the replica's fields, its versions and its verdicts at once, so an approving organisation
reads here exactly what the origin holds: the text of the version it is asked about, who approved which version,
and where it stands. A communication that is this node's own, or another node's, is never overwritten. Its crisis
is kept when held here. A verdict given here is an answer, applied at the origin (exchange/answers_in.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cybercrisis.comms import notices
from cybercrisis.comms.models import (
    CommKind,
    CommState,
    Communication,
    CommunicationApproval,
    CommunicationVersion,
    Verdict,
)
from cybercrisis.crises.models import Crisis
from cybercrisis.db import utcnow
from cybercrisis.directory.models import Organisation
from cybercrisis.exchange.import_plan import Received
from cybercrisis.exchange.replica_crisis import (
    MAX_CHILDREN,
    held,
    list_of,
    parse_time,
    prune,
    set_shares,
    signed_entries,
    stamp,
    text,
)
from cybercrisis.exchange.stix_communication import sdo_id

log = logging.getLogger(__name__)

_STATES = frozenset(s.value for s in CommState)
_KINDS = frozenset(k.value for k in CommKind)
_VERDICTS = frozenset(v.value for v in Verdict)


def apply(session: Session, obj: Mapping[str, Any], rec: Received) -> bool:
    """Bring the replica of the communication this object carries up to date; False when it is not applied."""
    node = rec.block["node"]
    cid = obj.get("communication_id")
    if (
        not isinstance(cid, str)
        or not cid.startswith("communication--")
        or len(cid) > 120
        or obj.get("id") != sdo_id(cid)
    ):
        log.warning("communication object %s from node %s does not carry its own communication", obj.get("id"), node)
        return False
    versions = _versions(obj)
    if not versions:
        log.warning("communication %s from node %s has no version: not replicated", cid, node)
        return False
    modified = parse_time(obj.get("modified")) or utcnow()
    existing, done = held(session, Communication, cid, obj, rec, modified)
    if done is not None:
        return bool(done)
    c = existing or Communication(id=cid)
    known = set(session.scalars(select(Organisation.id)))
    _fill(session, c, obj, versions, known)
    stamp(session, c, existing, obj, rec, modified)
    _children(session, c, versions, obj, known)
    set_shares(session, [cid], signed_entries(rec))
    prune(session, obj, node, modified)
    if c.state == CommState.DRAFT:  # its approvers here are asked through their routes here, once per version
        notices.request_approval(session, c)
    return True


def _fill(
    session: Session, c: Communication, obj: Mapping[str, Any], versions: dict[int, dict[str, Any]], known: set[str]
) -> None:
    """The communication's own fields, its current version's text among them."""
    current = obj.get("current_version")
    c.current_version = current if isinstance(current, int) and current in versions else max(versions)
    c.title = versions[c.current_version]["title"]
    c.body = versions[c.current_version]["body"]
    c.translations = versions[c.current_version]["translations"]
    kind = obj.get("kind")
    c.kind = kind if isinstance(kind, str) and kind in _KINDS else CommKind.STATEMENT.value
    c.language = text(obj.get("language"), 8, "en")
    c.approvers = [o for o in list_of(obj.get("approvers")) if isinstance(o, str) and o in known][:MAX_CHILDREN]
    c.embargo_until = parse_time(obj.get("embargo_until"))
    state = obj.get("state")
    c.state = state if isinstance(state, str) and state in _STATES else CommState.DRAFT.value
    c.released_at = parse_time(obj.get("released_at"))
    crisis = obj.get("crisis_ref")
    c.crisis_id = crisis if isinstance(crisis, str) and session.get(Crisis, crisis) is not None else None


def _translations(value: Any) -> dict[str, dict[str, str]]:
    if not isinstance(value, dict):
        return {}
    return {
        lang[:8]: {"title": text(t.get("title"), 300), "body": text(t.get("body"), 100_000)}
        for lang, t in list(value.items())[:40]
        if isinstance(lang, str) and isinstance(t, dict)
    }


def _versions(obj: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    """The communication's versions by number; one without a number or a title is dropped."""
    out: dict[int, dict[str, Any]] = {}
    for v in list_of(obj.get("versions"))[:MAX_CHILDREN]:
        if not isinstance(v, dict):
            continue
        number, title = v.get("number"), v.get("title")
        if not isinstance(number, int) or isinstance(number, bool) or not 0 < number < 1_000_000:
            continue
        if not isinstance(title, str) or not title:
            continue
        out[number] = {
            "title": title[:300],
            "body": text(v.get("body"), 100_000),
            "translations": _translations(v.get("translations")),
            "created_at": parse_time(v.get("created_at")),
        }
    return out


def _children(
    session: Session, c: Communication, versions: dict[int, dict[str, Any]], obj: Mapping[str, Any], known: set[str]
) -> None:
    """Its versions and verdicts become the object's, all at once."""
    session.execute(delete(CommunicationVersion).where(CommunicationVersion.communication_id == c.id))
    session.execute(delete(CommunicationApproval).where(CommunicationApproval.communication_id == c.id))
    for number, v in sorted(versions.items()):
        session.add(
            CommunicationVersion(
                communication_id=c.id,
                number=number,
                title=v["title"],
                body=v["body"],
                translations=v["translations"],
                created_at=v["created_at"] or c.created_at,
                created_by_id=None,
            )
        )
    seen: set[tuple[str, int]] = set()
    for a in list_of(obj.get("approvals"))[:MAX_CHILDREN]:
        if not isinstance(a, dict):
            continue
        org, version, verdict = a.get("organisation"), a.get("version"), a.get("verdict")
        if not (isinstance(org, str) and isinstance(version, int) and isinstance(verdict, str)):
            continue
        if org not in known or version not in versions or verdict not in _VERDICTS or (org, version) in seen:
            continue
        seen.add((org, version))
        session.add(
            CommunicationApproval(
                communication_id=c.id,
                org_id=org,
                version=version,
                verdict=verdict,
                comment=text(a.get("comment"), 10_000),
                user_id=None,
                at=parse_time(a.get("at")) or c.modified_at,
            )
        )
    session.flush()
