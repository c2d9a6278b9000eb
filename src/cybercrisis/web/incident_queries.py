"""Read-only look-ups of the incident pages that the incident service does not offer.

Alerts are shareable objects: they are read here through `access.policy.read_filter`, like every list query.
Incidents themselves are only ever read through `incidents.service`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.accounts.models import User
from cybercrisis.alerts.models import Alert
from cybercrisis.config import Settings
from cybercrisis.incidents.assessment import Thresholds
from cybercrisis.web import queries


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    org: queries.OrgRef | None
    org_id: str
    at: datetime | None


@dataclass(frozen=True, slots=True)
class AlertView:
    id: str
    title: str
    tlp: str
    sent_at: datetime
    sender: queries.OrgRef | None
    acknowledged: list[Acknowledgement]
    pending: list[Acknowledgement]


def alerts_about(session: Session, *, principal: Principal, incident_id: str) -> list[AlertView]:
    """Alerts about the incident that the reader may see, with who acknowledged and who has not yet."""
    alerts = list(
        session.scalars(
            select(Alert)
            .where(Alert.incident_id == incident_id, read_filter(principal, Alert))
            .order_by(Alert.created_at.desc())
        )
    )
    org_ids = {a.owner_org_id for a in alerts} | {r.org_id for a in alerts for r in a.recipients}
    orgs = queries.org_refs(session, org_ids)
    out = []
    for a in alerts:
        acks = [Acknowledgement(orgs.get(r.org_id), r.org_id, r.acknowledged_at) for r in a.recipients]
        out.append(
            AlertView(
                id=a.id,
                title=a.title,
                tlp=a.tlp,
                sent_at=a.created_at,
                sender=orgs.get(a.owner_org_id),
                acknowledged=[x for x in acks if x.at is not None],
                pending=[x for x in acks if x.at is None],
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Person:
    email: str
    org_id: str


def people(session: Session, ids: Iterable[str]) -> dict[str, Person]:
    """E-mail and organisation of users (report submitters, timeline actors), in one query."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.email, User.org_id).where(User.id.in_(wanted)))
    return {r.id: Person(r.email, r.org_id) for r in rows}


def thresholds(settings: Settings) -> Thresholds:
    """The deployment's significance thresholds, as the incident API uses them."""
    return Thresholds.from_settings(settings)
