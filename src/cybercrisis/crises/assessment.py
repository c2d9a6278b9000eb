"""EU-CyCLONe's impact assessment of a crisis and its proposed response options, handed to the political level.

NIS2 (Directive (EU) 2022/2555) Art. 16(3): EU-CyCLONe assesses "the consequences and impact of relevant large-scale
cybersecurity incidents and crises and propose[s] possible mitigation measures" (point (c)) and supports
"decision-making at political level" (point (d)). Its members write the assessment (Art. 16(2): the Member States'
cyber crisis management authorities, and the Commission when it is a member; observers and ENISA as secretariat do
not author it); the political level it is submitted to (the deployment's CYBERCRISIS_POLITICAL_DECIDERS, the Council
Presidency by default) records its discussion and which option it chose, and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis import taxonomies
from cybercrisis.access import authority, sharing, widening
from cybercrisis.access.authority import Relation
from cybercrisis.access.policy import COMMUNITY, read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.schemas import ShareWith
from cybercrisis.access.tlp import TLP
from cybercrisis.audit import service as audit
from cybercrisis.config import Settings
from cybercrisis.crises import service as crises
from cybercrisis.crises.assessment_models import AssessmentState, ImpactAssessment
from cybercrisis.crises.assessment_schemas import AssessmentIn, AssessmentPatch, ImpactIn, OptionIn
from cybercrisis.db import new_id, utcnow
from cybercrisis.directory.countries import normalise_country
from cybercrisis.directory.exchange import org_id_for_key
from cybercrisis.directory.models import CommunityMembership, MembershipRole, Organisation
from cybercrisis.errors import Conflict, InvalidInput
from cybercrisis.notify.service import notify_readers

EU_CYCLONE = "eu-cyclone"  # NIS2 Art. 16
IPCR = "ipcr"  # the political level's community (Council Implementing Decision (EU) 2018/1993)
IMPACTS = ("red", "yellow", "green", "white")  # NIS impact severity (taxonomy nis:impact-severity)


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message}])


def political_deciders(settings: Settings) -> list[str]:
    """The deployment's political level for assessments (CYBERCRISIS_POLITICAL_DECIDERS), as organisation ids."""
    refs = [r.strip() for r in settings.political_deciders.split(",") if r.strip()]
    return sorted({r if r.startswith("identity--") else org_id_for_key(r) for r in refs})


def is_cyclone_member(session: Session, org_id: str | None) -> bool:
    """A member of EU-CyCLONe, not an observer, invited observer or its secretariat (NIS2 Art. 16(2))."""
    if org_id is None:
        return False
    role = session.scalar(
        select(CommunityMembership.role).where(
            CommunityMembership.org_id == org_id, CommunityMembership.community_slug == EU_CYCLONE
        )
    )
    return role == MembershipRole.MEMBER.value


def relations(session: Session, actor: Principal, a: ImpactAssessment) -> set[Relation]:
    rel = authority.owned(actor, a.owner_org_id)
    if actor.org_id is not None and actor.org_id in a.deciders:
        rel.add(Relation.NAMED)
    return rel


def allowed_actions(session: Session, actor: Principal, a: ImpactAssessment) -> list[str]:
    """What `actor` may do on `a` now: the API, the pages and the service guards agree through ACTS."""
    rel = relations(session, actor, a)
    state = AssessmentState(a.state)
    wanted = {
        "edit": state == AssessmentState.DRAFT,
        "submit": state == AssessmentState.DRAFT,
        "discuss": state in (AssessmentState.SUBMITTED, AssessmentState.DISCUSSED),
        "decide": state == AssessmentState.DISCUSSED,
    }
    return [act for act, possible in wanted.items() if possible and authority.allows(actor, f"assessment.{act}", rel)]


# --- input ------------------------------------------------------------------------------------------------------


def _impacts(items: Sequence[ImpactIn]) -> list[dict[str, Any]]:
    sectors = taxonomies.nis2_sectors()
    out = []
    for n, i in enumerate(items):
        if i.sector not in sectors:
            raise _bad(f"impacts.{n}.sector", f"'{i.sector}' is not a NIS2 sector; valid: {', '.join(sectors)}")
        if i.impact not in IMPACTS:
            raise _bad(f"impacts.{n}.impact", f"'{i.impact}' is not an impact; valid: {', '.join(IMPACTS)}")
        country = normalise_country(i.country, field=f"impacts.{n}.country")
        out.append({"sector": i.sector, "country": country, "impact": i.impact, "consequences": i.consequences})
    return out


