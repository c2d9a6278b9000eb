"""MISP export: an incident as a MISP event, for the MISP instances most CSIRTs run."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from cybercrisis.deps import DB, CurrentPrincipal
from cybercrisis.exchange import misp

router = APIRouter(prefix="/api/v1", tags=["exchange"])

_EXAMPLE = {
    "Event": {
        "uuid": "0f2d9c55-3d7a-4c3b-9a37-2f64a0b0c6d1",
        "info": "Ransomware at a grid operator",
        "date": "2026-11-27",
        "timestamp": "1795766400",
        "publish_timestamp": "1795766400",
        "published": False,
        "threat_level_id": "1",
        "analysis": "1",
        "distribution": "0",
        "Orgc": {"name": "CERT-FR", "uuid": "7d5f4c2e-0b1a-4d6e-8f3a-1c2b3d4e5f60"},
        "Org": {"name": "CERT-FR", "uuid": "7d5f4c2e-0b1a-4d6e-8f3a-1c2b3d4e5f60"},
        "Tag": [{"name": "tlp:amber+strict"}, {"name": 'rsit:malicious-code="infected-system"'}],
        "Attribute": [
            {
                "uuid": "5a8e1f0c-6b2d-5c3e-9f4a-0b1c2d3e4f50",
                "type": "ip-dst",
                "category": "Network activity",
                "value": "198.51.100.7",
                "to_ids": True,
                "distribution": "5",
                "timestamp": "1795762800",
            },
        ],
        "EventReport": [{"name": "NIS2 early warning (version 1)", "content": "Submitted ...\n\n## Summary\n\n..."}],
    }
}


@router.get(
    "/incidents/{incident_id}/misp",
    operation_id="export_incident_misp",
    responses={200: {"description": "The MISP event", "content": {"application/json": {"example": _EXAMPLE}}}},
)
def export_incident_misp(incident_id: str, db: DB, principal: CurrentPrincipal) -> dict[str, Any]:
    """The incident as a MISP event (`{"Event": {...}}`, the JSON of MISP's REST API and feeds; `pymisp` loads it).

    - `uuid` is the incident id's uuid, so every export of one incident is the same MISP event.
    - `info` = title; `date` = day it occurred (else day of awareness); `timestamp` = `publish_timestamp` = last
      modification; `published` is false, so an importing MISP does not publish and sync it by itself.
    - `threat_level_id`: NIS threat severity high 1, medium 2, low 3, none 4 (undefined).
      `analysis`: new/triage 0 (initial), ongoing/contained 1 (ongoing), resolved/closed 2 (completed).
    - `distribution`: TLP RED, AMBER+STRICT and AMBER 0 (your organisation only), GREEN 1 (this community
      only), CLEAR 3 (all communities); attributes inherit it (5).
    - `Orgc`/`Org`: the owner organisation (short name; uuid of its `identity--` id).
    - Tags: `tlp:<label>` (TLP 2.0), `PAP:<label>`, `rsit:...`, `nis:...`, `nis2:...` machine tags and the
      incident's own tags.
    - Attributes: one per observable: ip-dst (IPv4/IPv6, CIDR), domain, url, email, md5, sha1, sha256
      (to_ids true; internal addresses false), vulnerability (CVE) and AS (number only), to_ids false.
    - Event reports: the description and each submitted NIS2 report, in Markdown.

    An incident the caller may not read is 404, as everywhere.
    """
    return misp.incident_event(db, principal=principal, incident_id=incident_id)
