"""The authority policy: who may act, for whom, and who may widen what. The read policy is in policy.py.

Three questions, each answered once, for the API, the pages, the CLI, the jobs and federation alike:

1. Acting as someone (credentials.py). A token is minted only by its own user, or by the server operator at the
   command line; its scopes never exceed the credential that creates it; nobody manages a user who holds a
   permission they do not hold themselves.
2. Acting for the organisation (here). `ACTS` names every write of the product with the permission it needs and
   the relations to the object that allow it (owner, recipient, participant, ...). Services compute the relations
   they know and ask `authorize`; pages ask `allows` to offer only what will succeed.
3. Widening (widening.py). `check_widening` decides whether the recipients a write adds may be added by this
   actor: the originator (owner organisation) widens within what the TLP allows; a recipient passes AMBER on to
   its own constituents only, GREEN within its own communities, and never AMBER+STRICT or RED.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from cybercrisis.access import replicas
from cybercrisis.access.permissions import Permission
from cybercrisis.access.principal import Principal
from cybercrisis.errors import PermissionDenied


class Relation(StrEnum):
    """How the actor's organisation stands to an object; services compute these, the table below decides."""

    OWNER = "owner"  # the originating (owner) organisation
    RECIPIENT = "recipient"  # reads it without owning it
    NAMED = "named"  # a recipient organisation named on the object itself (alert recipient, approver, holder)
    PARTICIPANT = "participant"  # takes part in a crisis at the level concerned
    ASSIGNEE = "assignee"  # the organisation an action is assigned to
    PROPOSER = "proposer"  # the organisation that proposed an escalation
    REQUIRED = "required"  # an organisation whose agreement a step needs
    ENTITY = "entity"  # the affected entity of an incident (it reports to its CSIRT under NIS2 Art. 23)
    SECRETARIAT = "secretariat"  # an EU body (the secretariat of the networks): the deployment's rule, see ACTS
    HOLDER = "holder"  # the law-enforcement organisation that holds a hand-off now (or held it)
    # A deciding member at the level concerned: a `member` (not observer, invited observer or secretariat) of that
    # level's communities (NIS2 Art. 15(2), 16(2); IPCR for the political level), the Commission in EU-CyCLONe only
    # while the crisis records it as a member (Art. 16(2)); where the level has no community, the crisis owner.
    DECIDER = "decider"
    # A CSIRT or competent authority of the Member State whose incident it is (it recorded it, or it is of the
    # recording organisation's country and reads it): NIS2 Art. 23(6), 23(8).
    NIS2_AUTHORITY = "nis2-authority"
    # The single point of contact of that Member State (NIS2 Art. 8(3)): Art. 23(6), 23(8), 23(9).
    SPOC = "spoc"


@dataclass(frozen=True, slots=True)
class Rule:
    permission: Permission
    relations: frozenset[Relation]
    refusal: str


def _rule(permission: Permission, *relations: Relation, refusal: str) -> Rule:
    return Rule(permission, frozenset(relations), refusal)


R = Relation
P = Permission
_CRISIS_OWNER = "only the organisation that opened the crisis does this"
_TAKING_PART = "only the crisis owner and the organisations taking part in the crisis do this"
_OWNER = "only the originating organisation does this"
_DECIDERS = "only the deciding members of the communities at that level decide there"

