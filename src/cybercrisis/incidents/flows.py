"""The NIS2 Art. 23 flows between authorities, as recorded, audited, tracked steps.

- Art. 23(6): "where appropriate, and in particular where the significant incident concerns two or more Member
  States, the CSIRT, the competent authority or the single point of contact shall inform, without undue delay, the
  other affected Member States and ENISA of the significant incident", preserving the entity's security and
  commercial interests and the confidentiality of the information provided. `inform_member_states`, `to_inform`.
- Art. 23(8): "at the request of the CSIRT or the competent authority, the single point of contact shall forward
  notifications as referred to in paragraph 1 to single points of contact of other affected Member States".
  `request_forwarding`, `forward`.
- Art. 23(9): "every three months, the single point of contact shall submit to ENISA a summary report, including
  anonymised and aggregated data on significant incidents, incidents, cyber threats and near misses notified in
  accordance with paragraph 1 of this Article and with Article 30". `quarterly_figures`, `submit_summary`.

Who may act is access/authority.py's ACTS table; who may be added as a reader is its widening table: the informer
(or, for a forwarding, the requesting authority on whose behalf the SPOC acts) must be allowed to widen the
incident to the recipients. Deployment's rules, not law, are marked as such where they appear.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from cybercrisis.access import authority, sharing
from cybercrisis.access.policy import ORG, read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.audit import service as audit
from cybercrisis.db import new_id, utcnow
from cybercrisis.directory.countries import EU_MEMBER_STATES, normalise_country
from cybercrisis.directory.exchange import org_id_for_key
from cybercrisis.directory.models import Organisation, OrgType
from cybercrisis.errors import Conflict, InvalidInput, PermissionDenied
from cybercrisis.incidents import tasks
from cybercrisis.incidents.common import get_incident
from cybercrisis.incidents.flow_models import (
    FORWARDING_TYPE,
    INFORM_TYPE,
    SUMMARY_TYPE,
    Forwarding,
    ForwardingStatus,
    MemberStateInformation,
    QuarterlySummary,
)
from cybercrisis.incidents.flow_schemas import ForwardingRequestIn, InformIn
from cybercrisis.incidents.models import Incident, IncidentCountry, IncidentSector, Significance

R = authority.Relation
# The authorities of a Member State that NIS2 Art. 23(6) names beside the SPOC: its CSIRT and competent authority.
CSIRT_OR_CA = frozenset({OrgType.NATIONAL_CSIRT.value, OrgType.COMPETENT_AUTHORITY.value})
# Who receives an Art. 23(6) information in another Member State: its SPOC and its national CSIRT(s). The Directive
# says "the other affected Member States"; addressing their SPOC and CSIRT is the deployment's rule.
RECEIVING_TYPES = (OrgType.SPOC.value, OrgType.NATIONAL_CSIRT.value)
# The steps are marked TLP:AMBER+STRICT (the recipient organisations only): authority-to-authority correspondence.
# The deployment's rule: NIS2 asks for confidentiality (Art. 23(6)) without naming a marking.
STEP_TLP = TLP.AMBER_STRICT
ENISA_KEY = "enisa"  # ENISA's directory key (directory/exchange.py org_id_for_key)


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message}])


def _org(session: Session, org_id: str | None) -> Organisation | None:
    return session.get(Organisation, org_id) if org_id else None


def incident_relations(session: Session, actor: Principal, incident: Incident) -> set[authority.Relation]:
    """The actor's organisation to an incident it reads: a CSIRT or competent authority of the incident's Member
    State (the recording organisation's country), or that Member State's SPOC."""
    org = _org(session, actor.org_id)
    owner = _org(session, incident.owner_org_id)
    if org is None or owner is None:
        return set()
    same_state = org.id == owner.id or (org.country is not None and org.country == owner.country)
    if not same_state:
        return set()
    if org.type in CSIRT_OR_CA:
        return {R.NIS2_AUTHORITY}
    if org.type == OrgType.SPOC:
        return {R.SPOC}
    return set()


def _require_significant(incident: Incident, provision: str) -> None:
    if incident.significance != Significance.SIGNIFICANT:
        raise Conflict(
            f"the incident's significance is '{incident.significance}': {provision} concerns significant incidents "
            "(NIS2 Art. 23(3)); decide its significance first"
        )


def _member_states(values: Sequence[str], *, field: str, own: str | None) -> list[str]:
    out: list[str] = []
    for i, value in enumerate(values):
        code = normalise_country(value, field=f"{field}[{i}]")
        if code not in EU_MEMBER_STATES:
            raise _bad(f"{field}[{i}]", f"{value} is not an EU Member State")
        if code == own:
            raise _bad(f"{field}[{i}]", f"{code} is your own Member State: name the *other* affected Member States")
        if code not in out:
            out.append(code)
    return out


def _authorities_in(session: Session, countries: Sequence[str], types: Sequence[str], *, field: str) -> list[str]:
    """The organisations of `types` in each of `countries`; every country must have one in the directory."""
    if not countries:
        return []
    rows = session.execute(
        select(Organisation.id, Organisation.country).where(
            Organisation.country.in_(sorted(countries)), Organisation.type.in_(list(types))
        )
    ).all()
    found = {r.country for r in rows}
    missing = [c for c in countries if c not in found]
    if missing:
        kinds = " or ".join(t.replace("-", " ") for t in types)
        raise _bad(field, f"no {kinds} of {', '.join(missing)} in this node's directory")
    return sorted({r.id for r in rows})


def enisa_org_id(session: Session) -> str | None:
    """ENISA in the directory: by its directory key, else the EU body whose short name is ENISA."""
    by_key = org_id_for_key(ENISA_KEY)
    if session.get(Organisation, by_key) is not None:
        return by_key
    return session.scalars(
        select(Organisation.id).where(
            Organisation.type == OrgType.EU_BODY.value, func.lower(Organisation.short_name) == ENISA_KEY
        )
    ).first()


def _not_reading(session: Session, incident: Incident, org_ids: Iterable[str]) -> list[str]:
    """Those organisations that do not read the incident now (as organisations)."""
    return [o for o in org_ids if not sharing.readable(session, sharing.org_reader(session, o), incident)]


def _check_incident_widening(
    session: Session, *, org_id: str | None, incident: Incident, added: Sequence[str], on_behalf: str = ""
) -> None:
    """Refuse (403, naming why) when `org_id` may not let `added` read the incident (authority.refused_widening)."""
    if not added:
        return
    label = TLP(incident.tlp).label
    if incident.tlp == TLP.RED:
        raise PermissionDenied(
            f"the incident is {label}: it is read by named users only, never by organisations; its originator may "
            "change its marking, or inform without sharing the incident"
        )
    refused = authority.refused_widening(
        session, org_id=org_id, tlp=incident.tlp, owner_org_id=incident.owner_org_id, added=[(ORG, o) for o in added]
    )
    if refused:
        names = ", ".join(sorted(t for _, t in refused)[:5])
        raise PermissionDenied(
            f"only the originator widens who reads this incident ({label}){on_behalf}; these organisations may not "
            f"be added: {names}"
        )


def _share_incident(
    session: Session,
    *,
    actor: Principal,
    incident: Incident,
    org_ids: Sequence[str],
    added_by: str | None,
    tag: str,
    summary: dict[str, Any],
) -> None:
    """Add organisations to the incident's share list (already checked) and record the step on the incident."""
    existing = {(s.kind, s.target) for s in sharing.shares_of(session, incident.id)}
    new = [o for o in org_ids if (ORG, o) not in existing]
    if new:
        sharing.write(session, object_id=incident.id, entries=[(ORG, o) for o in new], added_by=added_by)
    audit.record(session, actor=actor, tag=tag, object_id=incident.id, summary={**summary, "shared_with": new})


# --- Art. 23(6): informing other affected Member States and ENISA -------------------------------------------------


def inform_member_states(
    session: Session, *, actor: Principal, incident_id: str, data: InformIn
) -> MemberStateInformation:
    """Record that the actor's organisation informed other affected Member States and/or ENISA (NIS2 Art. 23(6))."""
    incident = get_incident(session, principal=actor, incident_id=incident_id)
    authority.authorize(actor, "incident.inform-member-states", incident_relations(session, actor, incident))
    _require_significant(incident, "NIS2 Art. 23(6)")
    org = _org(session, actor.org_id)
    assert org is not None  # authorize found a relation, which needs the actor's organisation
    states = _member_states(data.member_states, field="member_states", own=org.country)
    if not states and not data.enisa:
        raise _bad("member_states", "name at least one other affected Member State, or inform ENISA")
    recipients = _authorities_in(session, states, RECEIVING_TYPES, field="member_states")
    if data.enisa:
        enisa = enisa_org_id(session)
        if enisa is None:
            raise _bad("enisa", f"ENISA (directory key '{ENISA_KEY}') is not in this node's directory")
        recipients = sorted({*recipients, enisa})
    newcomers = _not_reading(session, incident, recipients) if data.share_incident else []
    _check_incident_widening(session, org_id=actor.org_id, incident=incident, added=newcomers)
    # One event on the incident whether or not it is shared: the step shows on the incident's timeline.
    _share_incident(
        session,
        actor=actor,
        incident=incident,
        org_ids=newcomers,
        added_by=actor.org_id,
        tag="incidents:incident:inform-member-states",
        summary={"member_states": states, "enisa": data.enisa},
    )
    now = utcnow()
    step = MemberStateInformation(
        id=new_id(INFORM_TYPE),
        owner_org_id=org.id,
        created_by_id=actor.user_id,
        tlp=STEP_TLP.value,
        exercise=incident.exercise,
        created_at=now,
        modified_at=now,
        incident_id=incident.id,
        member_states=states,
        enisa_informed=data.enisa,
        incident_shared=data.share_incident,
        recipient_org_ids=recipients,
        summary=data.summary,
        withheld_reason=data.withheld_reason,
        informed_at=now,
    )
    session.add(step)
    session.flush()
    # The step reaches its recipients and, when someone else informs, the organisation that recorded the incident.
    readers = sorted({*recipients, incident.owner_org_id} - {org.id})
    sharing.write(session, object_id=step.id, entries=[(ORG, o) for o in readers], added_by=org.id)
    audit.record(
        session,
        actor=actor,
        tag="incidents:nis2-information:create",
        object_id=step.id,
        summary={
            "incident": incident.id,
            "member_states": states,
            "enisa": data.enisa,
            "incident_shared": data.share_incident,
            "recipients": len(recipients),
            "withheld": bool(data.withheld_reason),
        },
    )
    _tell_informed(session, actor=actor, step=step, informer=org, org_ids=readers)
    return step


def _tell_informed(
    session: Session, *, actor: Principal, step: MemberStateInformation, informer: Organisation, org_ids: Sequence[str]
) -> None:
    """Tell the step's readers, with what the step itself carries (the incident's title only travels when the
    incident was shared with them)."""
    from cybercrisis.notify.service import notify_readers

    subject = f"[{TLP(step.tlp).label}] {informer.short_name} informs you of a significant incident (NIS2 Art. 23(6))"
    lines = [f"{informer.name} informs you of a significant incident under NIS2 Art. 23(6)."]
    if step.summary:
        lines.append(f"\n{step.summary}")
    if step.incident_shared:
        lines.append(f"\nThe incident is shared with you: {step.incident_id}")
    lines.append(f"\nRecord: {step.id}\nMarking: {TLP(step.tlp).label}")
    notify_readers(
        session,
        obj=step,
        event="incidents:nis2-information:create",
        org_ids=org_ids,
        subject=subject,
        body="\n".join(lines),
        payload={"information": step.id, "tlp": step.tlp},
        dedupe=f"inform:{step.id}",
        actor=actor,
    )


def to_inform(session: Session, *, principal: Principal, limit: int = 200) -> list[Incident]:
    """Significant incidents of the reader's Member State that concern two or more countries and have no Art. 23(6)
    step the reader can see, oldest awareness first. Exercise data is left out.

    "Concerns two or more Member States" (Art. 23(6)) is read here as two or more countries recorded on the
    incident: the deployment's rule, which the informer confirms by choosing the Member States to inform."""
    org = _org(session, principal.org_id)
    if org is None:
        return []
    same_state = (
        Incident.owner_org_id.in_(select(Organisation.id).where(Organisation.country == org.country))
        if org.country
        else Incident.owner_org_id == org.id
    )
    countries = (
        select(func.count()).select_from(IncidentCountry).where(IncidentCountry.incident_id == Incident.id)
    ).scalar_subquery()
    informed = exists().where(
        MemberStateInformation.incident_id == Incident.id, read_filter(principal, MemberStateInformation)
    )
    query = (
        select(Incident)
        .where(
            read_filter(principal, Incident),
            same_state,
            Incident.significance == Significance.SIGNIFICANT.value,
            Incident.exercise.is_(False),
            countries >= 2,  # "two or more Member States"
            ~informed,
        )
        .order_by(Incident.aware_at, Incident.id)
        .limit(limit)
    )
    return list(session.scalars(query))


# --- Art. 23(8): forwarding to the SPOCs of other affected Member States on request ------------------------------


def spoc_of(session: Session, country: str | None) -> str | None:
    """The single point of contact of a Member State (NIS2 Art. 8(3): one per Member State); the first by short
    name if the directory lists several."""
    if not country:
        return None
    return session.scalars(
        select(Organisation.id)
        .where(Organisation.country == country, Organisation.type == OrgType.SPOC.value)
        .order_by(Organisation.short_name)
    ).first()


def request_forwarding(
    session: Session, *, actor: Principal, incident_id: str, data: ForwardingRequestIn
) -> Forwarding:
    """A CSIRT or competent authority asks its SPOC to forward the notification (NIS2 Art. 23(8))."""
    incident = get_incident(session, principal=actor, incident_id=incident_id)
    authority.authorize(actor, "incident.forwarding.request", incident_relations(session, actor, incident))
    _require_significant(incident, "NIS2 Art. 23(8) (notifications under Art. 23(1))")
    org = _org(session, actor.org_id)
    assert org is not None
    spoc = spoc_of(session, org.country)
    if spoc is None:
        raise _bad(
            "member_states",
            f"no single point of contact of {org.country or 'your Member State'} in this node's directory",
        )
    states = _member_states(data.member_states, field="member_states", own=org.country)
    targets = _authorities_in(session, states, (OrgType.SPOC.value,), field="member_states")
    marking = sharing.parse_tlp(data.tlp)
    if marking == TLP.RED:
        raise _bad(
            "tlp",
            "the request must reach your single point of contact's organisation: mark it TLP:AMBER+STRICT or wider",
        )
    # The SPOC acts on the requester's behalf: check now that the requester may let the targets read the incident,
    # and let its own SPOC read it (Art. 23(1), third subparagraph: SPOCs are provided with the information).
    _check_incident_widening(
        session, org_id=org.id, incident=incident, added=_not_reading(session, incident, [spoc, *targets])
    )
    _share_incident(
        session,
        actor=actor,
        incident=incident,
        org_ids=_not_reading(session, incident, [spoc]),
        added_by=org.id,
        tag="incidents:incident:forwarding-request",
        summary={"spoc": spoc, "member_states": states},
    )
    wanted = data.share_with.model_copy(update={"organisations": [*data.share_with.organisations, spoc]})
    entries = sharing.resolve(session, tlp=marking, share_with=wanted, owner_org_id=org.id, author_id=actor.user_id)
    now = utcnow()
    fw = Forwarding(
        id=new_id(FORWARDING_TYPE),
        owner_org_id=org.id,
        created_by_id=actor.user_id,
        tlp=marking.value,
        exercise=incident.exercise,
        created_at=now,
        modified_at=now,
        incident_id=incident.id,
        status=ForwardingStatus.REQUESTED.value,
        spoc_org_id=spoc,
        member_states=states,
        note=data.note,
        requested_at=now,
        target_org_ids=[],
    )
    session.add(fw)
    session.flush()
    sharing.write(session, object_id=fw.id, entries=entries, added_by=org.id)
    audit.record(
        session,
        actor=actor,
        tag="incidents:nis2-forwarding:request",
        object_id=fw.id,
        summary={"incident": incident.id, "spoc": spoc, "member_states": states},
    )
    return fw


def forward(session: Session, *, actor: Principal, forwarding_id: str) -> Forwarding:
    """The SPOC named on a request forwards the notification to the SPOCs of the Member States named (Art. 23(8)):
    they become readers of the incident."""
    fw = sharing.get_readable(session, actor, Forwarding, forwarding_id)  # the act is on the request
    org = _org(session, actor.org_id)
    is_spoc = org is not None and org.id == fw.spoc_org_id and org.type == OrgType.SPOC
    authority.authorize(actor, "incident.forwarding.forward", {R.SPOC} if is_spoc else set())
    incident = get_incident(session, principal=actor, incident_id=fw.incident_id)
    if fw.status != ForwardingStatus.REQUESTED:
        raise Conflict(f"this request was {fw.status} already ({fw.forwarded_at:%Y-%m-%d %H:%M} UTC)")
    _require_significant(incident, "NIS2 Art. 23(8) (notifications under Art. 23(1))")
    targets = _authorities_in(session, fw.member_states, (OrgType.SPOC.value,), field="member_states")
    newcomers = _not_reading(session, incident, targets)
    # The widening is the requesting authority's, on whose request the SPOC acts (checked again: the incident's
    # marking or share list may have changed since the request).
    _check_incident_widening(
        session,
        org_id=fw.owner_org_id,
        incident=incident,
        added=newcomers,
        on_behalf=", and the requesting authority may not widen it so",
    )
    _share_incident(
        session,
        actor=actor,
        incident=incident,
        org_ids=newcomers,
        added_by=fw.owner_org_id,
        tag="incidents:incident:forward",
        summary={"request": fw.id, "member_states": fw.member_states},
    )
    now = utcnow()
    fw.status = ForwardingStatus.FORWARDED.value
    fw.forwarded_at = now
    fw.forwarded_by_id = actor.user_id
    fw.target_org_ids = targets
    fw.modified_at = now
    audit.record(
        session,
        actor=actor,
        tag="incidents:nis2-forwarding:forward",
        object_id=fw.id,
        summary={"incident": incident.id, "targets": targets},
    )
    tasks.notify(
        session,
        incident=incident,
        event="incidents:nis2-forwarding:forward",
        org_ids=targets,
        text=f"The single point of contact of {org.short_name if org else 'another Member State'} forwards "
        "this notification to you (NIS2 Art. 23(8)).",
        dedupe=f"forward:{fw.id}",
        extra={"forwarding": fw.id},
        actor=actor,
    )
    return fw


def flows_of(
    session: Session, *, principal: Principal, incident_id: str
) -> tuple[list[MemberStateInformation], list[Forwarding]]:
    """The Art. 23(6) and 23(8) steps of an incident that the reader may read."""
    incident = get_incident(session, principal=principal, incident_id=incident_id)
    infos = session.scalars(
        select(MemberStateInformation)
        .where(MemberStateInformation.incident_id == incident.id, read_filter(principal, MemberStateInformation))
        .order_by(MemberStateInformation.informed_at)
    )
    fws = session.scalars(
        select(Forwarding)
        .where(Forwarding.incident_id == incident.id, read_filter(principal, Forwarding))
        .order_by(Forwarding.requested_at)
    )
    return list(infos), list(fws)


# --- Art. 23(9): the quarterly summary to ENISA -----------------------------------------------------------------


def quarter_bounds(quarter: str) -> tuple[datetime, datetime]:
    """`2026-Q4` -> [2026-10-01, 2027-01-01) in UTC."""
    try:
        year, q = int(quarter[:4]), int(quarter[6:])
        if quarter[4:6] != "-Q" or len(quarter) != 7 or not 1 <= q <= 4:
            raise ValueError
    except ValueError:
        raise _bad("quarter", f"'{quarter}' is not a quarter of the form YYYY-Qn, e.g. 2026-Q4") from None
    start = datetime(year, 3 * (q - 1) + 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC) if q == 4 else datetime(year, 3 * q + 1, 1, tzinfo=UTC)
    return start, end


def _spoc_org(session: Session, actor: Principal) -> Organisation:
    org = _org(session, actor.org_id)
    is_spoc = org is not None and org.type == OrgType.SPOC
    authority.authorize(actor, "incident.quarterly-summary", {R.SPOC} if is_spoc else set())
    assert org is not None
    if not org.country:
        raise _bad("organisation", f"{org.short_name} has no country in the directory: whose summary is this?")
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
        raise _bad("quarter", f"ENISA (directory key '{ENISA_KEY}') is not in this node's directory")
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
