"""The assessment of an incident as a reader may see it, with the recurring-incident rule of Reg. (EU) 2024/2690
Art. 4 (the rules themselves, without the database, are assessment.py)."""

from __future__ import annotations

import calendar
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.incidents import assessment
from cybercrisis.incidents.models import (
    Incident,
    Significance,
)


def assess(
    session: Session, incident: Incident, *, principal: Principal, thresholds: assessment.Thresholds | None = None
) -> assessment.Assessment:
    """The assessment as `principal` may see it: the recurring-incident rule adds up only the incidents they may
    read, so neither the figure nor whether the rule appears says anything about incidents hidden from them."""
    t = thresholds or assessment.Thresholds()
    return assessment.assess(
        entity_type=incident.entity_type,
        facts=incident.facts,
        suspected_malicious=incident.suspected_malicious,
        exceeds_national_capacity=incident.exceeds_national_capacity,
        cross_border=incident.cross_border,
        impact_severity=incident.impact_severity,
        recurrence=_recurrence(session, incident, principal, t),
        thresholds=t,
    )


# Art. 4 counts incidents; a near miss (NIS2 Art. 6(5)) or an event outside NIS2 is not one.
_RECURRENCE_CANDIDATES = (Significance.REPORTED.value, Significance.NOT_SIGNIFICANT.value)


def _recurrence(
    session: Session, incident: Incident, principal: Principal, t: assessment.Thresholds
) -> assessment.Recurrence | None:
    """Reg. 2024/2690 Art. 4: this entity's incidents with the same analyst-confirmed apparent root cause that
    occurred in the six months up to this one, are not significant on their own (decided so, or not yet decided
    and suggested so by no rule) and that `principal` may read; None when there is no such other incident."""
    cause = assessment.normalise_root_cause(incident.apparent_root_cause)
    applies = incident.entity_type in assessment.RELEVANT_ENTITY_TYPES or t.general_criteria_for_all_entities
    if not (incident.entity_org_id and cause and applies):
        return None
    when = incident.occurred_at or incident.aware_at
    occurred = func.coalesce(Incident.occurred_at, Incident.aware_at)
    candidates = session.scalars(
        select(Incident)
        .where(
            Incident.entity_org_id == incident.entity_org_id,
            Incident.id != incident.id,
            Incident.apparent_root_cause.is_not(None),
            Incident.significance.in_(_RECURRENCE_CANDIDATES),
            Incident.exercise.is_(incident.exercise),
            occurred >= _months_before(when, 6),
            occurred <= when,
            read_filter(principal, Incident),
        )
        .order_by(occurred.desc(), Incident.id)
    ).all()
    others = [
        o
        for o in candidates
        if assessment.normalise_root_cause(o.apparent_root_cause) == cause and not _significant_alone(o, t)
    ]
    if not others:
        return None
    group = [incident, *others]
    # The turnover of the preceding financial year: this incident's, else the latest other that states one.
    turnovers = [v for i in group if (v := _number(i.facts.get("annual_turnover_eur"))) is not None]
    return assessment.Recurrence(
        apparent_root_cause=incident.apparent_root_cause or "",
        incidents=len(group),
        financial_loss_eur=sum(_number(i.facts.get("financial_loss_eur")) or 0 for i in group),
        annual_turnover_eur=turnovers[0] if turnovers else None,
    )


def _significant_alone(incident: Incident, t: assessment.Thresholds) -> bool:
    if incident.significance != Significance.REPORTED.value:
        return False  # a person decided it is not significant
    # Whether it meets Art. 3 on its own: the criteria alone, without this deployment's red-impact rule.
    criteria_only = assessment.Thresholds(
        red_impact_suggests_significant=False, general_criteria_for_all_entities=t.general_criteria_for_all_entities
    )
    return assessment.assess(
        entity_type=incident.entity_type,
        facts=incident.facts,
        suspected_malicious=incident.suspected_malicious,
        thresholds=criteria_only,
    ).significant


def _number(value: object) -> int | None:
    return None if isinstance(value, bool) or not isinstance(value, int | float) else int(value)


def _months_before(when: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (the last day of a shorter month)."""
    index = when.year * 12 + when.month - 1 - months
    year, month = divmod(index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return when.replace(year=year, month=month + 1, day=min(when.day, last_day))
