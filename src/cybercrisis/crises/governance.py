"""Consultations before an activation (IPCR arrangements) and the Commission's role in EU-CyCLONe (NIS2 Art. 16(2))."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access import authority
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.audit import service as audit
from cybercrisis.config import Settings
from cybercrisis.crises.audience import org_names, org_principal
from cybercrisis.crises.decisions import add_decision
from cybercrisis.crises.escalation import AFFECTED_MEMBER_STATES, EscalationModel, model_for
from cybercrisis.crises.models import (
    CommissionRole,
    Crisis,
    CrisisIncident,
    DecisionKind,
    Escalation,
    EscalationConsultation,
)
from cybercrisis.crises.rules import bad, choice, community_deciders, for_update, pending_escalation, require_open
from cybercrisis.crises.schemas import ConsultationIn
from cybercrisis.db import utcnow
from cybercrisis.directory.models import Organisation
from cybercrisis.errors import Conflict
from cybercrisis.incidents.models import Incident, IncidentCountry


def _affected_countries(session: Session, crisis: Crisis, org_id: str) -> list[str]:
    """The affected Member States to consult, as the deciding organisation `org_id` knows them: the countries of
    the crisis's linked incidents that it may read (those of incidents hidden from it are neither required nor
    named, so a refusal says nothing about them)."""
    q = (
        select(IncidentCountry.country)
        .join(CrisisIncident, CrisisIncident.incident_id == IncidentCountry.incident_id)
        .join(Incident, Incident.id == IncidentCountry.incident_id)
        .where(CrisisIncident.crisis_id == crisis.id, read_filter(org_principal(session, org_id), Incident))
        .distinct()
    )
    return sorted(session.scalars(q))


def missing_consultations(session: Session, crisis: Crisis, esc: Escalation, org_id: str) -> list[str]:
    """The consultations `org_id` must have recorded before its agreement to `esc` counts (none for its own
    organisation): each party of `esc.consult`; an affected Member State counts as consulted when an organisation
    of that country was."""
    parties = [p for p in esc.consult if p != org_id]
    if not parties:
        return []
    consulted = set(
        session.scalars(select(EscalationConsultation.org_id).where(EscalationConsultation.escalation_id == esc.id))
    )
    missing: list[str] = []
    for party in parties:
        if party == AFFECTED_MEMBER_STATES:
            countries = _affected_countries(session, crisis, org_id)
            if not countries:
                missing.append(
                    "the affected Member States (none is known to your organisation: the countries of "
                    "the crisis's linked incidents that it may read name them; the crisis owner links "
                    "them and their originators share them)"
                )
                continue
            done = set(session.scalars(select(Organisation.country).where(Organisation.id.in_(sorted(consulted)))))
            missing += [f"the affected Member State {cc}" for cc in countries if cc not in done]
        elif party not in consulted:
            missing.append(org_names(session, [party])[party])
    return missing


def activators(esc: Escalation, model: EscalationModel) -> set[str]:
    """Organisations that agree to the step as the model's approvers (not the originator let in for widening)."""
    try:
        path = model.required_for(model.stage(esc.from_stage), model.stage(esc.to_stage))
    except KeyError:
        path = tuple(esc.required)
    return set(path) | set(esc.any_of)


def record_consultation(
    session: Session, *, actor: Principal, crisis_id: str, escalation_id: str, data: ConsultationIn
) -> EscalationConsultation:
    """Record that an organisation was consulted about a pending step, when, and its view (IPCR arrangements)."""
    crisis, esc = pending_escalation(session, actor, crisis_id, escalation_id)
    rel: set[authority.Relation] = set()
    if actor.org_id is not None and actor.org_id in {*esc.required, *esc.any_of}:
        rel.add(authority.R.REQUIRED)
    if actor.org_id is not None and actor.org_id == data.consulted:
        rel.add(authority.R.NAMED)
    authority.authorize(actor, "crisis.escalation.consult", rel)
    assert actor.org_id is not None
    if session.get(Organisation, data.consulted) is None:
        raise bad("consulted", f"unknown organisation {data.consulted}")
    if data.consulted_at is not None and data.consulted_at.tzinfo is None:
        raise bad("consulted_at", "give a time zone, e.g. 2026-11-28T18:00:00Z")
    now = utcnow()
    when = data.consulted_at or now
    if when > now:
        raise bad("consulted_at", "a consultation is recorded once it was held, not in advance")
    existing = session.get(EscalationConsultation, (esc.id, data.consulted))
    if existing is not None:
        name = org_names(session, [data.consulted])[data.consulted]
        raise Conflict(f"the consultation of {name} is already recorded ({existing.consulted_at.isoformat()})")
    row = EscalationConsultation(
        escalation_id=esc.id,
        org_id=data.consulted,
        consulted_at=when,
        view=data.view,
        recorded_by_org_id=actor.org_id,
        recorded_by_id=actor.user_id,
        at=now,
    )
    session.add(row)
    esc.modified_at = now
    session.flush()
    audit.record(
        session,
        actor=actor,
        tag="crises:escalation:consult",
        object_id=esc.id,
        summary={"crisis": crisis.id, "consulted": data.consulted, "consulted_at": when.isoformat()},
    )
    return row


def consultations_of(session: Session, escalation_ids: Sequence[str]) -> list[EscalationConsultation]:
    if not escalation_ids:
        return []
    return list(
        session.scalars(
            select(EscalationConsultation)
            .where(EscalationConsultation.escalation_id.in_(sorted(set(escalation_ids))))
            .order_by(EscalationConsultation.consulted_at)
        )
    )


def set_commission_role(
    session: Session, *, actor: Principal, crisis_id: str, role: str, rationale: str, settings: Settings
) -> Crisis:
    """Record whether the Commission takes part in the model's community (EU-CyCLONe) as a member or an observer in
    this crisis (NIS2 Art. 16(2)); a deciding member of that community or the crisis owner records it."""
    crisis = for_update(session, actor, crisis_id)
    model = model_for(settings)
    switch = model.commission
    if switch is None:
        raise Conflict("this deployment's escalation model names no Commission role to record (`commission`)")
    rel = {authority.R.OWNER} if actor.org_id == crisis.owner_org_id else set()
    if actor.org_id is not None and actor.org_id in community_deciders(session, crisis, switch.community, model):
        rel.add(authority.R.DECIDER)
    authority.authorize(
        actor,
        "crisis.commission-role",
        rel,
        refusal=(
            f"only the crisis owner and the deciding members of {switch.community} record the Commission's role there "
            f"({switch.basis})"
        ),
    )
    new = choice("role", role, [r.value for r in CommissionRole])
    require_open(crisis)
    if new == crisis.commission_role:
        raise Conflict(f"the crisis already records the Commission as {new} of {switch.community}")
    before = crisis.commission_role
    crisis.commission_role = new
    crisis.modified_at = utcnow()
    assert actor.org_id is not None
    level = next(s.level for s in model.stages if s.community == switch.community)
    article = "a member" if new == CommissionRole.MEMBER else "an observer"
    add_decision(
        session,
        actor,
        crisis,
        level=level,
        kind=DecisionKind.OTHER,
        title=f"The Commission takes part in {switch.community} as {article} ({switch.basis})",
        rationale=rationale,
        decided_by=[actor.org_id],
    )
    audit.record(
        session,
        actor=actor,
        tag="crises:crisis:commission-role",
        object_id=crisis.id,
        summary={"from": before, "to": new, "community": switch.community, "basis": switch.basis},
    )
    return crisis
