"""National contributions: what a Member State decides to put into the EU picture for a reporting period."""

from __future__ import annotations

import difflib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cybercrisis import taxonomies
from cybercrisis.access import authority, sharing
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.audit import service as audit
from cybercrisis.config import Settings
from cybercrisis.db import new_id, utcnow
from cybercrisis.directory.countries import normalise_country
from cybercrisis.directory.models import Organisation, OrgType
from cybercrisis.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from cybercrisis.incidents.models import Incident
from cybercrisis.situation.models import ClosedPeriod, Contribution, ContributionState, ContributionVersion
from cybercrisis.situation.schemas import ContributionIn, ContributionPatch, FieldChange, SectorImpact

CLOCK_SKEW = timedelta(minutes=5)
MAX_PERIOD = timedelta(days=31)
# The organisations that speak for a Member State at EU level (DOMAIN.md: SPOC, crisis authority, CSIRT, authority).
NATIONAL_TYPES = frozenset(
    {OrgType.SPOC, OrgType.CRISIS_AUTHORITY, OrgType.NATIONAL_CSIRT, OrgType.COMPETENT_AUTHORITY}
)
VERSIONED = (
    "state",
    "status",
    "outlook",
    "sectors",
    "services_disrupted",
    "entities_affected",
    "incident_ids",
    "measures",
    "needs",
    "assistance_requested",
    "narrative",
    "tlp",
)
TEXT_FIELDS = frozenset({"measures", "needs", "narrative"})


def _bad(field: str, message: str, **extra: Any) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message, **extra}])


def scale_of(settings: Settings) -> list[str]:
    """The deployment's own status scale, least to most severe. Not an official EU scale: none is published."""
    return [s.strip() for s in settings.situation_scale.split(",") if s.strip()]


# --- checks -------------------------------------------------------------------------------------------------


def check_period(session: Session, start: datetime, end: datetime, settings: Settings) -> None:
    """A period is open to contributions unless it is closed, ended too long ago, or is malformed."""
    now = utcnow()
    for name, value in (("period_start", start), ("period_end", end)):
        if value.tzinfo is None:
            raise _bad(name, "give a time zone, e.g. 2026-11-28T00:00:00Z")
    if end <= start:
        raise _bad("period_end", "the period must end after it starts")
    if end - start > MAX_PERIOD:
        raise _bad("period_end", "a reporting period lasts at most 31 days")
    if start > now + CLOCK_SKEW:
        raise _bad("period_start", "the period has not started yet")
    window = timedelta(days=settings.contribution_window_days)
    if end + window < now:
        raise Conflict(
            f"the period ended on {end.isoformat()} and closed {settings.contribution_window_days} day(s) later; "
            "report in the current period"
        )
    # A period lying within a closed one is closed; one that only overlaps it still has open time to report on.
    closed = session.scalars(
        select(ClosedPeriod).where(ClosedPeriod.period_start <= start, ClosedPeriod.period_end >= end).limit(1)
    ).first()
    if closed is not None:
        raise Conflict(
            f"the period {closed.period_start.isoformat()} to {closed.period_end.isoformat()} is closed "
            f"({closed.reason}); report in the next period"
        )


def check_represents(session: Session, actor: Principal, country: str) -> None:
    authority.authorize(actor, "contribution.create", ())
    org = session.get(Organisation, actor.org_id) if actor.org_id else None
    if org is None or org.country != country or org.type not in NATIONAL_TYPES:
        where = f"{org.short_name} ({org.type}, {org.country or 'no country'})" if org else "no organisation"
        raise PermissionDenied(
            f"only the national CSIRT, SPOC, competent authority or crisis authority of {country} contributes "
            f"for {country}; you act for {where}"
        )


def _sectors(items: list[SectorImpact]) -> list[dict[str, str]]:
    valid_sectors = taxonomies.nis2_sectors()
    valid_impacts = taxonomies.predicate_values("nis", "impact-severity")
    seen: dict[str, str] = {}
    for n, item in enumerate(items):
        if item.sector not in valid_sectors:
            raise _bad(
                f"sectors[{n}].sector",
                f"'{item.sector}' is not a NIS2 sector; valid: {', '.join(valid_sectors)}",
                valid=valid_sectors,
            )
        if item.impact not in valid_impacts:
            raise _bad(
                f"sectors[{n}].impact",
                f"'{item.impact}' is not a NIS impact severity; valid: {', '.join(valid_impacts)}",
                valid=valid_impacts,
            )
        if item.sector in seen:
            raise _bad(f"sectors[{n}].sector", f"sector '{item.sector}' is given twice")
        seen[item.sector] = item.impact
    return [{"sector": s, "impact": i} for s, i in sorted(seen.items())]


