"""A political report as its audience will see it: figures from the sources every audience organisation may read.

The approver previews exactly this before publishing, and publishing stores it (the ids of those sources, the
figures and their digest): what the Council Presidency and each Member State's IPCR representative read is what the
approver saw, never a picture computed from what only the author may see.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.sharing import org_reader
from cybercrisis.accounts.models import User
from cybercrisis.directory.models import CommunityMembership
from cybercrisis.incidents.models import Incident
from cybercrisis.situation import aggregate, sources
from cybercrisis.situation.models import Contribution, Sitrep, SitrepSource

# The levels whose published figures are the audience's (the others show each reader what it may see, ADR 0006).
AUDIENCE_LEVELS = frozenset({"political"})


@dataclass(slots=True)
class AudienceFigures:
    """What publishing stores: the shared sources, the picture computed from them, and a digest of both."""

    source_ids: list[str]
    picture: aggregate.Picture
    organisations: list[str]  # the audience organisations whose reading was intersected
    digest: str

    @property
    def figures(self) -> dict[str, Any]:
        return self.picture.as_dict()


def audience_orgs(session: Session, sitrep: Sitrep) -> list[str]:
    """The organisations the report is published to: named ones and the members of its communities."""
    orgs = set(sitrep.audience.get("organisations", []))
    communities = sorted(sitrep.audience.get("communities", []))
    if communities:
        orgs |= set(
            session.scalars(
                select(CommunityMembership.org_id).where(CommunityMembership.community_slug.in_(communities))
            )
        )
    return sorted(orgs)


def _readers(session: Session, sitrep: Sitrep) -> list[Principal]:
    """One reader per audience organisation (any ordinary user of it), and each named user as itself."""
    readers = [org_reader(session, org_id) for org_id in audience_orgs(session, sitrep)]
    user_ids = sorted(sitrep.audience.get("users", []))
    if user_ids:
        for user in session.scalars(select(User).where(User.id.in_(user_ids))):
            probe = org_reader(session, user.org_id)
            readers.append(Principal(user_id=user.id, org_id=user.org_id, communities=probe.communities))
    return readers


def _visible(session: Session, sitrep_id: str, build: int, reader: Principal) -> set[str]:
    where = (SitrepSource.sitrep_id == sitrep_id, SitrepSource.build == build)
    ids: set[str] = set()
    for model in (Contribution, Incident):
        ids.update(
            session.scalars(
                select(SitrepSource.source_id)
                .join(model, model.id == SitrepSource.source_id)
                .where(*where, read_filter(reader, model))
            )
        )
    return ids


def digest_of(source_ids: list[str], figures: dict[str, Any]) -> str:
    blob = json.dumps({"sources": sorted(source_ids), "figures": figures}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def compute(session: Session, *, sitrep: Sitrep, build: int, scale: list[str]) -> AudienceFigures:
    """The figures of `build` from the frozen sources that every organisation of the audience may read today.

    With no audience (a report shared with nobody) nothing is shared, so nothing is counted."""
    readers = _readers(session, sitrep)
    shared: set[str] | None = None
    for reader in readers:
        seen = _visible(session, sitrep.id, build, reader)
        shared = seen if shared is None else shared & seen
        if not shared:
            break
    shared = shared or set()
    inputs = _frozen(session, sitrep.id, build)
    kept = inputs.restricted_to(shared | {o.id for o in inputs.observables})
    picture = aggregate.build(sitrep.level, kept, scale)
    ids = sorted(shared)
    return AudienceFigures(
        ids, picture, sorted({r.org_id for r in readers if r.org_id}), digest_of(ids, picture.as_dict())
    )


def _frozen(session: Session, sitrep_id: str, build: int) -> aggregate.Inputs:
    """Every frozen source of a build; the caller keeps only the shared ones."""
    items: dict[str, list[Any]] = {sources.CONTRIBUTION: [], sources.INCIDENT: [], sources.OBSERVABLE: []}
    rows = session.execute(
        select(SitrepSource.kind, SitrepSource.data).where(
            SitrepSource.sitrep_id == sitrep_id, SitrepSource.build == build
        )
    )
    for kind, data in rows:
        items[kind].append(sources.thaw_one(kind, data))
    return aggregate.Inputs(
        tuple(items[sources.CONTRIBUTION]), tuple(items[sources.INCIDENT]), tuple(items[sources.OBSERVABLE])
    )


def restrict(inputs: aggregate.Inputs, source_ids: list[str]) -> aggregate.Inputs:
    """A reader's inputs of a published political version: only the sources published for the audience."""
    return inputs.restricted_to(set(source_ids) | {o.id for o in inputs.observables})