def _options(items: Sequence[OptionIn]) -> list[dict[str, Any]]:
    out = []
    for n, o in enumerate(items):
        if not o.title.strip():
            raise _bad(f"options.{n}.title", "an option needs a title")
        out.append(
            {
                "key": f"option-{n + 1}",
                "title": o.title.strip(),
                "description": o.description,
                "pros": [p for p in o.pros if p.strip()],
                "cons": [c for c in o.cons if c.strip()],
            }
        )
    return out


# --- acts -------------------------------------------------------------------------------------------------------


def create(session: Session, *, actor: Principal, crisis_id: str, data: AssessmentIn) -> ImpactAssessment:
    crisis = crises.get(session, actor, crisis_id)  # reading the crisis comes first: otherwise it is not found
    member = {Relation.PARTICIPANT} if is_cyclone_member(session, actor.org_id) else set()
    # An assessment is part of the crisis's work, which its origin holds (ADR 0013): made there, not on a replica.
    authority.authorize(actor, "assessment.create", member, held_at=crisis.origin_node)
    assert actor.org_id is not None  # a member organisation acts
    marking = sharing.parse_tlp(data.tlp)
    if marking == TLP.RED:
        raise _bad(
            "tlp",
            "the political level reads an assessment as organisations: TLP:RED (named users only) "
            "cannot reach it; use amber+strict at most",
        )
    if not data.title.strip():
        raise _bad("title", "an assessment needs a title")
    impacts, options = _impacts(data.impacts), _options(data.options)
    audience = data.share_with if data.share_with is not None else ShareWith(communities=[EU_CYCLONE])
    entries = sharing.resolve(
        session, tlp=marking, share_with=audience, owner_org_id=actor.org_id, author_id=actor.user_id
    )
    now = utcnow()
    a = ImpactAssessment(
        id=new_id("impact-assessment"),
        crisis_id=crisis.id,
        owner_org_id=actor.org_id,
        created_by_id=actor.user_id,
        tlp=marking.value,
        exercise=crisis.exercise,
        title=data.title.strip(),
        summary=data.summary,
        impacts=impacts,
        options=options,
        state=AssessmentState.DRAFT.value,
        deciders=[],
        created_at=now,
        modified_at=now,
    )
    session.add(a)
    session.flush()
    sharing.write(session, object_id=a.id, entries=entries, added_by=actor.org_id)
    audit.record(
        session,
        actor=actor,
        tag="crises:assessment:create",
        object_id=a.id,
        summary={"crisis": crisis.id, "impacts": len(impacts), "options": len(options)},
    )
    return a


def get(session: Session, reader: Principal, assessment_id: str) -> ImpactAssessment:
    return sharing.get_readable(session, reader, ImpactAssessment, assessment_id)


def list_for_crisis(session: Session, reader: Principal, crisis_id: str) -> list[ImpactAssessment]:
    crisis = crises.get(session, reader, crisis_id)
    q = select(ImpactAssessment).where(ImpactAssessment.crisis_id == crisis.id, read_filter(reader, ImpactAssessment))
    return list(session.scalars(q.order_by(ImpactAssessment.created_at, ImpactAssessment.id)))


def _for_act(
    session: Session, actor: Principal, assessment_id: str, act: str, version: int, states: Sequence[AssessmentState]
) -> ImpactAssessment:
    a = get(session, actor, assessment_id)
    authority.authorize(actor, f"assessment.{act}", relations(session, actor, a))
    if version != a.version:
        raise Conflict(f"the assessment changed since you read it (version {version}, now {a.version}): reload it")
    if a.state not in states:
        raise Conflict(
            f"the assessment is {a.state}: it cannot be {act}ed now"
            if act != "submit"
            else f"the assessment is already {a.state}"
        )
    return a


def edit(session: Session, *, actor: Principal, assessment_id: str, patch: AssessmentPatch) -> ImpactAssessment:
    a = _for_act(session, actor, assessment_id, "edit", patch.version, (AssessmentState.DRAFT,))
    changed: list[str] = []
    if patch.title is not None:
        if not patch.title.strip():
            raise _bad("title", "an assessment needs a title")
        a.title, changed = patch.title.strip(), [*changed, "title"]
    if patch.summary is not None:
        a.summary, changed = patch.summary, [*changed, "summary"]
    if patch.impacts is not None:
        a.impacts, changed = _impacts(patch.impacts), [*changed, "impacts"]
    if patch.options is not None:
        a.options, changed = _options(patch.options), [*changed, "options"]
    if changed:
        a.modified_at = utcnow()
        session.flush()
        audit.record(session, actor=actor, tag="crises:assessment:edit", object_id=a.id, summary={"fields": changed})
    return a


