"""The evidence package as handed to the police: a manifest (the hand-off, its observables, its files with their
SHA-256 and the chain of custody) and the files themselves as zip members."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.config import Settings
from cybercrisis.db import utcnow
from cybercrisis.directory.models import Organisation
from cybercrisis.handoffs import evidence
from cybercrisis.handoffs.custody import custody_of, files_of, holder_of, is_sealed, org_names
from cybercrisis.handoffs.models import EvidenceFile, Handoff

MANIFEST_FORMAT = "cybercrisis-evidence-manifest/1"


def archive_path(f: EvidenceFile) -> str:
    return f"files/{f.id}-{f.name}"


def _org_dict(org: Organisation | None, org_id: str | None) -> dict[str, Any] | None:
    if org_id is None:
        return None
    if org is None:
        return {"id": org_id}
    return {"id": org.id, "name": org.name, "short_name": org.short_name, "type": org.type, "country": org.country}


def manifest(session: Session, *, reader: Principal, h: Handoff, now: datetime | None = None) -> dict[str, Any]:
    """The evidence manifest to give to the police: the hand-off, observables, files with SHA-256, custody log.

    It names the incident or crisis by id only: the recipient may not be allowed to read them.
    """
    files = files_of(session, h.id)
    entries = custody_of(session, h.id)
    _giver, holder = holder_of(entries)
    orgs = org_names(
        session,
        {h.owner_org_id, h.recipient_org_id, holder, reader.org_id}
        | {e.from_org_id for e in entries}
        | {e.to_org_id for e in entries},
    )
    return {
        "format": MANIFEST_FORMAT,
        "generated_at": (now or utcnow()).isoformat(),
        "generated_for": {
            "user": reader.user_id,
            "organisation": _org_dict(orgs.get(reader.org_id or ""), reader.org_id),
        },
        "marking": TLP(h.tlp).label,
        "handoff": {
            "id": h.id,
            "state": h.state,
            "tlp": h.tlp,
            "reason": h.reason,
            "incident": h.incident_id,
            "crisis": h.crisis_id,
            "created": h.created_at.isoformat(),
            "created_by": h.created_by_id,
            "sender": _org_dict(orgs.get(h.owner_org_id), h.owner_org_id),
            "recipient": _org_dict(orgs.get(h.recipient_org_id), h.recipient_org_id),
            "holder": _org_dict(orgs.get(holder or ""), holder),
            "sealed": is_sealed(entries),
        },
        "observables": [{"type": o["type"], "value": o["value"]} for o in h.observables],
        "files": [
            {
                "id": f.id,
                "name": f.name,
                "media_type": f.media_type,
                "size": f.size,
                "sha256": f.sha256,
                "added_at": f.added_at.isoformat(),
                "added_by": f.added_by_id,
                "archive_path": archive_path(f),
            }
            for f in files
        ],
        "custody": [
            {
                "seq": e.seq,
                "at": e.at.isoformat(),
                "action": e.action,
                "from": _org_dict(orgs.get(e.from_org_id or ""), e.from_org_id),
                "to": _org_dict(orgs.get(e.to_org_id or ""), e.to_org_id),
                "by": e.by_user_id,
                "items": e.items,
                "note": e.note,
            }
            for e in entries
        ],
    }


def zip_members(session: Session, h: Handoff, settings: Settings) -> list[evidence.ZipMember]:
    """The files of a package as zip members; each checked to be in the store with its recorded size."""
    return [
        evidence.ZipMember(archive_path(f), evidence.stored_path(settings.data_dir, f.sha256, f.size), f.sha256)
        for f in files_of(session, h.id)
    ]
