"""The store of STIX objects received from elsewhere (imports now; TAXII and peers next): ADR 0008.

One row per object version (`id`, `modified`). `seq` orders rows by arrival and is the keyset of every listing
(TAXII `added_after` and `next` next), so paging never copies or re-sorts a collection. Each row carries what the
access layer needs (`tlp`, `owner_org_id`, share rows keyed by the STIX id), so `read_filter` decides about it like
about anything else; shares are per object, not per version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cybercrisis.db import Base, StixId, UTCDateTime, utcnow

# STIX objects without a `modified` (SCOs, marking definitions) are stored as one version at this time.
NO_MODIFIED = datetime(1970, 1, 1)  # noqa: DTZ001 - made timezone-aware where used


class StixObject(Base):
    __tablename__ = "stix_objects"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=True)  # fmt: skip
    id: Mapped[str] = mapped_column(StixId, nullable=False)
    modified: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    type: Mapped[str] = mapped_column(String(100), nullable=False)
    spec_version: Mapped[str] = mapped_column(String(8), nullable=False, default="2.1")
    # True for x- types and objects with custom properties: kept as received, reported at import.
    custom: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    revoked: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    # Access: the marking from its object_marking_refs (TLP 2.0/1.0), else the importer's default; the importing
    # organisation owns the local copy; share rows (access.models.Share) are keyed by the STIX id.
    tlp: Mapped[str] = mapped_column(String(16), nullable=False)
    owner_org_id: Mapped[str] = mapped_column(StixId, ForeignKey("organisations.id"), nullable=False)
    created_by_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("users.id"), nullable=True)
    exercise: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    origin: Mapped[str] = mapped_column(String(300), nullable=False, default="")  # e.g. "file:ics-attack.json"
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (
        UniqueConstraint("id", "modified", name="uq_stix_objects_version"),
        Index("ix_stix_objects_type_seq", "type", "seq"),
        Index("ix_stix_objects_id_seq", "id", "seq"),
    )