def submit(
    session: Session, *, actor: Principal, assessment_id: str, version: int, settings: Settings
) -> ImpactAssessment:
    """Hand the assessment to the political level: its deciders (and the IPCR community, where the TLP admits
    communities) are added as readers; the originator widens, as the TLP allows."""
    a = _for_act(session, actor, assessment_id, "submit", version, (AssessmentState.DRAFT,))
    if not a.impacts:
        raise _bad("impacts", "assess the consequences and impact before submitting (NIS2 Art. 16(3)(c))")
    if not a.options:
        raise _bad("options", "propose at least one response option before submitting (NIS2 Art. 16(3)(c))")
    deciders = political_deciders(settings)
    known = set(session.scalars(select(Organisation.id).where(Organisation.id.in_(deciders)))) if deciders else set()
    if not known:
        raise Conflict(
            "this deployment names no political-level organisation in its directory "
            "(CYBERCRISIS_POLITICAL_DECIDERS): nobody could decide"
        )
    communities = [IPCR] if a.tlp in (TLP.CLEAR, TLP.GREEN, TLP.AMBER) else []
    wanted = sharing.resolve(
        session,
        tlp=TLP(a.tlp),
        owner_org_id=a.owner_org_id,
        author_id=None,
        share_with=ShareWith(organisations=sorted(known), communities=communities),
    )
    have = {(s.kind, s.target) for s in sharing.shares_of(session, a.id)}
    added = [e for e in wanted if e not in have]
    widening.check_widening(
        session, actor=actor, tlp=a.tlp, owner_org_id=a.owner_org_id, added=added, what="assessment"
    )
    sharing.write(session, object_id=a.id, entries=added, added_by=actor.org_id)
    now = utcnow()
    a.state, a.deciders = AssessmentState.SUBMITTED.value, sorted(known)
    a.submitted_at, a.submitted_by_id, a.modified_at = now, actor.user_id, now
    session.flush()
    communities_added = [t for k, t in added if k == COMMUNITY]
    audit.record(
        session,
        actor=actor,
        tag="crises:assessment:submit",
        object_id=a.id,
        summary={"deciders": a.deciders, "communities_added": communities_added},
    )
    notify_readers(
        session,
        obj=a,
        actor=actor,
        event="crises:assessment:submit",
        org_ids=set(a.deciders),
        subject=f"EU-CyCLONe impact assessment for decision: {a.title}",
        body=f"EU-CyCLONe submitted an impact assessment with {len(a.options)} proposed response option(s) to the "
        f"political level. Open it in cybercrisis: /api/v1/assessments/{a.id}",
        payload={"assessment": a.id, "crisis": a.crisis_id},
        dedupe=f"assessment-submit:{a.id}",
    )
    return a


def discuss(session: Session, *, actor: Principal, assessment_id: str, version: int, notes: str) -> ImpactAssessment:
    a = _for_act(
        session, actor, assessment_id, "discuss", version, (AssessmentState.SUBMITTED, AssessmentState.DISCUSSED)
    )
    if not notes.strip():
        raise _bad("notes", "say what was discussed")
    now = utcnow()
    entry = f"[{now:%Y-%m-%d %H:%M} UTC] {notes.strip()}"
    a.discussion = f"{a.discussion}\n\n{entry}" if a.discussion else entry
    a.state, a.discussed_at, a.modified_at = AssessmentState.DISCUSSED.value, now, now
    session.flush()
    audit.record(session, actor=actor, tag="crises:assessment:discuss", object_id=a.id, summary={"state": a.state})
    return a


def decide(
    session: Session, *, actor: Principal, assessment_id: str, version: int, option: str, rationale: str
) -> ImpactAssessment:
    """The political level records which proposed option it chose and why (NIS2 Art. 16(3)(d): EU-CyCLONe
    supports the decision, the political level takes it)."""
    a = _for_act(session, actor, assessment_id, "decide", version, (AssessmentState.DISCUSSED,))
    keys = [o["key"] for o in a.options]
    if option not in keys:
        raise _bad("option", f"'{option}' is not an option of this assessment; valid: {', '.join(keys)}")
    if not rationale.strip():
        raise _bad("rationale", "say why this option was chosen")
    now = utcnow()
    a.state, a.chosen_option, a.decision_rationale = AssessmentState.DECIDED.value, option, rationale.strip()
    a.decided_at, a.decided_by_org_id, a.decided_by_id, a.modified_at = now, actor.org_id, actor.user_id, now
    session.flush()
    audit.record(session, actor=actor, tag="crises:assessment:decide", object_id=a.id, summary={"option": option})
    return a