# act: (permission, relations that allow it, why it is refused). An empty set of relations: the permission suffices
# (creating something new, owned by the actor's organisation). Reading the object is a precondition of every act on
# it: services load it through the read policy first, so an unreadable object is "not found", never "forbidden".
ACTS: dict[str, Rule] = {
    # Documents and contacts of the directory.
    "document.create": _rule(P.DOCUMENT_WRITE, refusal=""),
    "document.edit": _rule(P.DOCUMENT_WRITE, R.OWNER, refusal="only the owning organisation edits a document"),
    "document.share": _rule(P.DOCUMENT_WRITE, R.OWNER, refusal=_OWNER),
    "document.delete": _rule(P.DOCUMENT_WRITE, R.OWNER, refusal="only the owning organisation deletes a document"),
    # Passing TLP:AMBER on to constituents is a recipient organisation's act (check_widening says to whom).
    "document.pass-on": _rule(
        P.SHARING_PASS_ON, R.OWNER, R.RECIPIENT, refusal="only a recipient organisation passes a document on"
    ),
    # Incidents: the recording CSIRT owns them; the affected entity reports on them (NIS2 Art. 23).
    "incident.create": _rule(P.INCIDENT_WRITE, refusal=""),
    "incident.edit": _rule(
        P.INCIDENT_WRITE,
        R.OWNER,
        R.ENTITY,
        refusal="only the recording organisation and the affected entity change an incident",
    ),
    "incident.report": _rule(
        P.INCIDENT_WRITE,
        R.OWNER,
        R.ENTITY,
        refusal="only the recording organisation and the affected entity submit its reports",
    ),
    "incident.feedback": _rule(
        P.INCIDENT_WRITE, R.OWNER, refusal="only the CSIRT that recorded the incident gives feedback on it"
    ),
    "incident.request-intermediate": _rule(P.INCIDENT_WRITE, R.OWNER, refusal=_OWNER),
    # Whether an incident is significant (NIS2 Art. 23(3)) is the entity's to say and its CSIRT's to assess.
    "incident.decide-significance": _rule(
        P.INCIDENT_WRITE,
        R.OWNER,
        R.ENTITY,
        refusal="only the recording organisation and the affected entity decide whether the incident is significant",
    ),
    "incident.share": _rule(
        P.INCIDENT_WRITE, R.OWNER, refusal="only the originating organisation widens who sees the incident"
    ),
    # Early warnings: acknowledging stops reminders for the whole organisation, so it is an act for it (no viewer).
    "alert.send": _rule(P.ALERT_SEND, refusal=""),
    "alert.acknowledge": _rule(P.ALERT_ACKNOWLEDGE, R.NAMED, refusal="only a recipient organisation acknowledges"),
    # Crises: changing the crisis itself is its owner's; taking part lets an organisation decide and act, no more.
    "crisis.open": _rule(P.CRISIS_WRITE, refusal=""),
    "crisis.edit": _rule(P.CRISIS_WRITE, R.OWNER, refusal=_CRISIS_OWNER),
    "crisis.share": _rule(P.CRISIS_WRITE, R.OWNER, refusal=_CRISIS_OWNER),
    "crisis.close": _rule(P.CRISIS_DECIDE, R.OWNER, refusal=_CRISIS_OWNER),
    "crisis.reopen": _rule(P.CRISIS_DECIDE, R.OWNER, refusal=_CRISIS_OWNER),
    "crisis.unlink": _rule(P.CRISIS_WRITE, R.OWNER, refusal=_CRISIS_OWNER),
    "crisis.link": _rule(P.CRISIS_WRITE, R.OWNER, R.PARTICIPANT, refusal=_TAKING_PART),
    # Deciding is for the deciding members of the level's communities: observers read, the secretariat supports
    # (NIS2 Art. 15(2), 16(2)). Owning the crisis does not make an organisation a decider; proposing a move does
    # not decide it (those the step needs agree), so the owner proposes too.
    "crisis.decide": _rule(P.CRISIS_DECIDE, R.DECIDER, refusal=_DECIDERS),
    "crisis.phase": _rule(P.CRISIS_DECIDE, R.DECIDER, refusal=_DECIDERS),
    "crisis.escalation.propose": _rule(P.CRISIS_DECIDE, R.OWNER, R.DECIDER, refusal=_DECIDERS),
    "crisis.commission-role": _rule(
        P.CRISIS_DECIDE,
        R.OWNER,
        R.DECIDER,
        refusal="only the crisis owner and the deciding members of the community record the Commission's role there",
    ),
    # Consultations before an activation (IPCR arrangements): recorded by an organisation that may activate the step,
    # or by the consulted organisation itself.
    "crisis.escalation.consult": _rule(
        P.ESCALATION_APPROVE,
        R.REQUIRED,
        R.NAMED,
        refusal="only an organisation that may agree to this step, or the consulted organisation, records a "
        "consultation",
    ),
    "crisis.escalation.answer": _rule(
        P.ESCALATION_APPROVE, R.REQUIRED, refusal="your organisation is not among those that must agree to this step"
    ),
    "crisis.escalation.withdraw": _rule(
        P.CRISIS_DECIDE,
        R.OWNER,
        R.PROPOSER,
        refusal="only the proposer's organisation or the crisis owner withdraws a proposal",
    ),
    "crisis.action.create": _rule(P.ACTION_WRITE, R.OWNER, R.PARTICIPANT, refusal=_TAKING_PART),
    "crisis.action.update": _rule(
        P.ACTION_WRITE,
        R.OWNER,
        R.ASSIGNEE,
        refusal="only the organisation that owns the action, or the crisis owner, updates it",
    ),
    "crisis.action.reassign": _rule(P.ACTION_WRITE, R.OWNER, refusal=_CRISIS_OWNER),
    # Mutual assistance: the requester decides about its request; others offer.
    "assistance.request": _rule(P.ASSISTANCE_WRITE, refusal=""),
    "assistance.request.manage": _rule(
        P.ASSISTANCE_WRITE, R.OWNER, refusal="only the requesting organisation does this"
    ),
    # Reg. (EU) 2025/38 Art. 15(3)(a): the requester's SPOC transmits a Reserve request (the service checks that it
    # is the same Member State's SPOC).
    "assistance.request.transmit": _rule(
        P.ASSISTANCE_WRITE, R.RECIPIENT, refusal="the requester's single point of contact transmits its request"
    ),
    "assistance.offer": _rule(
        P.ASSISTANCE_WRITE, R.RECIPIENT, refusal="the requesting organisation does not offer on its own request"
    ),
    "assistance.offer.decide": _rule(
        P.ASSISTANCE_WRITE, R.OWNER, refusal="only the requesting organisation accepts or declines offers"
    ),
    "assistance.offer.withdraw": _rule(
        P.ASSISTANCE_WRITE, R.OWNER, refusal="only the offering organisation withdraws its offer"
    ),
    "capability.create": _rule(P.CAPABILITY_WRITE, refusal=""),
    "capability.manage": _rule(
        P.CAPABILITY_WRITE, R.OWNER, refusal="only the organisation that published a catalogue entry changes it"
    ),
    # Public communication: co-edited by the owner and its approvers; released (made TLP:CLEAR) by the owner only.
    "communication.create": _rule(P.COMMUNICATION_WRITE, refusal=""),
    "communication.edit": _rule(
        P.COMMUNICATION_WRITE,
        R.OWNER,
        R.NAMED,
        refusal="only the owner and the approving organisations edit a statement",
    ),
    # The owner gives a verdict too: its approval lets the job release a version an approver organisation edited.
    "communication.verdict": _rule(
        P.COMMUNICATION_APPROVE,
        R.NAMED,
        R.OWNER,
        refusal="your organisation is not among the approvers of this statement",
    ),
    "communication.release": _rule(
        P.COMMUNICATION_WRITE, R.OWNER, refusal="only the owner organisation releases its statement"
    ),
    "communication.withdraw": _rule(
        P.COMMUNICATION_WRITE, R.OWNER, refusal="only the owner organisation withdraws its communication"
    ),
    # Law-enforcement hand-offs: the sender owns the package; the holder acknowledges and passes it on.
    "handoff.create": _rule(P.HANDOFF_WRITE, refusal=""),
    "handoff.file": _rule(
        P.HANDOFF_WRITE, R.OWNER, refusal="only the organisation that handed it over adds evidence files"
    ),
    "handoff.receive": _rule(
        P.HANDOFF_WRITE, R.HOLDER, refusal="only the organisation it was handed to acknowledges receipt"
    ),
    "handoff.transfer": _rule(
        P.HANDOFF_WRITE, R.HOLDER, refusal="only the organisation that holds the package transfers it"
    ),
    "handoff.note": _rule(P.HANDOFF_WRITE, R.OWNER, R.HOLDER, refusal="only the sender and the holders add notes"),
    # NIS2 Art. 23 flows between authorities (incidents/flows.py). Informing other affected Member States and ENISA
    # is the CSIRT's, the competent authority's or the SPOC's (Art. 23(6)); forwarding to other SPOCs is the SPOC's,
    # at its CSIRT's or competent authority's request (Art. 23(8)); the quarterly summary is the SPOC's (Art. 23(9)).
    "incident.inform-member-states": _rule(
        P.INCIDENT_WRITE,
        R.NIS2_AUTHORITY,
        R.SPOC,
        refusal="only the CSIRT, the competent authority or the single point of contact of the incident's Member "
        "State informs other Member States and ENISA (NIS2 Art. 23(6))",
    ),
    "incident.forwarding.request": _rule(
        P.INCIDENT_WRITE,
        R.NIS2_AUTHORITY,
        refusal="only the CSIRT or the competent authority of the incident's Member State asks its single point of "
        "contact to forward a notification (NIS2 Art. 23(8))",
    ),
    "incident.forwarding.forward": _rule(
        P.INCIDENT_WRITE,
        R.SPOC,
        refusal="only the single point of contact of the requesting authority's Member State forwards this "
        "notification (NIS2 Art. 23(8))",
    ),
    "incident.quarterly-summary": _rule(
        P.INCIDENT_WRITE,
        R.SPOC,
        refusal="only a single point of contact submits the quarterly summary to ENISA (NIS2 Art. 23(9))",
    ),
    # Situational awareness: contributions and reports belong to the organisation that wrote them.
    "contribution.create": _rule(P.CONTRIBUTION_WRITE, refusal=""),
    "contribution.edit": _rule(
        P.CONTRIBUTION_WRITE, R.OWNER, refusal="only the contributing organisation changes its contribution"
    ),
    "sitrep.draft": _rule(P.SITREP_WRITE, refusal=""),
    "sitrep.edit": _rule(P.SITREP_WRITE, R.OWNER, refusal="only the drafting organisation edits its report"),
    # Closing a reporting period stops every Member State's contributions: the secretariat's act, not any
    # coordinator's. Which organisations are the secretariat (EU bodies) is the deployment's rule, not law.
    "period.close": _rule(
        P.SITREP_APPROVE, R.SECRETARIAT, refusal="a reporting period is closed by the secretariat (an EU body)"
    ),
    "sitrep.approve": _rule(
        P.SITREP_APPROVE, R.OWNER, refusal="only the drafting organisation approves and publishes its report"
    ),
    # Political-level reports (ISAA) are produced by Commission services and the EEAS (Council Recommendation of
    # 6 June 2025 on an EU blueprint for cyber crisis management, C/2025/3445, recital 3); which organisations those
    # are is the deployment's setting CYBERCRISIS_ISAA_AUTHORS (NAMED: listed there).
    "sitrep.draft-political": _rule(
        P.SITREP_WRITE,
        R.NAMED,
        refusal="political-level reports (ISAA) are produced by Commission services and the EEAS (Council "
        "Recommendation of 6 June 2025, C/2025/3445, recital 3); your organisation is not among the deployment's "
        "ISAA authors (CYBERCRISIS_ISAA_AUTHORS)",
    ),
    # EU-CyCLONe's impact assessment and proposed response options (NIS2 Art. 16(3)(c), (d)): written by the members
    # of EU-CyCLONe (PARTICIPANT: a member, not an observer or the secretariat, NIS2 Art. 16(2)); discussed and
    # decided by the political level named on it when submitted (NAMED: CYBERCRISIS_POLITICAL_DECIDERS).
    "assessment.create": _rule(
        P.CRISIS_WRITE,
        R.PARTICIPANT,
        refusal="an impact assessment is written by a member of EU-CyCLONe (NIS2 Art. 16(3)(c)); observers and the "
        "secretariat support it but do not author it",
    ),
    "assessment.edit": _rule(P.CRISIS_WRITE, R.OWNER, refusal="only the authoring organisation changes its assessment"),
    "assessment.submit": _rule(
        P.CRISIS_DECIDE, R.OWNER, refusal="only the authoring organisation submits its assessment to political level"
    ),
    "assessment.discuss": _rule(
        P.CRISIS_DECIDE, R.NAMED, refusal="only the political level it was submitted to records its discussion"
    ),
    "assessment.decide": _rule(
        P.CRISIS_DECIDE,
        R.NAMED,
        refusal="only the political level it was submitted to decides on the proposed options (NIS2 Art. 16(3)(d): "
        "EU-CyCLONe supports decision-making at political level, it does not decide)",
    ),
}


