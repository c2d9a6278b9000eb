"""A published situation report held at another node, rebuilt from its origin's signed
`x-cybercrisis-situation-report` object (ADR 0013 step 4; exchange/stix_sitrep.py).

Each version replaces the replica: the report, its one version (the published one, under its origin's number) and
the frozen sources of that version's build. Each reader's figures are then computed here as on the drafting node,
from the sources it carries that the reader may read here (situation/sources.py `thaw` joins them to the
contributions and incidents held here, local or replicas). A source of the wrong shape is dropped when it arrives,
so that no reader's page ever fails on it. A report that is this node's own, or another node's, is never
overwritten.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from cybercrisis.access.tlp import TLP
from cybercrisis.db import utcnow
from cybercrisis.exchange.import_plan import Received
from cybercrisis.exchange.replica_crisis import (
    held,
    list_of,
    parse_time,
    prune,
    set_shares,
    signed_entries,
    stamp,
    text,
)
from cybercrisis.exchange.stix_sitrep import TEXTS, sdo_id
from cybercrisis.situation.aggregate import LEVELS
from cybercrisis.situation.models import Sitrep, SitrepSource, SitrepState, SitrepVersion
from cybercrisis.situation.shapes import ContributionInput, IncidentInput, ObservableInput
from cybercrisis.situation.sources import CONTRIBUTION, INCIDENT, OBSERVABLE, thaw_one

log = logging.getLogger(__name__)

_TLPS = frozenset(t.value for t in TLP)
MAX_SOURCES = 200_000  # a bound, not a tuning knob: a report's build freezes what its period held


def apply(session: Session, obj: Mapping[str, Any], rec: Received) -> bool:
    """Bring the replica of the report this object carries up to date; False when it is not applied."""
    node = rec.block["node"]
    sid = obj.get("sitrep_id")
    if not isinstance(sid, str) or not sid.startswith("sitrep--") or len(sid) > 120 or obj.get("id") != sdo_id(sid):
        log.warning("report object %s from node %s does not carry its own report", obj.get("id"), node)
        return False
    start, end = parse_time(obj.get("period_start")), parse_time(obj.get("period_end"))
    published, number = parse_time(obj.get("published_at")), obj.get("published_version")
    level = obj.get("level")
    if (
        start is None
        or end is None
        or published is None
        or level not in LEVELS
        or not isinstance(number, int)
        or isinstance(number, bool)
        or not 0 < number < 1_000_000
    ):
        log.warning("report %s from node %s has no level, period or published version: not replicated", sid, node)
        return False
    modified = parse_time(obj.get("modified")) or utcnow()
    existing, done = held(session, Sitrep, sid, obj, rec, modified)
    if done is not None:
        return bool(done)
    sitrep = existing or Sitrep(id=sid)
    sitrep.level, sitrep.period_start, sitrep.period_end = str(level), start, end
    sitrep.state = SitrepState.PUBLISHED.value
    sitrep.current_version = sitrep.published_version = number
    sitrep.current_build = number  # the one build held here: numbered as the version that shows it
    sitrep.published_at = published
    sitrep.audience = {}  # who reads it here is its share list, as its origin signed it
    stamp(session, sitrep, existing, obj, rec, modified)
    _version(session, sitrep, obj, number, published)
    set_shares(session, [sid], signed_entries(rec))
    prune(session, obj, node, modified)
    return True


def _version(session: Session, sitrep: Sitrep, obj: Mapping[str, Any], number: int, published: datetime) -> None:
    """The published version and its sources replace whatever was held of the report."""
    session.execute(delete(SitrepSource).where(SitrepSource.sitrep_id == sitrep.id))
    session.execute(delete(SitrepVersion).where(SitrepVersion.sitrep_id == sitrep.id))
    sources = _sources(obj.get("sources"))
    given = obj.get("audience_sources")
    audience = None
    if isinstance(given, list):
        carried = {s["source_id"] for s in sources}
        audience = [i for i in given if isinstance(i, str) and i in carried]
    session.add(
        SitrepVersion(
            sitrep_id=sitrep.id,
            number=number,
            build=number,
            state=SitrepState.PUBLISHED.value,
            created_at=published,
            created_by_id=None,
            approved_at=published,
            text={k: text(obj.get(k), 100_000) for k in TEXTS if isinstance(obj.get(k), str)},
            audience_sources=audience,
        )
    )
    session.flush()
    for chunk in range(0, len(sources), 2000):
        rows = [s | {"sitrep_id": sitrep.id, "build": number} for s in sources[chunk : chunk + 2000]]
        session.execute(insert(SitrepSource.__table__), rows)  # type: ignore[arg-type]


def _sources(value: Any) -> list[dict[str, Any]]:
    """The frozen sources that read back as the inputs they were frozen from, each once."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for s in list_of(value)[:MAX_SOURCES]:
        if not isinstance(s, dict) or not isinstance(s.get("data"), dict):
            continue
        kind, sid, data = s.get("kind"), s.get("id"), s["data"]
        if kind not in (CONTRIBUTION, INCIDENT, OBSERVABLE) or not isinstance(sid, str) or len(sid) > 120:
            continue
        if sid in seen or data.get("id") != sid or not _well_formed(kind, data):
            continue
        seen.add(sid)
        out.append({"source_id": sid, "kind": kind, "data": data})
    return out


def _aware(value: Any) -> bool:
    return isinstance(value, datetime) and value.tzinfo is not None


def _texts(value: Any) -> bool:
    return isinstance(value, tuple) and all(isinstance(v, str) for v in value)


def _well_formed(kind: str, data: dict[str, Any]) -> bool:
    """Whether a frozen source reads back (situation/sources.py `thaw_one`) with a value of its type in every field:
    the figures are computed from it for every reader here."""
    try:
        item = thaw_one(kind, data)
    except (TypeError, ValueError, KeyError, AttributeError):
        return False
    strings: tuple[str, ...]
    if isinstance(item, ObservableInput):
        return all(isinstance(v, str) for v in (item.id, item.type, item.value)) and _texts(item.incidents)
    if not isinstance(item.tlp, str) or item.tlp not in _TLPS:
        return False  # every reader's marking is computed from it
    if isinstance(item, IncidentInput):
        strings = (item.id, item.tlp, item.title, item.status)
        optional = (item.rsit_class, item.rsit_type, item.impact_severity)
        return (
            all(isinstance(v, str) for v in strings)
            and all(v is None or isinstance(v, str) for v in optional)
            and _aware(item.aware_at)
            and _texts(item.countries)
            and _texts(item.sectors)
            and isinstance(item.cross_border, bool)
        )
    assert isinstance(item, ContributionInput)
    strings = (item.id, item.tlp, item.country, item.status, item.outlook, item.measures, item.needs, item.narrative)
    return (
        all(isinstance(v, str) for v in strings)
        and all(_aware(v) for v in (item.period_start, item.period_end, item.submitted_at))
        and all(isinstance(p, tuple) and len(p) == 2 and _texts(p) for p in item.sectors)
        and _texts(item.services_disrupted)
        and _texts(item.incidents)
        and (item.entities_affected is None or type(item.entities_affected) is int)
        and isinstance(item.assistance_requested, bool)
    )
