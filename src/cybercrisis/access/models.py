"""The share list and the mixin every shareable object carries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from cybercrisis.db import Base, StixId, UTCDateTime, utcnow


class Share(Base):
    """One recipient of one object. `kind` is organisation, community or user."""

    __tablename__ = "shares"

    object_id: Mapped[str] = mapped_column(StixId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    target: Mapped[str] = mapped_column(StixId, primary_key=True)
    # Who added this recipient: the originator, or a recipient passing AMBER on to its constituents.
    added_by_org_id: Mapped[str | None] = mapped_column(StixId, nullable=True)

    __table_args__ = (Index("ix_shares_kind_target", "kind", "target", "object_id"),)


class Shareable:
    """Columns of every object that can be shared: STIX-style id, times, owner, TLP, version, exercise flag."""

    id: Mapped[str] = mapped_column(StixId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    tlp: Mapped[str] = mapped_column(String(16), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    # Set when the object belongs to an exercise, so that exercise data can be kept apart.
    exercise: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # A replica (ADR 0013): the node that holds this object and decides about it, NULL for this node's own objects.
    # A replica is written only from its origin's signed versions (exchange/replica_apply.py, access/replicas.py).
    origin_node: Mapped[str | None] = mapped_column(String(120), nullable=True)
    # The origin's STIX `modified` of the version this replica holds, and when it arrived here.
    received_version: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @declared_attr
    def owner_org_id(cls) -> Mapped[str]:  # noqa: N805 - SQLAlchemy declared_attr takes the class
        return mapped_column(StixId, ForeignKey("organisations.id"), nullable=False, index=True)

    @declared_attr
    def created_by_id(cls) -> Mapped[str | None]:  # noqa: N805
        return mapped_column(StixId, ForeignKey("users.id"), nullable=True)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, object]:  # noqa: N805
        # Optimistic locking: a stale update raises StaleDataError, mapped to 409.
        return {"version_id_col": cls.version}
