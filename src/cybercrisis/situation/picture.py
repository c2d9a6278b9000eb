"""The live picture (dashboard and GET /api/v1/situation) for one reader, cached until a change reaches it."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.alerts.models import Alert, AlertRecipient
from cybercrisis.cache import Change, ChangeFeed, DependentCache, Depends, audit_head, reader_key
from cybercrisis.config import Settings
from cybercrisis.db import utcnow
from cybercrisis.incidents.models import Incident, Report
from cybercrisis.incidents.reports import open_overdue
from cybercrisis.situation import aggregate, sources
from cybercrisis.situation.contributions import scale_of
from cybercrisis.situation.models import Contribution, ContributionState

RECENT_CONTRIBUTIONS = timedelta(days=7)  # a national status older than this no longer colours the map
TIMELINE_DAYS = 14
CACHE_SECONDS = 30.0  # time-driven changes (a deadline passing) show within this, changes at once
CACHE_SIZE = 512
PAGE_CACHE_SIZE = 128  # rendered dashboards (~250 kB each at 10,000 incidents)


def _open_or_recent(reader: Principal, now: datetime) -> Any:
    """Open incidents, and any detected in the timeline window."""
    recent = now - timedelta(days=TIMELINE_DAYS)
    q = sources.incident_query(reader, None, now + timedelta(minutes=5))
    return q.where((Incident.status.in_(sorted(aggregate.OPEN_STATUSES))) | (Incident.aware_at >= recent))


def compute(session: Session, reader: Principal, settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    scale = scale_of(settings)
    contributions = [
        sources.contribution_input(c)
        for c in session.scalars(
            select(Contribution).where(
                Contribution.state == ContributionState.SUBMITTED.value,
                Contribution.period_end >= now - RECENT_CONTRIBUTIONS,
                Contribution.exercise.is_(False),
                read_filter(reader, Contribution),
            )
        )
    ]
    incidents = sources.incidents_for(session, _open_or_recent(reader, now))
    open_incidents = [i for i in incidents if i.is_open]
    picture = aggregate.build("operational", aggregate.Inputs(tuple(contributions), tuple(open_incidents)), scale)
    latest = aggregate.latest_per_country(contributions)
    countries: dict[str, Any] = {}
    for code, cell in picture.countries.items():
        c = latest.get(code)
        countries[code] = {
            "status": cell.status,
            "outlook": cell.outlook,
            "impact": cell.impact,
            "open_incidents": cell.open_incidents,
            "contribution": c.id if c else None,
            "period_end": c.period_end if c else None,
        }
    severity = Counter(i.impact_severity or "unassessed" for i in open_incidents)
    by_class = Counter(i.rsit_class or "unclassified" for i in open_incidents)
    overdue = session.execute(
        select(func.count())
        .select_from(Report)
        .join(Incident, Incident.id == Report.incident_id)
        .where(open_overdue(now), Incident.exercise.is_(False), read_filter(reader, Incident))
    ).scalar_one()
    alerts = _alerts(session, reader)
    large_scale = [
        {"id": i.id, "title": i.title, "countries": list(i.countries)}
        for i in open_incidents
        if len(i.countries) > 1 or i.cross_border
    ]
    timeline = aggregate.incidents_per_day(incidents, end=now, days=TIMELINE_DAYS)
    return {
        "generated_at": now,
        "scale": scale,
        "scale_note": "This status scale is the deployment's own; the EU publishes no official alert scale.",
        "marking": picture.marking,
        "countries": countries,
        "heat": picture.heat,
        "headline": [{"key": n.key, "label": n.label, "value": n.value} for n in picture.headline],
        "open_incidents": {
            "total": len(open_incidents),
            "by_severity": {k: severity.get(k, 0) for k in [*reversed(aggregate.IMPACT_ORDER), "unassessed"]},
            "by_class": dict(sorted(by_class.items(), key=lambda kv: (-kv[1], kv[0]))),
        },
        "overdue_reports": overdue,
        "early_warnings": alerts,
        "large_scale_incidents": large_scale[:50],
        "active_crises": _crises(session, reader, settings),
        "timeline": [{"day": r.cells["day"], "incidents": r.cells["incidents"]} for r in timeline.rows],
    }


def _crises(session: Session, reader: Principal, settings: Settings) -> list[dict[str, Any]]:
    """Open crises the reader may see, latest change first, with their stage in the deployment's model."""
    from cybercrisis.crises.escalation import model_for
    from cybercrisis.crises.models import Crisis, CrisisStatus

    model = model_for(settings)
    labels = {s.key: (s.label, s.level) for s in model.stages}
    rows = session.scalars(
        select(Crisis)
        .where(Crisis.status == CrisisStatus.OPEN.value, Crisis.exercise.is_(False), read_filter(reader, Crisis))
        .order_by(Crisis.modified_at.desc())
        .limit(20)
    )
    return [
        {
            "id": c.id,
            "title": c.title,
            "stage": c.stage,
            "stage_label": labels.get(c.stage, (c.stage, ""))[0],
            "level": labels.get(c.stage, ("", "unknown"))[1],
            "phase": c.phase,
            "tlp": c.tlp,
        }
        for c in rows
    ]