# The acts that may be asked of an object held at another node (a replica, ADR 0013): answers to its origin, sent
# there and applied there under this same table. Every other act on a replica is refused: its origin decides about
# it. Which acts are answers is our design (one home per object), not law.
ANSWERS = frozenset(
    {
        "alert.acknowledge",
        "crisis.escalation.answer",
        "crisis.decide",
        "assistance.offer",
        "assistance.offer.withdraw",
        "communication.verdict",
    }
)


def _held_elsewhere(act: str, held_at: str | None) -> str | None:
    if held_at is None or act in ANSWERS:
        return None
    return str(replicas.refusal(held_at))


# The domain of each act, by its first word: a credential acts in a domain only if it may read there too (a token
# whose scopes write crises but do not read them would create what it cannot see, nor be answered about it).
DOMAIN_READ: dict[str, Permission] = {
    "document": P.DOCUMENT_READ,
    "incident": P.INCIDENT_READ,
    "alert": P.ALERT_READ,
    "crisis": P.CRISIS_READ,
    "assistance": P.ASSISTANCE_READ,
    "capability": P.ASSISTANCE_READ,
    "communication": P.COMMUNICATION_READ,
    "handoff": P.HANDOFF_READ,
    "contribution": P.SITUATION_READ,
    "sitrep": P.SITUATION_READ,
    "period": P.SITUATION_READ,
    "assessment": P.CRISIS_READ,
}


