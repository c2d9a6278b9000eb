from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cybercrisis.access.models import Shareable
from cybercrisis.db import Base, StixId, UTCDateTime, utcnow


class OrgType(StrEnum):
    NATIONAL_CSIRT = "national-csirt"
    IPCR_REPRESENTATIVE = "ipcr-representative"
    SPOC = "spoc"
    COMPETENT_AUTHORITY = "competent-authority"
    CRISIS_AUTHORITY = "crisis-authority"
    EU_BODY = "eu-body"
    PARTNER = "partner"
    ENTITY = "entity"
    SERVICE_PROVIDER = "service-provider"
    LAW_ENFORCEMENT = "law-enforcement"


ORG_TYPE_LABELS: dict[OrgType, str] = {
    OrgType.NATIONAL_CSIRT: "National CSIRT",
    OrgType.IPCR_REPRESENTATIVE: "Member State's IPCR representative (permanent representation)",
    OrgType.SPOC: "Single point of contact",
    OrgType.COMPETENT_AUTHORITY: "Competent authority",
    OrgType.CRISIS_AUTHORITY: "Cyber crisis management authority",
    OrgType.EU_BODY: "EU institution, body or agency",
    OrgType.PARTNER: "International partner",
    OrgType.ENTITY: "Essential or important entity",
    OrgType.SERVICE_PROVIDER: "Incident response service provider",
    OrgType.LAW_ENFORCEMENT: "Law enforcement (cybercrime unit)",
}


class Level(StrEnum):
    TECHNICAL = "technical"
    OPERATIONAL = "operational"
    POLITICAL = "political"


class ContactKind(StrEnum):
    DESK_24X7 = "24x7-desk"
    DUTY_OFFICER = "duty-officer"
    EMAIL = "email"
    PHONE = "phone"
    SECURE_CHANNEL = "secure-channel"
    PGP = "pgp"


class Community(Base):
    __tablename__ = "communities"

    slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    level: Mapped[str] = mapped_column(String(16), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    # Where each membership role comes from, e.g. "NIS2 Art. 15(2): ... the Commission participates as an observer".
    basis: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")


class OrganisationLevel(Base):
    __tablename__ = "organisation_levels"

    org_id: Mapped[str] = mapped_column(StixId, ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)
    level: Mapped[str] = mapped_column(String(16), primary_key=True)


class MembershipRole(StrEnum):
    """What an organisation is in a community. Every role reads what the community reads; only `member` decides.

    The roles are those the founding texts give: NIS2 (Directive (EU) 2022/2555) Art. 14(2) (Cooperation Group:
    the Commission provides the secretariat), Art. 15(2) (CSIRTs network: CERT-EU and the Member States' CSIRTs
    are its members, the Commission an observer, ENISA the secretariat), Art. 16(2) (EU-CyCLONe: the Commission an
    observer unless a large-scale incident has or is likely to have a significant impact on services within the
    scope of NIS2, ENISA the secretariat; observers may be invited), and Council Implementing Decision (EU)
    2018/1993 (IPCR arrangements) for the IPCR community."""

    MEMBER = "member"
    OBSERVER = "observer"
    SECRETARIAT = "secretariat"
    INVITED_OBSERVER = "invited-observer"


MEMBERSHIP_ROLE_LABELS: dict[MembershipRole, str] = {
    MembershipRole.MEMBER: "Member",
    MembershipRole.OBSERVER: "Observer",
    MembershipRole.SECRETARIAT: "Secretariat",
    MembershipRole.INVITED_OBSERVER: "Invited observer",
}


class CommunityMembership(Base):
    __tablename__ = "community_members"

    org_id: Mapped[str] = mapped_column(StixId, ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)
    community_slug: Mapped[str] = mapped_column(
        String(64), ForeignKey("communities.slug", ondelete="CASCADE"), primary_key=True, index=True
    )
    # Reading follows membership of any role; deciding (e.g. a crisis decision) is for `member` only.
    role: Mapped[str] = mapped_column(
        String(24), nullable=False, default=MembershipRole.MEMBER.value, server_default=MembershipRole.MEMBER.value
    )


class Organisation(Base):
    """A directory entry; its id is a STIX `identity--<uuid>`, stable across nodes."""

    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(StixId, primary_key=True)
    name: Mapped[str] = mapped_column(String(300), nullable=False)
    short_name: Mapped[str] = mapped_column(String(80), nullable=False, unique=True)
    type: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    country: Mapped[str | None] = mapped_column(String(2), nullable=True, index=True)
    parent_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("organisations.id"), nullable=True, index=True)
    website: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    # Never loaded behind the reader's back (issue 14: selectin here was a third of an organisation read): a
    # writer asks for them with `reading.WITH_ROWS`, a reader takes `reading.OrgCard`s, built by one query.
    level_rows: Mapped[list[OrganisationLevel]] = relationship(
        cascade="all, delete-orphan", lazy="raise", order_by=OrganisationLevel.level
    )
    community_rows: Mapped[list[CommunityMembership]] = relationship(
        cascade="all, delete-orphan", lazy="raise", order_by=CommunityMembership.community_slug
    )

    @property
    def levels(self) -> list[str]:
        order = [lv.value for lv in Level]
        return sorted((r.level for r in self.level_rows), key=order.index)

    @property
    def communities(self) -> list[str]:
        """Every community the organisation reads as: members, observers, secretariat and invited observers alike."""
        return [r.community_slug for r in self.community_rows]

    @property
    def roles(self) -> dict[str, str]:
        """Community slug -> MembershipRole value."""
        return {r.community_slug: r.role for r in self.community_rows}


class Contact(Shareable, Base):
    """A way to reach an organisation; carries TLP and a share list like any shareable object."""

    __tablename__ = "contacts"

    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    label: Mapped[str] = mapped_column(String(200), nullable=False)
    value: Mapped[str] = mapped_column(String(500), nullable=False)
    pgp_fingerprint: Mapped[str | None] = mapped_column(String(40), nullable=True)

    __table_args__ = (UniqueConstraint("owner_org_id", "kind", "label", "value", name="uq_contacts_entry"),)
