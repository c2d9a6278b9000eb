"""The TAXII 2.1 server's resources as served: objects with their origin signature and share list, envelopes,
manifests, the discovery and API root resources (ADR 0008). docs/taxii.md.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cybercrisis.config import Settings
from cybercrisis.directory.models import Organisation
from cybercrisis.exchange import copies
from cybercrisis.exchange import node as nodes
from cybercrisis.exchange.models import StixObject
from cybercrisis.exchange.taxii import API_ROOT, MEDIA_STIX, MEDIA_TAXII, stamp, version_of
from cybercrisis.exchange.taxii_pages import Page

log = logging.getLogger("cybercrisis.taxii")


def served(session: Session, *, node: nodes.Node, rows: Sequence[StixObject]) -> list[dict[str, Any]]:
    """The objects as TAXII serves them: as stored, plus the origin node's signature and the organisation and
    community recipients it signs (`x_cybercrisis_shares`), never a list it does not sign. For this node's versions
    that is the current share list of their copy: a version not signed yet, or signed with an older list, is signed
    now (not stored). A peer's version goes as received. One query for the shares."""
    lists = copies.share_lists(session, {r.share_id for r in rows if r.origin_node is None})
    out = []
    for row in rows:
        obj = dict(row.data)
        if row.origin_node is None:
            current = lists[row.share_id]
            origin = row.signature
            if origin is None or not row.signed or row.shares != current:
                try:
                    origin = node.sign(row.data, row.owner_org_id, tlp=row.tlp, shares=current, share_key=row.share_id)
                except (ValueError, RecursionError):  # text that is not valid Unicode: textcheck.py, migration 0008
                    log.warning("not serving %s (seq %s): it cannot be signed", row.id, row.seq)
                    continue
            obj[nodes.ORIGIN] = origin
            obj[nodes.SHARES] = current
        else:
            if row.signature is not None:
                obj[nodes.ORIGIN] = row.signature
            obj[nodes.SHARES] = row.shares or []  # before migration 0010: not signed, so none (peers refuse it)
            if row.relayed_by:  # so that no node passes it on again (one hop)
                obj[nodes.RELAYED] = row.relayed_by
        out.append(obj)
    return out


def envelope(page: Page, items: Sequence[Any], key: str = "objects") -> dict[str, Any]:
    """A TAXII envelope (or versions resource): the list is left out when empty, as TAXII asks."""
    body: dict[str, Any] = {"more": page.more}
    if page.next:
        body["next"] = page.next
    if items:
        body[key] = list(items)
    return body


def manifest_records(page: Page) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "date_added": stamp(r.added_at),
            "version": version_of(r.modified, r.added_at),
            "media_type": MEDIA_STIX,
        }
        for r in page.rows
    ]


def discovery(session: Session, *, settings: Settings, node: nodes.Node, base: str) -> dict[str, Any]:
    """The discovery resource, with this node's identity and keys and the keys of the nodes it trusts."""
    org: str | None = None
    if settings.node_organisation:
        ref = settings.node_organisation
        org = session.scalar(select(Organisation.id).where(or_(Organisation.id == ref, Organisation.short_name == ref)))
    identity = node.identity(name=settings.node_name, organisation=org)
    identity["peers"] = {nid: dict(keys) for nid, keys in nodes.key_ring(session, node).items() if nid != node.id}
    root = f"{base.rstrip('/')}/taxii2/{API_ROOT}/"
    return {
        "title": settings.node_name,
        "description": f"TAXII 2.1 server of the cybercrisis node {settings.node_name}",
        "default": root,
        "api_roots": [root],
        "x_cybercrisis_node": identity,
    }


def api_root(settings: Settings) -> dict[str, Any]:
    return {
        "title": settings.node_name,
        "description": "Objects shared with your organisation and your communities, under TLP and sharing rules",
        "versions": [MEDIA_TAXII],
        "max_content_length": settings.taxii_max_content_length,
    }