def _alerts(session: Session, reader: Principal) -> dict[str, Any]:
    """Early warnings still waiting: for my acknowledgement, and (as sender) for others'."""
    if reader.org_id is None:
        return {"awaiting_my_ack": 0, "sent_pending": 0, "items": []}
    mine = session.execute(
        select(Alert.id, Alert.title, Alert.created_at)
        .join(AlertRecipient, AlertRecipient.alert_id == Alert.id)
        .where(
            AlertRecipient.org_id == reader.org_id,
            AlertRecipient.acknowledged_at.is_(None),
            Alert.exercise.is_(False),
            read_filter(reader, Alert),
        )
        .order_by(Alert.created_at.desc())
    ).all()
    pending = session.execute(
        select(func.count(func.distinct(Alert.id)))
        .join(AlertRecipient, AlertRecipient.alert_id == Alert.id)
        .where(
            Alert.owner_org_id == reader.org_id,
            AlertRecipient.acknowledged_at.is_(None),
            Alert.exercise.is_(False),
            read_filter(reader, Alert),
        )  # e.g. a token without alerts:alert:read
    ).scalar_one()
    return {
        "awaiting_my_ack": len(mine),
        "sent_pending": pending,
        "items": [{"id": r.id, "title": r.title, "sent_at": r.created_at} for r in mine[:20]],
    }


# --- cache ----------------------------------------------------------------------------------------------------


# The kinds of object the picture counts (a NIS2 report: the overdue ones).
SHOWN = frozenset({"incident", "report", "alert", "contribution", "crisis"})


def depends(reader: Principal) -> Depends:
    """The changes that can alter `reader`'s picture: to an object of a kind it counts, that the reader could read
    before or can read after."""

    def affected(change: Change) -> bool:
        return change.kind in SHOWN and change.reaches(reader)

    return affected


class PictureCache:
    """Per process: reader -> picture and its JSON, until a change reaches it (cybercrisis.cache)."""

    def __init__(self, feed: ChangeFeed, size: int = CACHE_SIZE, ttl: float = CACHE_SECONDS) -> None:
        self._cache: DependentCache[tuple[dict[str, Any], bytes]] = DependentCache(feed, size, ttl)
        self._pages: DependentCache[bytes] = DependentCache(feed, PAGE_CACHE_SIZE, ttl)

    def entry(self, session: Session, reader: Principal, settings: Settings) -> tuple[dict[str, Any], bytes]:
        # Everything reading depends on, a token's scopes included: a narrow token never gets a wider picture.
        key = reader_key(reader)

        def build() -> tuple[tuple[dict[str, Any], bytes], Depends]:
            head = audit_head(session)  # the last change it reflects, for clients that compare pictures
            value = compute(session, reader, settings)
            value["head"] = head
            return (value, json.dumps(value, default=_json_default, separators=(",", ":")).encode()), depends(reader)

        return self._cache.get(session, key, build)

    def get(self, session: Session, reader: Principal, settings: Settings) -> dict[str, Any]:
        return self.entry(session, reader, settings)[0]

    def json(self, session: Session, reader: Principal, settings: Settings) -> bytes:
        return self.entry(session, reader, settings)[1]

    def page(
        self, session: Session, reader: Principal, key: tuple[Hashable, ...], render: Callable[[], bytes]
    ) -> bytes:
        """A page drawn from the picture, for `key` (what else it shows per viewer: its session, the view). The
        page also names the viewer: a change to a user or organisation draws it again."""
        affects_picture = depends(reader)

        def affected(change: Change) -> bool:
            return change.kind in ("user", "identity") or affects_picture(change)

        return self._pages.get(session, (*reader_key(reader), *key), lambda: (render(), affected))


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")
