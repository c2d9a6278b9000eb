"""Directory: organisations and communities, contacts under the access layer."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cybercrisis.access import sharing
from cybercrisis.access.models import Share
from cybercrisis.access.permissions import Permission
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.schemas import ShareWith
from cybercrisis.audit import service as audit
from cybercrisis.db import new_id, utcnow
from cybercrisis.directory.countries import normalise_country
from cybercrisis.directory.models import (
    Community,
    CommunityMembership,
    Contact,
    ContactKind,
    Level,
    MembershipRole,
    Organisation,
    OrganisationLevel,
    OrgType,
)
from cybercrisis.directory.reading import WITH_ROWS, OrgCard, enum_value, organisation_cards
from cybercrisis.errors import Conflict, InvalidInput, NotFound, PermissionDenied


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message}])


def get_organisation(session: Session, *, principal: Principal, org_id: str) -> Organisation:
    """The organisation to change, with its levels and community rows (readers take `read_organisation`)."""
    principal.require(Permission.DIRECTORY_READ)
    org = session.scalars(select(Organisation).where(Organisation.id == org_id).options(*WITH_ROWS)).one_or_none()
    if org is None:
        raise NotFound(f"no organisation with id {org_id}")
    return org


def read_organisation(session: Session, *, principal: Principal, org_id: str) -> OrgCard:
    principal.require(Permission.DIRECTORY_READ)
    card = organisation_cards(session, [org_id]).get(org_id)
    if card is None:
        raise NotFound(f"no organisation with id {org_id}")
    return card


def list_communities(session: Session) -> list[Community]:
    return list(session.scalars(select(Community).order_by(Community.name)))


MEMBER = MembershipRole.MEMBER.value


def _validate_roles(roles: dict[str, str], communities: list[str]) -> dict[str, str]:
    for slug, role in roles.items():
        if slug not in communities:
            raise _bad("roles", f"a role is given for '{slug}', which is not among the organisation's communities")
        enum_value(MembershipRole, str(role), "roles")
    return {slug: str(role) for slug, role in roles.items()}


def set_membership_role(session: Session, *, actor: Principal, org_id: str, community: str, role: str) -> str:
    """Put the organisation in the community with this role (adding it when it is not in it); returns the role.
    Same authority as changing an organisation's communities: the directory's writers
    (`directory:organisation:write`), never for their own organisation."""
    actor.require(Permission.DIRECTORY_WRITE)
    org = get_organisation(session, principal=actor, org_id=org_id)
    if session.get(Community, community) is None:
        raise NotFound(f"no community {community}")
    enum_value(MembershipRole, role, "role")
    rows = {r.community_slug: r for r in org.community_rows}
    previous = rows[community].role if community in rows else None
    if previous == role:
        return role
    if org.id == actor.org_id:
        raise PermissionDenied(
            "another administrator changes the communities and membership roles of your own "
            "organisation: they decide what it reads and where it decides"
        )
    if community in rows:
        rows[community].role = role
    else:
        org.community_rows.append(CommunityMembership(community_slug=community, role=role))
    org.modified_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor=actor,
        tag="directory:membership:update",
        object_id=org.id,
        summary={"community": community, "role": role, "previous": previous},
    )
    return role


def community_members(session: Session, *, community: str) -> list[tuple[Organisation, str]]:
    """The organisations in a community with their roles, members first."""
    if session.get(Community, community) is None:
        raise NotFound(f"no community {community}")
    order = [r.value for r in MembershipRole]
    rows = session.execute(
        select(Organisation, CommunityMembership.role)
        .join(CommunityMembership, CommunityMembership.org_id == Organisation.id)
        .where(CommunityMembership.community_slug == community)
        .order_by(Organisation.name)
    ).all()
    return sorted(((o, r) for o, r in rows), key=lambda item: order.index(item[1]) if item[1] in order else 99)


def community_role(session: Session, *, org_id: str, community: str) -> str | None:
    """The organisation's role in the community (a `MembershipRole` value), or None when it is not in it."""
    return session.scalar(
        select(CommunityMembership.role).where(
            CommunityMembership.org_id == org_id, CommunityMembership.community_slug == community
        )
    )


