"""The store of STIX objects (imports, our own objects as STIX, objects from peer nodes), TAXII and peers: ADR 0008.

One row per object version (`id`, `modified`) of each copy (`share_id`, exchange/copies.py). `seq` orders rows by
arrival and is the keyset of every listing (TAXII `added_after` and `next` next), so paging never copies or
re-sorts a collection. Each row carries what the access layer needs (`tlp`, `owner_org_id`, share rows keyed by
`share_id`), so `read_filter` decides about it like about anything else; shares are per copy, not per version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cybercrisis.db import Base, StixId, UTCDateTime, utcnow

# STIX objects without a `modified` (SCOs, marking definitions) are stored as one version at this time.
NO_MODIFIED = datetime(1970, 1, 1)  # noqa: DTZ001 - made timezone-aware where used


class StixObject(Base):
    __tablename__ = "stix_objects"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
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
    # TAXII date_added. Strictly increasing from one write transaction to the next (assigned under the audit
    # lock), equal within one: `added_after` is turned into a seq bound with the index below.
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    # Whose share rows decide who reads this row: its own id, or for objects derived from one of our objects
    # (an incident's observables, relationships, notes) that object's id, so they follow its share list.
    share_id: Mapped[str] = mapped_column(StixId, nullable=False)
    # The newest version (by `modified`) of its id: TAXII match[version]=last, the default.
    latest: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # The node that brought this version into the federation: NULL for this node, else the peer's node id.
    origin_node: Mapped[str | None] = mapped_column(String(120), nullable=True)
    # The origin node's signature block {node, key, owner, signature} (exchange/node.py); NULL until this node
    # signs a version it originated (the signer job), and as received for versions from peers.
    signature: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    signed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # The node that relayed this version here (ADR 0013 point 5), NULL when it came from its origin or is ours: a
    # relayed version is never relayed again (one hop).
    relayed_by: Mapped[str | None] = mapped_column(String(120), nullable=True)
    # The organisation and community recipients this version travels with (`x_cybercrisis_shares`), signed with it:
    # as received for versions from peers; for ours, the share list of `share_id` when it was stored, signed or
    # re-served (exchange/copies.py). NULL on versions stored before share lists were signed (migration 0010).
    shares: Mapped[list[dict[str, str]] | None] = mapped_column(JSON, nullable=True)

    __table_args__ = (
        # One row per version of a copy: an id may be held in several copies (an observable in two incidents, or
        # imported by two organisations), each with its own share key (exchange/copies.py).
        UniqueConstraint("id", "modified", "share_id", name="uq_stix_objects_version"),
        Index("ix_stix_objects_type_seq", "type", "seq"),
        Index("ix_stix_objects_id_seq", "id", "seq"),
        Index("ix_stix_objects_added_at_seq", "added_at", "seq"),
        Index("ix_stix_objects_share_id", "share_id"),
        Index("ix_stix_objects_signed_seq", "signed", "seq"),
        # SQLite would hand out a deleted row's seq again (max + 1): a TAXII `next` or a push cursor past it would
        # then miss the new row. AUTOINCREMENT never reuses one (PostgreSQL's sequence never does).
        {"sqlite_autoincrement": True},
    )


class TaxiiCollection(Base):
    """A collection an administrator defines (TAXII 2.1 §5): the objects shared with one audience (a community or
    an organisation), optionally of some STIX types only. Writes to it share with that audience. The collections
    of every community and every organisation exist without a row (exchange/taxii.py)."""

    __tablename__ = "taxii_collections"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # a UUID, as TAXII wants
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    audience_kind: Mapped[str] = mapped_column(String(16), nullable=False)  # community | organisation
    audience_target: Mapped[str] = mapped_column(StixId, nullable=False)  # a community slug or an organisation id
    types: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)  # None: every type
    can_write: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_by_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class TaxiiStatus(Base):
    """The status resource of one TAXII POST (TAXII 2.1 §4.3): kept so that the client can GET it later."""

    __tablename__ = "taxii_statuses"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(StixId, ForeignKey("users.id"), nullable=False, index=True)
    collection_id: Mapped[str] = mapped_column(String(36), nullable=False)
    request_timestamp: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    total_count: Mapped[int] = mapped_column(Integer, nullable=False)
    success_count: Mapped[int] = mapped_column(Integer, nullable=False)
    failure_count: Mapped[int] = mapped_column(Integer, nullable=False)
    pending_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # {"successes": [{"id", "version"}], "failures": [{"id", "version", "message"}], "pendings": []}
    details: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)


class Peer(Base):
    """Another cybercrisis node this node syncs with (ADR 0008): configuration, not shared information, so it
    carries no TLP; it has a STIX-style id and every change is audited."""

    __tablename__ = "peers"

    id: Mapped[str] = mapped_column(StixId, primary_key=True)  # peer--<uuid>
    url: Mapped[str] = mapped_column(String(500), nullable=False, unique=True)  # the peer's discovery URL
    api_root: Mapped[str] = mapped_column(String(500), nullable=False)  # the API root URL used
    title: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    node_id: Mapped[str] = mapped_column(String(120), nullable=False, unique=True)  # the peer's node identity id
    # The organisation that runs the peer node: what we push is what the access layer shows this organisation.
    organisation_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("organisations.id"), nullable=True)
    token: Mapped[str] = mapped_column(Text, nullable=False)  # our API token on the peer, sealed (secretbox)
    username: Mapped[str | None] = mapped_column(String(320), nullable=True)  # set: HTTP Basic instead of Bearer
    direction: Mapped[str] = mapped_column(String(8), nullable=False)  # pull | push | both
    # This node passes other origins' first-hand versions on to this peer (a hub to its national nodes, ADR 0013).
    relay: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    collections: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)  # [] = all in common
    # Pinned public keys of the peer node: [{"id", "public_key", "created", "endorsed_by"}]
    keys: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    # Keys of the nodes the peer itself pins, learned from its discovery: {node_id: {key_id: public_key}}
    relayed_keys: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    timeout_seconds: Mapped[float] = mapped_column(nullable=False, default=30.0)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    created_by_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("users.id"), nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    pulled: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)  # versions stored from the peer
    pushed: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)  # versions the peer accepted
    rejected: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)  # refused either way


class PeerCursor(Base):
    """How far sync has got with one collection of one peer, in one direction.

    pull: `position` is the peer's date_added (RFC 3339) of the last object stored, `complete` says whether
    everything up to it was read (else the next round asks again from just before it: re-reads are unchanged).
    push: `position` is the local `seq` of the last object the peer accepted (as a decimal string)."""

    __tablename__ = "peer_cursors"

    peer_id: Mapped[str] = mapped_column(StixId, ForeignKey("peers.id", ondelete="CASCADE"), primary_key=True)
    collection_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    direction: Mapped[str] = mapped_column(String(8), primary_key=True)
    position: Mapped[str | None] = mapped_column(String(64), nullable=True)
    complete: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class NodePin(Base):
    """A node that is not a peer, whose versions (and answers) this node takes through a relay (ADR 0013 point 5):
    pinned out of band by the operator, with the key its operator confirmed and the organisation it speaks for."""

    __tablename__ = "node_pins"

    node_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    # The peer (a hub) whose discovery published its key, and through which its versions and answers pass.
    via_peer_id: Mapped[str] = mapped_column(StixId, ForeignKey("peers.id", ondelete="CASCADE"), nullable=False)
    organisation_id: Mapped[str] = mapped_column(StixId, ForeignKey("organisations.id"), nullable=False)
    keys: Mapped[dict[str, str]] = mapped_column(JSON, nullable=False, default=dict)  # {key id: public key}
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    created_by_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("users.id"), nullable=True)