def _choice(field: str, value: str, valid: list[str]) -> str:
    if value not in valid:
        raise _bad(field, f"'{value}' is not valid for {field}; valid: {', '.join(valid)}", valid=valid)
    return value


def _incidents(session: Session, actor: Principal, ids: list[str], marking: TLP) -> list[str]:
    """Linked incidents must be visible to the author and no stricter than the contribution's own marking."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    rows = session.execute(
        select(Incident.id, Incident.tlp).where(Incident.id.in_(wanted), read_filter(actor, Incident))
    ).all()
    found = {r.id: r.tlp for r in rows}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise _bad("incidents", f"no incident you may see with id {', '.join(missing)}")
    too_strict = [(i, TLP(t)) for i, t in sorted(found.items()) if TLP(t).rank > marking.rank]
    if too_strict:
        detail = ", ".join(f"{i} is {t.label}" for i, t in too_strict)
        raise _bad(
            "tlp",
            f"{marking.label} is wider than the linked incidents allow ({detail}): mark the "
            "contribution at least as strictly, or unlink them and summarise instead",
        )
    return wanted


def _texts(values: list[str]) -> list[str]:
    return [v.strip() for v in values if v.strip()]


# --- versions -----------------------------------------------------------------------------------------------


def content_of(c: Contribution) -> dict[str, Any]:
    return {k: getattr(c, k) for k in VERSIONED}


def _snapshot(session: Session, c: Contribution, actor: Principal) -> None:
    session.add(
        ContributionVersion(contribution_id=c.id, version=c.version, created_by_id=actor.user_id, content=content_of(c))
    )


def versions(session: Session, contribution_id: str) -> list[ContributionVersion]:
    return list(
        session.scalars(
            select(ContributionVersion)
            .where(ContributionVersion.contribution_id == contribution_id)
            .order_by(ContributionVersion.version)
        )
    )


def shown_versions(session: Session, items: list[Contribution]) -> dict[str, int]:
    """The version number readers see of each: the row's own, or for a replica the latest version its origin
    numbered (replicas hold the submitted versions only, numbered as there; the row's counter is this node's)."""
    out = {c.id: c.version for c in items}
    replicas = [c.id for c in items if c.origin_node is not None]
    if replicas:
        query = (
            select(ContributionVersion.contribution_id, func.max(ContributionVersion.version))
            .where(ContributionVersion.contribution_id.in_(replicas))
            .group_by(ContributionVersion.contribution_id)
        )
        out.update({cid: n for cid, n in session.execute(query) if n is not None})
    return out


def diff_content(before: dict[str, Any], after: dict[str, Any]) -> list[FieldChange]:
    changes = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        lines = None
        if isinstance(old, str) and isinstance(new, str) and (key in TEXT_FIELDS or "\n" in old + new):
            lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), "before", "after", lineterm=""))
        changes.append(FieldChange(field=key, before=old, after=new, diff=lines))
    return changes


def diff(session: Session, contribution_id: str, a: int, b: int) -> list[FieldChange]:
    by_number = {v.version: v for v in versions(session, contribution_id)}
    for n in (a, b):
        if n not in by_number:
            raise NotFound(f"no version {n} of {contribution_id}; versions: {sorted(by_number)}")
    return diff_content(by_number[a].content, by_number[b].content)


# --- create / update ----------------------------------------------------------------------------------------


def get(session: Session, actor: Principal, contribution_id: str) -> Contribution:
    return sharing.get_readable(session, actor, Contribution, contribution_id)


def create(session: Session, *, actor: Principal, data: ContributionIn, settings: Settings) -> Contribution:
    country = normalise_country(data.country, field="country")
    check_represents(session, actor, country)
    assert actor.org_id is not None  # check_represents found the organisation
    check_period(session, data.period_start, data.period_end, settings)
    scale = scale_of(settings)
    status = _choice("status", data.status, scale)
    outlook = _choice("outlook", data.outlook, taxonomies.predicate_values("nis", "impact-outlook"))
    sectors = _sectors(data.sectors)
    marking = sharing.parse_tlp(data.tlp)
    incident_ids = _incidents(session, actor, data.incidents, marking)
    entries = sharing.resolve(
        session, tlp=marking, share_with=data.share_with, owner_org_id=actor.org_id, author_id=actor.user_id
    )
    now = utcnow()
    state = ContributionState.DRAFT if data.draft else ContributionState.SUBMITTED
    c = Contribution(
        id=new_id("contribution"),
        owner_org_id=actor.org_id,
        created_by_id=actor.user_id,
        tlp=marking.value,
        country=country,
        period_start=data.period_start,
        period_end=data.period_end,
        state=state.value,
        submitted_at=None if data.draft else now,
        status=status,
        outlook=outlook,
        sectors=sectors,
        services_disrupted=_texts(data.services_disrupted),
        entities_affected=data.entities_affected,
        incident_ids=incident_ids,
        measures=data.measures,
        needs=data.needs,
        assistance_requested=data.assistance_requested,
        narrative=data.narrative,
        created_at=now,
        modified_at=now,
    )
    session.add(c)
    session.flush()
    sharing.write(session, object_id=c.id, entries=entries, added_by=actor.org_id)
    _snapshot(session, c, actor)
    audit.record(
        session,
        actor=actor,
        tag="situation:contribution:create",
        object_id=c.id,
        summary={
            "country": country,
            "state": state.value,
            "status": status,
            "tlp": marking.value,
            "period": [data.period_start.isoformat(), data.period_end.isoformat()],
        },
    )
    return c


def _check_author(actor: Principal, c: Contribution) -> None:
    # A contribution held at another node (a replica, ADR 0013) changes on its Member State's node only.
    authority.authorize(actor, "contribution.edit", authority.owned(actor, c.owner_org_id), held_at=c.origin_node)


def update(
    session: Session, *, actor: Principal, contribution_id: str, patch: ContributionPatch, settings: Settings
) -> Contribution:
    c = get(session, actor, contribution_id)
    _check_author(actor, c)
    if c.version != patch.version:
        raise Conflict(
            f"the contribution changed since you read it (version {patch.version}, now {c.version}): "
            "reload and apply your change again"
        )
    check_period(session, c.period_start, c.period_end, settings)
    before = content_of(c)
    changes = patch.model_dump(exclude_unset=True, exclude={"version"})
    if "status" in changes:
        c.status = _choice("status", changes["status"], scale_of(settings))
    if "outlook" in changes:
        c.outlook = _choice("outlook", changes["outlook"], taxonomies.predicate_values("nis", "impact-outlook"))
    if patch.sectors is not None:
        c.sectors = _sectors(patch.sectors)
    if patch.incidents is not None:
        c.incident_ids = _incidents(session, actor, patch.incidents, TLP(c.tlp))
    if patch.services_disrupted is not None:
        c.services_disrupted = _texts(patch.services_disrupted)
    for key in ("entities_affected", "measures", "needs", "assistance_requested", "narrative"):
        if key in changes:
            setattr(c, key, changes[key])
    if content_of(c) == before:
        return c  # nothing changed: no new version
    c.modified_at = utcnow()
    session.flush()
    _snapshot(session, c, actor)
    audit.record(
        session,
        actor=actor,
        tag="situation:contribution:update",
        object_id=c.id,
        summary={"fields": sorted(changes), "version": c.version},
    )
    return c


def submit(
    session: Session, *, actor: Principal, contribution_id: str, version: int, settings: Settings
) -> Contribution:
    c = get(session, actor, contribution_id)
    _check_author(actor, c)
    if c.version != version:
        raise Conflict(f"the contribution changed since you read it (version {version}, now {c.version})")
    if c.state == ContributionState.SUBMITTED:
        raise Conflict("the contribution is already submitted")
    check_period(session, c.period_start, c.period_end, settings)
    c.state = ContributionState.SUBMITTED.value
    c.submitted_at = c.modified_at = utcnow()
    session.flush()
    _snapshot(session, c, actor)
    audit.record(
        session, actor=actor, tag="situation:contribution:submit", object_id=c.id, summary={"version": c.version}
    )
    return c


MAX_CLOSED_PERIOD = timedelta(days=31)  # the deployment's bound: a closure covers a reporting period, not a season


def secretariat(session: Session, actor: Principal) -> set[authority.Relation]:
    """The secretariat relation: the actor's organisation is an EU body (the deployment's rule)."""
    org = session.get(Organisation, actor.org_id) if actor.org_id else None
    return {authority.R.SECRETARIAT} if org is not None and org.type == OrgType.EU_BODY.value else set()


def close_period(session: Session, *, actor: Principal, start: datetime, end: datetime, reason: str) -> ClosedPeriod:
    authority.authorize(actor, "period.close", secretariat(session, actor))
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise _bad("period_end", "give a period with time zones that ends after it starts")
    if end - start > MAX_CLOSED_PERIOD:
        raise _bad("period_end", f"a closed period is at most {MAX_CLOSED_PERIOD.days} days (the deployment's rule)")
    row = ClosedPeriod(period_start=start, period_end=end, closed_by_id=actor.user_id, reason=reason)
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        tag="situation:period:close",
        object_id=None,
        summary={"period": [start.isoformat(), end.isoformat()], "reason": reason},
    )
    return row