def deciding_members(session: Session, *, community: str) -> set[str]:
    """The ids of the organisations that decide in the community: its members, not its observers, invited observers
    or secretariat (NIS2 Art. 15(2), 16(2): the Commission observes and ENISA provides the secretariat)."""
    return set(
        session.scalars(
            select(CommunityMembership.org_id).where(
                CommunityMembership.community_slug == community,
                CommunityMembership.role == MembershipRole.MEMBER.value,
            )
        )
    )


def _validate_org_fields(
    session: Session,
    *,
    type_: str,
    country: str | None,
    levels: list[str],
    communities: list[str],
    parent_id: str | None,
) -> tuple[str | None, list[str], list[str]]:
    enum_value(OrgType, type_, "type")
    cc = normalise_country(country, field="country") if country else None
    for lv in levels:
        enum_value(Level, lv, "levels")
    known = set(session.scalars(select(Community.slug)))
    unknown = [c for c in communities if c not in known]
    if unknown:
        raise _bad("communities", f"unknown community(ies) {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
    if parent_id and session.get(Organisation, parent_id) is None:
        raise _bad("parent_id", f"no organisation with id {parent_id}")
    return cc, sorted(set(levels)), sorted(set(communities))


def create_organisation(
    session: Session,
    *,
    actor: Principal,
    name: str,
    short_name: str,
    type_: str,
    country: str | None,
    levels: list[str],
    communities: list[str],
    parent_id: str | None = None,
    website: str = "",
    description: str = "",
    org_id: str | None = None,
    roles: dict[str, str] | None = None,
) -> Organisation:
    actor.require(Permission.DIRECTORY_WRITE)
    cc, levels, communities = _validate_org_fields(
        session, type_=type_, country=country, levels=levels, communities=communities, parent_id=parent_id
    )
    wanted_roles = _validate_roles(roles or {}, communities)
    if session.scalars(select(Organisation.id).where(Organisation.short_name.ilike(short_name))).first():
        raise Conflict(f"an organisation with short name '{short_name}' exists already")
    if org_id is not None and not org_id.startswith("identity--"):
        raise _bad("id", "organisation ids are STIX identity ids (identity--<uuid>)")
    org = Organisation(
        id=org_id or new_id("identity"),
        name=name.strip(),
        short_name=short_name.strip(),
        type=type_,
        country=cc,
        parent_id=parent_id,
        website=website,
        description=description,
        level_rows=[OrganisationLevel(level=lv) for lv in levels],
        community_rows=[CommunityMembership(community_slug=c, role=wanted_roles.get(c, MEMBER)) for c in communities],
    )
    session.add(org)
    session.flush()
    audit.record(
        session,
        actor=actor,
        tag="directory:organisation:create",
        object_id=org.id,
        summary={"short_name": org.short_name, "type": type_, "country": cc},
    )
    return org


def update_organisation(session: Session, *, actor: Principal, org_id: str, changes: dict[str, object]) -> Organisation:
    actor.require(Permission.DIRECTORY_WRITE)
    org = get_organisation(session, principal=actor, org_id=org_id)
    cc, levels, communities = _validate_org_fields(
        session,
        type_=str(changes.get("type", org.type)),
        country=changes.get("country", org.country),  # type: ignore[arg-type]
        levels=changes.get("levels", org.levels),  # type: ignore[arg-type]
        communities=changes.get("communities", org.communities),  # type: ignore[arg-type]
        parent_id=changes.get("parent_id", org.parent_id),  # type: ignore[arg-type]
    )
    if changes.get("parent_id") == org.id:
        raise _bad("parent_id", "an organisation cannot be its own parent")
    current_roles = org.roles
    roles = {c: current_roles.get(c, MEMBER) for c in communities}
    if "roles" in changes:
        roles |= _validate_roles(changes["roles"] or {}, communities)  # type: ignore[arg-type]
    widens_own = (
        ("communities" in changes and sorted(communities) != sorted(org.communities))
        or ("parent_id" in changes and changes["parent_id"] != org.parent_id)
        or ("roles" in changes and roles != current_roles)
    )
    if widens_own and org.id == actor.org_id:
        # Communities and parent decide what an organisation reads (GREEN, AMBER pass-on), a membership role who
        # decides in a community: nobody sets their own.
        raise PermissionDenied(
            "another administrator changes the communities, membership roles or the parent of "
            "your own organisation: they decide what it reads and where it decides"
        )
    for key in ("name", "short_name", "type", "website", "description", "parent_id"):
        if key in changes:
            setattr(org, key, changes[key])
    org.country = cc
    if "levels" in changes:
        org.level_rows = [OrganisationLevel(level=lv) for lv in levels]
    if "communities" in changes or "roles" in changes:
        # Rows of kept communities are updated in place: a community still listed keeps its role.
        kept = {r.community_slug: r for r in org.community_rows if r.community_slug in roles}
        for slug, row in kept.items():
            row.role = roles[slug]
        org.community_rows = [kept.get(c) or CommunityMembership(community_slug=c, role=roles[c]) for c in communities]
    org.modified_at = utcnow()
    audit.record(
        session,
        actor=actor,
        tag="directory:organisation:update",
        object_id=org.id,
        summary={"fields": sorted(changes)},
    )
    return org


# --- contacts ----------------------------------------------------------------------------------------


def _check_contact_writer(actor: Principal, org_id: str) -> None:
    """An organisation's own admins manage its contacts; the operator any (`cybercrisis directory import`). Not a
    platform admin through the API: an organisation with no routes is notified at its contacts, so writing another
    organisation's contact would route what it reads to an address of one's choosing (issue 12)."""
    actor.require(Permission.CONTACT_WRITE)
    if actor.org_id != org_id and not actor.is_operator:
        raise PermissionDenied(
            "you manage the contacts of your own organisation only; the operator imports other "
            "organisations' contacts with `cybercrisis directory import`"
        )


def create_contact(
    session: Session,
    *,
    actor: Principal,
    org_id: str,
    kind: str,
    label: str,
    value: str,
    pgp_fingerprint: str | None,
    tlp: str,
    share_with: ShareWith,
) -> Contact:
    _check_contact_writer(actor, org_id)
    if session.get(Organisation, org_id) is None:
        raise _bad("organisation", f"no organisation with id {org_id}")
    enum_value(ContactKind, kind, "kind")
    marking = sharing.parse_tlp(tlp)
    fpr = _fingerprint(pgp_fingerprint)
    entries = sharing.resolve(session, tlp=marking, share_with=share_with, owner_org_id=org_id, author_id=actor.user_id)
    contact = Contact(
        id=new_id("contact"),
        owner_org_id=org_id,
        created_by_id=actor.user_id,
        tlp=marking.value,
        kind=kind,
        label=label.strip(),
        value=value.strip(),
        pgp_fingerprint=fpr,
    )
    session.add(contact)
    session.flush()
    sharing.write(session, object_id=contact.id, entries=entries, added_by=org_id)
    audit.record(
        session,
        actor=actor,
        tag="directory:contact:create",
        object_id=contact.id,
        summary={"org": org_id, "kind": kind, "tlp": marking.value},
    )
    return contact


def _fingerprint(value: str | None) -> str | None:
    if not value:
        return None
    fpr = value.replace(" ", "").upper()
    if len(fpr) != 40 or any(c not in "0123456789ABCDEF" for c in fpr):
        raise _bad("pgp_fingerprint", "a PGP fingerprint is 40 hexadecimal characters")
    return fpr


def contacts_of(session: Session, *, principal: Principal, org_id: str) -> list[Contact]:
    """The contacts of one organisation that the reader may see."""
    return list(
        session.scalars(
            select(Contact)
            .where(Contact.owner_org_id == org_id, read_filter(principal, Contact))
            .order_by(Contact.kind, Contact.label)
        )
    )


def delete_contact(session: Session, *, actor: Principal, contact_id: str) -> None:
    contact = sharing.get_readable(session, actor, Contact, contact_id)
    _check_contact_writer(actor, contact.owner_org_id)
    session.execute(delete(Share).where(Share.object_id == contact.id))
    session.delete(contact)
    audit.record(
        session,
        actor=actor,
        tag="directory:contact:delete",
        object_id=contact_id,
        summary={"org": contact.owner_org_id},
    )