def authorize(
    actor: Principal,
    act: str,
    relations: Iterable[Relation],
    *,
    refusal: str | None = None,
    held_at: str | None = None,
) -> None:
    """Raise PermissionDenied unless `actor`, standing in `relations` to the object, may do `act` (`refusal`: a
    more specific reason than the table's, e.g. naming the communities that take part). `held_at`: the origin node
    of a replica; only `ANSWERS` may be asked of one (the service then sends them home)."""
    rule = ACTS[act]
    elsewhere = _held_elsewhere(act, held_at)
    if elsewhere is not None:
        raise PermissionDenied(elsewhere)
    actor.require(rule.permission)
    scope = DOMAIN_READ[act.split(".", 1)[0]]
    if not actor.may_read(scope):
        raise PermissionDenied(f"this token lacks {scope.value}: a credential acts only where it may read")
    if rule.relations and not rule.relations & set(relations):
        raise PermissionDenied(refusal or rule.refusal)


def allows(actor: Principal, act: str, relations: Iterable[Relation], *, held_at: str | None = None) -> bool:
    rule = ACTS[act]
    if _held_elsewhere(act, held_at) is not None:
        return False
    readable = actor.may_read(DOMAIN_READ[act.split(".", 1)[0]])
    return actor.has(rule.permission) and readable and (not rule.relations or bool(rule.relations & set(relations)))


def owned(actor: Principal, owner_org_id: str) -> set[Relation]:
    """The relation of an actor who reads an object to it: its owner, or a recipient."""
    if actor.org_id is None:
        return set()
    return {R.OWNER} if actor.org_id == owner_org_id else {R.RECIPIENT}
