"""NIS2 Art. 23(9): "every three months, the single point of contact shall submit to ENISA a summary report, including
anonymised and aggregated data on significant incidents, incidents, cyber threats and near misses notified in
accordance with paragraph 1 of this Article and with Article 30".

Counts only: names, titles, descriptions, entities and observables never enter the figures (flows.py has what the
flows share).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cybercrisis.access import authority, sharing
from cybercrisis.access.policy import ORG, read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.audit import service as audit
from cybercrisis.db import new_id, utcnow
from cybercrisis.directory.models import Organisation, OrgType
from cybercrisis.incidents.common import bad
from cybercrisis.incidents.flow_models import (
    SUMMARY_TYPE,
    QuarterlySummary,
)
from cybercrisis.incidents.flows import ENISA_KEY, STEP_TLP, enisa_org_id, organisation
from cybercrisis.incidents.models import Incident, IncidentCountry, IncidentSector

R = authority.Relation


def quarter_bounds(quarter: str) -> tuple[datetime, datetime]:
    """`2026-Q4` -> [2026-10-01, 2027-01-01) in UTC."""
    try:
        year, q = int(quarter[:4]), int(quarter[6:])
        if quarter[4:6] != "-Q" or len(quarter) != 7 or not 1 <= q <= 4:
            raise ValueError
    except ValueError:
        raise bad("quarter", f"'{quarter}' is not a quarter of the form YYYY-Qn, e.g. 2026-Q4") from None
    start = datetime(year, 3 * (q - 1) + 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC) if q == 4 else datetime(year, 3 * q + 1, 1, tzinfo=UTC)
    return start, end


def _spoc_org(session: Session, actor: Principal) -> Organisation:
    org = organisation(session, actor.org_id)
    is_spoc = org is not None and org.type == OrgType.SPOC
    authority.authorize(actor, "incident.quarterly-summary", {R.SPOC} if is_spoc else set())
    assert org is not None
    if not org.country:
        raise bad("organisation", f"{org.short_name} has no country in the directory: whose summary is this?")
    return org


def quarterly_figures(session: Session, *, actor: Principal, quarter: str) -> dict[str, Any]:
    """Anonymised, aggregated figures of a quarter for the actor's SPOC (NIS2 Art. 23(9)): counts only.

    Counted: incidents recorded in the quarter (when the CSIRT or authority received the notification) by
    organisations of the SPOC's Member State, among those the SPOC organisation reads (the read policy; a RED
    incident, read by named users only, is never counted), exercise data excluded. Names, titles, descriptions,
    entities and observables never enter the figures."""
    org = _spoc_org(session, actor)
    start, end = quarter_bounds(quarter)
    reader = sharing.org_reader(session, org.id)
    national = select(Organisation.id).where(Organisation.country == org.country)
    rows = session.execute(
        select(
            Incident.id, Incident.significance, Incident.rsit_class, Incident.root_cause, Incident.cross_border
        ).where(
            read_filter(reader, Incident),
            Incident.exercise.is_(False),
            Incident.created_at >= start,
            Incident.created_at < end,
            Incident.owner_org_id.in_(national),
        )
    ).all()
    ids = [r.id for r in rows]
    sectors: Counter[str] = Counter()
    n_countries: Counter[str] = Counter()
    if ids:
        for sector, n in session.execute(
            select(IncidentSector.sector, func.count())
            .where(IncidentSector.incident_id.in_(ids))
            .group_by(IncidentSector.sector)
        ):
            sectors[sector] = n
        for incident_id, n in session.execute(
            select(IncidentCountry.incident_id, func.count())
            .where(IncidentCountry.incident_id.in_(ids))
            .group_by(IncidentCountry.incident_id)
        ):
            n_countries[incident_id] = n
    cross = Counter("cross-border" if r.cross_border or n_countries[r.id] >= 2 else "national" for r in rows)
    return {
        "quarter": quarter,
        "country": org.country,
        "period_start": start,
        "period_end": end,
        "basis": f"incidents recorded in the quarter by organisations of {org.country} that {org.short_name} may "
        "read; exercise data excluded",
        "total": len(rows),
        "by_significance": dict(sorted(Counter(r.significance for r in rows).items())),
        "by_sector": dict(sorted(sectors.items())),
        "by_rsit_class": dict(sorted(Counter(r.rsit_class or "unclassified" for r in rows).items())),
        "by_root_cause": dict(sorted(Counter(r.root_cause or "unknown" for r in rows).items())),
        "cross_border": dict(sorted(cross.items())),
    }


def _jsonable(figures: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in figures.items()}


def submit_summary(session: Session, *, actor: Principal, quarter: str) -> QuarterlySummary:
    """Store the quarter's figures as a summary shared with ENISA (NIS2 Art. 23(9)); a new submission for the same
    quarter supersedes the earlier one."""
    org = _spoc_org(session, actor)
    figures = quarterly_figures(session, actor=actor, quarter=quarter)
    enisa = enisa_org_id(session)
    if enisa is None:
        raise bad("quarter", f"ENISA (directory key '{ENISA_KEY}') is not in this node's directory")
    earlier = session.scalars(
        select(QuarterlySummary.id)
        .where(QuarterlySummary.owner_org_id == org.id, QuarterlySummary.quarter == quarter)
        .order_by(QuarterlySummary.submitted_at.desc())
    ).first()
    now = utcnow()
    summary = QuarterlySummary(
        id=new_id(SUMMARY_TYPE),
        owner_org_id=org.id,
        created_by_id=actor.user_id,
        tlp=STEP_TLP.value,
        exercise=False,
        created_at=now,
        modified_at=now,
        quarter=quarter,
        country=org.country or "",
        figures=_jsonable(figures),
        submitted_at=now,
        supersedes_id=earlier,
    )
    session.add(summary)
    session.flush()
    sharing.write(session, object_id=summary.id, entries=[(ORG, enisa)], added_by=org.id)
    audit.record(
        session,
        actor=actor,
        tag="incidents:nis2-summary:submit",
        object_id=summary.id,
        summary={"quarter": quarter, "total": figures["total"], "supersedes": earlier},
    )
    return summary


def list_summaries(session: Session, *, principal: Principal, quarter: str | None = None) -> list[QuarterlySummary]:
    query = select(QuarterlySummary).where(read_filter(principal, QuarterlySummary))
    if quarter:
        quarter_bounds(quarter)
        query = query.where(QuarterlySummary.quarter == quarter)
    return list(session.scalars(query.order_by(QuarterlySummary.submitted_at.desc()).limit(200)))
