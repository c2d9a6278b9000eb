"""A published situation report as one STIX object, for the nodes of its audience (ADR 0013 step 4).

A report's figures are computed for each reader from the frozen sources of its build that the reader may read
(ADR 0006), so what travels is not the figures but the published version (its text) and its frozen sources, as one
`x-cybercrisis-situation-report` object of our extension (docs/exchange.md). A node of its audience holds it as a
read-only replica and computes each reader's figures there the same way, from the sources it carries that the reader
may read there (situation/sources.py `thaw`).

- Only a report's published version travels (`published_version`); a draft stays with its drafting organisation.
- The object goes to every reader of the report alike, so it carries only the sources that every reader of the report
  may read by the share lists (`stix_crisis.nameable`): a contribution or incident whose list is narrower is left
  out, and so are the cross-border observables that none of the sources it keeps names, and the incidents a kept
  contribution links that some reader may not read. A reader on another node may
  thus see fewer sources than on the drafting node, never more. A political report carries the sources its audience's
  figures were published from (`audience_sources`), as far as they are in it.
- A new list makes a new version and only the latest is kept (publish.py `LATEST_ONLY`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.exchange.stix_common import SITREP_EXTENSION_ID, SITREP_TYPE, derived_id, marking_id, ts
from cybercrisis.exchange.stix_crisis import nameable, no_nulls
from cybercrisis.incidents.models import Incident
from cybercrisis.situation.models import Contribution, Sitrep, SitrepSource, SitrepVersion
from cybercrisis.situation.sources import CONTRIBUTION, INCIDENT, OBSERVABLE

TEXTS = ("title", "summary", "decisions_needed", "notes")


def sdo_id(sitrep_id: str) -> str:
    return derived_id(SITREP_TYPE, sitrep_id)


def sitrep_object(session: Session, sitrep: Sitrep) -> dict[str, Any] | None:
    """The report's published version and the sources every reader of it may read (see the module's text); None
    while nothing is published."""
    if sitrep.published_version is None or sitrep.published_at is None:
        return None
    version = session.get(SitrepVersion, (sitrep.id, sitrep.published_version))
    if version is None:
        return None
    rows = list(
        session.execute(
            select(SitrepSource.kind, SitrepSource.source_id, SitrepSource.data).where(
                SitrepSource.sitrep_id == sitrep.id, SitrepSource.build == version.build
            )
        )
    )
    kept = set(nameable(session, sitrep, [r.source_id for r in rows if r.kind == CONTRIBUTION], Contribution))
    kept |= set(nameable(session, sitrep, [r.source_id for r in rows if r.kind == INCIDENT], Incident))
    # A contribution names the incidents its author linked: only those every reader of the report may read go.
    linked = {i for r in rows if r.kind == CONTRIBUTION and r.source_id in kept for i in r.data.get("incidents") or []}
    nameable_links = set(nameable(session, sitrep, sorted(linked), Incident))
    sources = []
    for kind, source_id, data in sorted(rows, key=lambda r: (r.kind, r.source_id)):
        if kind == OBSERVABLE:
            named = [i for i in data.get("incidents") or [] if i in kept]
            if named:
                sources.append({"kind": kind, "id": source_id, "data": data | {"incidents": named}})
        elif kind == CONTRIBUTION and source_id in kept:
            links = [i for i in data.get("incidents") or [] if i in nameable_links]
            sources.append({"kind": kind, "id": source_id, "data": data | {"incidents": links}})
        elif source_id in kept:
            sources.append({"kind": kind, "id": source_id, "data": data})
    audience = [i for i in version.audience_sources if i in kept] if version.audience_sources is not None else None
    out: dict[str, Any] = {
        "type": SITREP_TYPE,
        "spec_version": "2.1",
        "id": sdo_id(sitrep.id),
        "created": ts(sitrep.created_at),
        "modified": ts(max(sitrep.published_at, sitrep.created_at)),
        "created_by_ref": sitrep.owner_org_id,
        "object_marking_refs": [marking_id(sitrep.tlp)],
        "extensions": {SITREP_EXTENSION_ID: {"extension_type": "new-sdo"}},
        "sitrep_id": sitrep.id,
        "level": sitrep.level,
        "period_start": ts(sitrep.period_start),
        "period_end": ts(sitrep.period_end),
        "published_version": version.number,
        "published_at": ts(sitrep.published_at),
        **{k: version.text.get(k) or None for k in TEXTS},
    }
    if sitrep.exercise:
        out["labels"] = ["exercise"]
    cleaned: dict[str, Any] = no_nulls(out)
    # As frozen (situation/sources.py `_encode`), empty lists and nulls included: the receiving node thaws them.
    cleaned["sources"] = sources
    if audience is not None:  # a political report: the sources its audience's figures come from (maybe none)
        cleaned["audience_sources"] = audience
    return cleaned
