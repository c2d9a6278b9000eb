"""EU situation reports: drafted from visible inputs, edited, approved (four eyes), published, versioned (ADR 0006)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access import authority, sharing
from cybercrisis.access.principal import Principal
from cybercrisis.access.schemas import ShareWith
from cybercrisis.audit import service as audit
from cybercrisis.config import Settings
from cybercrisis.db import new_id, utcnow
from cybercrisis.directory.exchange import org_id_for_key
from cybercrisis.directory.models import CommunityMembership, Organisation
from cybercrisis.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from cybercrisis.notify.service import notify_readers
from cybercrisis.situation import aggregate, audience, contributions, sources
from cybercrisis.situation.contributions import scale_of
from cybercrisis.situation.models import ClosedPeriod, Sitrep, SitrepState, SitrepVersion
from cybercrisis.situation.schemas import SitrepIn

# The audience of each level by default (DOMAIN.md: the three levels and their actors).
LEVEL_COMMUNITY = {"technical": "csirts-network", "operational": "eu-cyclone", "political": "ipcr"}
LEVEL_TITLE = {
    "technical": "EU Cybersecurity Technical Situation Report",
    "operational": "EU Cybersecurity Operational Situation Report",
    # IPCR discussions are informed by ISAA reports developed by Commission services and the EEAS (Council
    # Recommendation of 6 June 2025 on an EU blueprint for cyber crisis management, C/2025/3445, recital 3).
    "political": "Integrated Situational Awareness and Analysis (ISAA) report",
}
TEXT_KEYS = ("title", "summary", "decisions_needed", "notes")


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message}])


@dataclass(slots=True)
class SitrepView:
    """One report as one reader sees it: the version shown, and figures from the sources they may see."""

    sitrep: Sitrep
    version: SitrepVersion
    picture: aggregate.Picture
    marking: str
    shown: int  # sources this reader may see; of the others nothing is said, not even how many

    @property
    def title(self) -> str:
        return self.version.text.get("title") or LEVEL_TITLE[self.sitrep.level]


# --- drafting -----------------------------------------------------------------------------------------------


def _check_level(level: str) -> str:
    if level not in aggregate.LEVELS:
        raise _bad("level", f"'{level}' is not a level; valid: {', '.join(aggregate.LEVELS)}")
    return level


def _check_period(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise _bad("period_start", "give a time zone, e.g. 2026-11-28T00:00:00Z")
    if end <= start:
        raise _bad("period_end", "the period must end after it starts")


def _check_editor(actor: Principal, sitrep: Sitrep) -> None:
    # A report held at another node (a replica, ADR 0013) changes at its drafting node only.
    authority.authorize(actor, "sitrep.edit", authority.owned(actor, sitrep.owner_org_id), held_at=sitrep.origin_node)


def org_refs(value: str) -> set[str]:
    """Organisation ids of a setting that names them by directory key or identity id, comma-separated."""
    refs = [r.strip() for r in value.split(",") if r.strip()]
    return {r if r.startswith("identity--") else org_id_for_key(r) for r in refs}


def isaa_authors(settings: Settings) -> set[str]:
    """The organisations that author political-level reports: Commission services and the EEAS (C/2025/3445,
    recital 3), as the deployment lists them (CYBERCRISIS_ISAA_AUTHORS)."""
    return org_refs(settings.isaa_authors)


def draft(session: Session, *, actor: Principal, data: SitrepIn, settings: Settings) -> Sitrep:
    authority.authorize(actor, "sitrep.draft", ())
    if actor.org_id is None:
        raise PermissionDenied("reports belong to an organisation: act as one of its users")
    level = _check_level(data.level)
    if level == "political":
        named = {authority.Relation.NAMED} if actor.org_id in isaa_authors(settings) else set()
        authority.authorize(actor, "sitrep.draft-political", named)
    _check_period(data.period_start, data.period_end)
    marking = sharing.parse_tlp(data.tlp)
    audience_in = data.share_with or ShareWith(communities=[LEVEL_COMMUNITY[level]])
    # Checked now, written at publication: until then only the drafting organisation reads the report.
    entries = sharing.resolve(
        session, tlp=marking, share_with=audience_in, owner_org_id=actor.org_id, author_id=actor.user_id
    )
    now = utcnow()
    sitrep = Sitrep(
        id=new_id("sitrep"),
        owner_org_id=actor.org_id,
        created_by_id=actor.user_id,
        tlp=marking.value,
        level=level,
        period_start=data.period_start,
        period_end=data.period_end,
        state=SitrepState.DRAFT.value,
        current_version=1,
        current_build=1,
        audience=_share_dict(entries),
        created_at=now,
        modified_at=now,
    )
    session.add(sitrep)
    session.flush()
    # How many sources the author saw is not recorded in the audit: other readers of the timeline may see fewer.
    inputs = sources.gather(session, actor, data.period_start, data.period_end)
    sources.freeze(session, sitrep_id=sitrep.id, build=1, inputs=inputs)
    _remember(session, sitrep.id, 1, actor, inputs)
    session.add(
        SitrepVersion(
            sitrep_id=sitrep.id,
            number=1,
            build=1,
            created_by_id=actor.user_id,
            text={"title": (data.title or "").strip() or LEVEL_TITLE[level]},
        )
    )
    audit.record(
        session,
        actor=actor,
        tag="situation:sitrep:create",
        object_id=sitrep.id,
        summary={
            "level": level,
            "tlp": marking.value,
            "period": [data.period_start.isoformat(), data.period_end.isoformat()],
        },
    )
    return sitrep


_FRESH = "cybercrisis.sitrep.fresh-inputs"


def _remember(session: Session, sitrep_id: str, build: int, actor: Principal, inputs: aggregate.Inputs) -> None:
    """The inputs just gathered: in this transaction the author sees exactly these, so the view need not re-read."""
    session.info[_FRESH] = (session.get_transaction(), sitrep_id, build, actor.user_id, inputs)


def _share_dict(entries: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"organisations": [], "communities": [], "users": []}
    for kind, target in entries:
        out[{"organisation": "organisations", "community": "communities", "user": "users"}[kind]].append(target)
    return out


def _latest(session: Session, sitrep: Sitrep) -> SitrepVersion:
    v = session.get(SitrepVersion, (sitrep.id, sitrep.current_version))
    assert v is not None  # every report has its current version
    return v


def _check_current(sitrep: Sitrep, version: int) -> None:
    if version != sitrep.current_version:
        raise Conflict(
            f"the report changed since you read it (version {version}, now {sitrep.current_version}): "
            "reload and apply your change again"
        )


def _new_version(session: Session, sitrep: Sitrep, actor: Principal, *, build: int, text: dict[str, str]) -> None:
    sitrep.current_version += 1
    sitrep.current_build = build
    sitrep.state = SitrepState.DRAFT.value
    sitrep.modified_at = utcnow()
    session.add(
        SitrepVersion(
            sitrep_id=sitrep.id, number=sitrep.current_version, build=build, created_by_id=actor.user_id, text=text
        )
    )
    session.flush()


def edit(session: Session, *, actor: Principal, sitrep_id: str, version: int, changes: dict[str, str | None]) -> Sitrep:
    sitrep = get(session, actor, sitrep_id)
    _check_editor(actor, sitrep)
    _check_current(sitrep, version)
    current = _latest(session, sitrep)
    text = dict(current.text)
    for key in TEXT_KEYS:
        value = changes.get(key)
        if value is not None:
            text[key] = value
    if text == current.text:
        return sitrep
    if not text.get("title", "").strip():
        raise _bad("title", "a report needs a title")
    _new_version(session, sitrep, actor, build=sitrep.current_build, text=text)
    audit.record(
        session,
        actor=actor,
        tag="situation:sitrep:edit",
        object_id=sitrep.id,
        summary={"version": sitrep.current_version, "fields": sorted(k for k in changes if changes[k] is not None)},
    )
    return sitrep


def rebuild(session: Session, *, actor: Principal, sitrep_id: str, version: int) -> Sitrep:
    """Take the inputs afresh (new contributions, new incidents) into a new build and version."""
    sitrep = get(session, actor, sitrep_id)
    _check_editor(actor, sitrep)
    _check_current(sitrep, version)
    build = sitrep.current_build + 1
    inputs = sources.gather(session, actor, sitrep.period_start, sitrep.period_end)
    sources.freeze(session, sitrep_id=sitrep.id, build=build, inputs=inputs)
    _remember(session, sitrep.id, build, actor, inputs)
    _new_version(session, sitrep, actor, build=build, text=dict(_latest(session, sitrep).text))
    audit.record(
        session,
        actor=actor,
        tag="situation:sitrep:rebuild",
        object_id=sitrep.id,
        summary={"version": sitrep.current_version, "build": build},
    )
    return sitrep


def _for_approver(session: Session, actor: Principal, sitrep_id: str, version: int, verb: str) -> Sitrep:
    sitrep = get(session, actor, sitrep_id)
    authority.authorize(
        actor,
        "sitrep.approve",
        authority.owned(actor, sitrep.owner_org_id),
        refusal=f"only the drafting organisation {verb} this report",
        held_at=sitrep.origin_node,
    )
    _check_current(sitrep, version)
    return sitrep


def approve(session: Session, *, actor: Principal, sitrep_id: str, version: int, settings: Settings) -> Sitrep:
    sitrep = _for_approver(session, actor, sitrep_id, version, "approves")
    if sitrep.state != SitrepState.DRAFT:
        raise Conflict(f"version {version} is already {sitrep.state}")
    current = _latest(session, sitrep)
    if settings.sitrep_four_eyes and current.created_by_id == actor.user_id:
        raise PermissionDenied("four eyes: someone other than the author of this version approves it")
    current.state = sitrep.state = SitrepState.APPROVED.value
    current.approved_by_id, current.approved_at = actor.user_id, utcnow()
    sitrep.modified_at = utcnow()
    audit.record(
        session, actor=actor, tag="situation:sitrep:approve", object_id=sitrep.id, summary={"version": version}
    )
    return sitrep


def preview(
    session: Session, *, actor: Principal, sitrep_id: str, version: int, settings: Settings
) -> audience.AudienceFigures:
    """A political report as its audience will see it: what `publish` stores, for its approver to check first."""
    sitrep = _for_approver(session, actor, sitrep_id, version, "previews")
    if sitrep.level not in audience.AUDIENCE_LEVELS:
        raise _bad(
            "level",
            f"a {sitrep.level} report shows each reader the sources it may see (ADR 0006); the "
            "audience's figures are computed for political-level reports",
        )
    return audience.compute(session, sitrep=sitrep, build=_latest(session, sitrep).build, scale=scale_of(settings))


def publish(
    session: Session,
    *,
    actor: Principal,
    sitrep_id: str,
    version: int,
    settings: Settings,
    previewed: str | None = None,
) -> Sitrep:
    """Publish an approved version. A political one stores the audience's figures (`preview`); `previewed`, the
    digest the approver saw, makes publishing refuse (409) when they changed since."""
    sitrep = _for_approver(session, actor, sitrep_id, version, "publishes")
    if sitrep.state != SitrepState.APPROVED:
        raise Conflict(f"only an approved version is published; version {version} is {sitrep.state}")
    current = _latest(session, sitrep)
    stored: audience.AudienceFigures | None = None
    if sitrep.level in audience.AUDIENCE_LEVELS:
        stored = audience.compute(session, sitrep=sitrep, build=current.build, scale=scale_of(settings))
        if previewed is not None and previewed != stored.digest:
            raise Conflict("what the audience may read changed since your preview: preview the report again")
        current.audience_sources, current.audience_figures = stored.source_ids, stored.figures
        current.audience_digest = stored.digest
    elif previewed is not None:
        raise _bad("previewed", "only political-level reports are published with the audience's figures")
    now = utcnow()
    first = sitrep.published_version is None
    current.state = sitrep.state = SitrepState.PUBLISHED.value
    sitrep.published_version, sitrep.published_at, sitrep.modified_at = version, now, now
    if first:
        entries = [
            (k, t)
            for k, ts in (
                ("organisation", sitrep.audience.get("organisations", [])),
                ("community", sitrep.audience.get("communities", [])),
                ("user", sitrep.audience.get("users", [])),
            )
            for t in ts
        ]
        sharing.write(session, object_id=sitrep.id, entries=entries, added_by=actor.org_id)
    reason = f"{sitrep.level} report {sitrep.id} published"
    # Publishing closes the period to contributions only when the secretariat publishes, within the bound a closure
    # may have: another organisation's report does not stop every Member State's reporting.
    if contributions.secretariat(session, actor) and sitrep.period_end - sitrep.period_start <= (
        contributions.MAX_CLOSED_PERIOD
    ):
        session.add(
            ClosedPeriod(
                period_start=sitrep.period_start,
                period_end=sitrep.period_end,
                closed_by_id=actor.user_id,
                reason=reason,
            )
        )
    session.flush()
    summary: dict[str, Any] = {"version": version, "level": sitrep.level}
    if stored is not None:  # the audience reads these sources: saying how many tells it nothing it cannot see
        summary |= {"audience_sources": len(stored.source_ids), "digest": stored.digest}
    audit.record(session, actor=actor, tag="situation:sitrep:publish", object_id=sitrep.id, summary=summary)
    _notify_audience(session, sitrep, actor)
    return sitrep


def _notify_audience(session: Session, sitrep: Sitrep, actor: Principal) -> None:
    orgs = set(sitrep.audience.get("organisations", []))
    communities = sitrep.audience.get("communities", [])
    if communities:
        orgs |= set(
            session.scalars(
                select(CommunityMembership.org_id).where(CommunityMembership.community_slug.in_(communities))
            )
        )
    orgs.discard(sitrep.owner_org_id)
    owner = session.get(Organisation, sitrep.owner_org_id)
    notify_readers(
        session,
        obj=sitrep,
        actor=actor,
        event="situation:sitrep:publish",
        org_ids=orgs,
        subject=f"{LEVEL_TITLE[sitrep.level]} published (version {sitrep.published_version})",
        body=f"{owner.short_name if owner else 'The secretariat'} published a {sitrep.level} situation report for "
        f"{sitrep.period_start:%Y-%m-%d %H:%M} to {sitrep.period_end:%Y-%m-%d %H:%M} UTC. Open it in cybercrisis: "
        f"/sitreps/{sitrep.id}",
        payload={"sitrep": sitrep.id, "level": sitrep.level, "version": sitrep.published_version},
        dedupe=f"sitrep-publish:{sitrep.id}:{sitrep.published_version}",
    )


# --- reading ------------------------------------------------------------------------------------------------


def get(session: Session, reader: Principal, sitrep_id: str) -> Sitrep:
    return sharing.get_readable(session, reader, Sitrep, sitrep_id)


def _version_for(session: Session, reader: Principal, sitrep: Sitrep, number: int | None) -> SitrepVersion:
    mine = reader.org_id == sitrep.owner_org_id
    if number is None:
        number = sitrep.current_version if mine else sitrep.published_version
    v = session.get(SitrepVersion, (sitrep.id, number)) if number is not None else None
    if v is None or (not mine and v.state != SitrepState.PUBLISHED):
        raise NotFound(f"no version {number} of {sitrep.id} that you may read")
    return v


def view(
    session: Session, *, reader: Principal, sitrep_id: str, settings: Settings, version: int | None = None
) -> SitrepView:
    sitrep = get(session, reader, sitrep_id)
    v = _version_for(session, reader, sitrep, version)
    fresh = session.info.get(_FRESH)
    if fresh is not None and fresh[:4] == (session.get_transaction(), sitrep.id, v.build, reader.user_id):
        inputs = fresh[4]
    else:
        inputs = sources.thaw(session, sitrep_id=sitrep.id, build=v.build, reader=reader)
    if v.audience_sources is not None:  # a published political version: the audience's figures, for everyone
        inputs = audience.restrict(inputs, v.audience_sources)
    picture = aggregate.build(sitrep.level, inputs, scale_of(settings))
    marking = aggregate.strictest([sitrep.tlp, picture.marking])
    shown = len(inputs.contributions) + len(inputs.incidents)
    return SitrepView(sitrep, v, picture, marking, shown)
