"""What a hand-off must satisfy before anything is written: a sender that is an organisation, a law-enforcement
recipient, a flagged incident or crisis the sender reads, a marking of AMBER+STRICT or AMBER, and chosen observables
sighted where the sender may see them and may let the recipient read them, none wider than the marking."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access import sharing, widening
from cybercrisis.access.permissions import Permission
from cybercrisis.access.policy import ORG, can_read, read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.crises.models import Crisis, CrisisIncident
from cybercrisis.directory.exchange import org_id_for_key
from cybercrisis.directory.models import Organisation, OrgType
from cybercrisis.errors import Conflict, InvalidInput, PermissionDenied
from cybercrisis.handoffs.schemas import ChosenObservable, HandoffIn
from cybercrisis.incidents.models import Incident, Observable, Sighting
from cybercrisis.incidents.observables import normalise

EC3_KEY = "europol-ec3"
MARKINGS = (TLP.AMBER_STRICT, TLP.AMBER)
_RANKED = sorted(TLP, key=lambda t: t.rank)


def bad(field: str, message: str, **extra: Any) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message, **extra}])


def writer(actor: Principal) -> str:
    actor.require(Permission.HANDOFF_WRITE)
    if actor.org_id is None:
        raise PermissionDenied("only a member of an organisation hands evidence over")
    return actor.org_id


def marking(value: str) -> TLP:
    tlp = sharing.parse_tlp(value)
    if tlp == TLP.RED:
        raise bad(
            "tlp",
            "TLP:RED hand-offs (named people only) are not supported: mark it TLP:AMBER+STRICT, which "
            "the recipient organisation alone may read",
        )
    if tlp not in MARKINGS:
        raise bad("tlp", f"an evidence package for law enforcement is TLP:AMBER+STRICT or TLP:AMBER, not {tlp.label}")
    return tlp


def is_law_enforcement(org: Organisation) -> bool:
    return org.type == OrgType.LAW_ENFORCEMENT or org.id == org_id_for_key(EC3_KEY)


def law_enforcement(session: Session, org_id: str, *, field: str) -> Organisation:
    org = session.get(Organisation, org_id)
    if org is None:
        raise bad(field, f"no organisation with id {org_id}")
    if not is_law_enforcement(org):
        raise bad(
            field,
            f"{org.short_name} is not a law-enforcement organisation: hand over to a police "
            "cybercrime unit of the directory (type law-enforcement) or to Europol EC3",
        )
    return org


def source(session: Session, actor: Principal, data: HandoffIn) -> tuple[Incident | None, Crisis | None]:
    if (data.incident is None) == (data.crisis is None):
        raise bad("incident", "give exactly one of incident or crisis: the one you hand over")
    if data.incident is not None:
        incident = sharing.get_readable(session, actor, Incident, data.incident)
        if not incident.suspected_malicious:
            raise Conflict("the incident is not flagged as suspected malicious: flag it as suspected criminal first")
        return incident, None
    assert data.crisis is not None
    crisis = sharing.get_readable(session, actor, Crisis, data.crisis)
    if not crisis.suspected_criminal:
        raise Conflict("the crisis is not flagged as suspected criminal: flag it as suspected criminal first")
    return None, crisis


def _normalised(items: list[ChosenObservable]) -> list[tuple[str, str]]:
    out: dict[tuple[str, str], None] = {}
    for i, item in enumerate(items):
        try:
            value = normalise(item.type, item.value)
        except InvalidInput as exc:
            raise bad(f"observables[{i}]", f"observables[{i}]: {exc.detail}") from None
        out.setdefault((item.type, value), None)
    return list(out)


def chosen(
    session: Session,
    actor: Principal,
    *,
    incident: Incident | None,
    crisis: Crisis | None,
    items: list[ChosenObservable],
    marking: TLP,
    recipient: str,
) -> list[tuple[str, str]]:
    """The chosen observables, checked: each sighted in an incident the sender reads now and may let the recipient
    read (widening.check_widening: its own incidents, or what their TLP lets it pass on), none wider than the mark."""
    wanted = _normalised(items)
    source = TLP(incident.tlp if incident is not None else crisis.tlp if crisis is not None else marking)
    if source.rank > marking.rank:
        raise _too_wide(marking, source)
    if not wanted:
        return []
    base = (
        select(Observable.type, Observable.value, Incident.tlp, Incident.id, Incident.owner_org_id)
        .join(Sighting, Sighting.observable_id == Observable.id)
        .join(Incident, Incident.id == Sighting.incident_id)
    )
    if incident is not None:
        base = base.where(Sighting.incident_id == incident.id)
    else:
        assert crisis is not None
        base = base.join(CrisisIncident, CrisisIncident.incident_id == Incident.id).where(
            CrisisIncident.crisis_id == crisis.id, read_filter(actor, Incident)
        )
    least, passable = _sightings(session, actor, base, wanted, recipient)
    missing = [f"{t}:{v}" for t, v in wanted if (t, v) not in least]
    if missing:
        where = "the incident" if incident is not None else "an incident of this crisis"
        shown = ", ".join(missing[:20]) + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
        raise bad(
            "observables",
            f"not sighted in {where} that you may see: {shown}; hand over only what you can see",
            items=missing,
        )
    blocked = [f"{t}:{v}" for t, v in wanted if (t, v) not in passable]
    if blocked:
        raise PermissionDenied(
            f"only the originators of the incidents these were seen in may let law enforcement "
            f"read them: {', '.join(blocked[:20])}; ask them to hand them over"
        )
    strictest = max(least.values())
    if strictest > marking.rank:
        raise _too_wide(marking, _RANKED[strictest])
    return wanted


def _sightings(
    session: Session, actor: Principal, base: Any, wanted: list[tuple[str, str]], recipient: str
) -> tuple[dict[tuple[str, str], int], set[tuple[str, str]]]:
    """Per chosen value: the rank of the least strict visible incident it was sighted in (the marking it may be
    handed over under), and whether one of them may reach the recipient through the actor (`_may_pass`)."""
    least: dict[tuple[str, str], int] = {}
    passable: set[tuple[str, str]] = set()
    by_type: dict[str, list[str]] = {}
    for t, v in wanted:
        by_type.setdefault(t, []).append(v)
    may_pass: dict[str, bool] = {}
    for t, values in sorted(by_type.items()):
        for start in range(0, len(values), 500):
            rows = session.execute(base.where(Observable.type == t, Observable.value.in_(values[start : start + 500])))
            for row in rows:
                key = (row.type, row.value)
                rank = TLP(row.tlp).rank
                least[key] = min(rank, least.get(key, rank))
                if row.id not in may_pass:
                    may_pass[row.id] = _may_pass(session, actor, row.id, row.tlp, row.owner_org_id, recipient)
                if may_pass[row.id]:
                    passable.add(key)
    return least, passable


def _may_pass(session: Session, actor: Principal, incident_id: str, tlp: str, owner: str, recipient: str) -> bool:
    """Whether the recipient reads the incident already, or the actor's organisation may widen it to the recipient."""
    reader = sharing.org_reader(session, recipient)
    if can_read(reader, tlp=tlp, owner_org_id=owner, shares=sharing.shares_of(session, incident_id)):
        return True
    return not widening.refused_widening(
        session, org_id=actor.org_id, tlp=tlp, owner_org_id=owner, added=[(ORG, recipient)]
    )


def _too_wide(marking: TLP, source: TLP) -> InvalidInput:
    return bad(
        "tlp",
        f"{marking.label} is wider than what is handed over allows ({source.label}): mark the "
        "hand-off at least as strictly as its incidents",
    )
