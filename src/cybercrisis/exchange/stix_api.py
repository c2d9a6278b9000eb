"""STIX 2.1 export: an incident, an early warning or a situation report as a bundle, as the reader may see it.

An object the reader may not see answers 404, exactly as its own route does. The mapping: docs/exchange.md.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from cybercrisis.config import Settings
from cybercrisis.deps import DB, CurrentPrincipal
from cybercrisis.exchange.stix_bundles import MEDIA_TYPE, alert_bundle, incident_bundle, sitrep_bundle

router = APIRouter(prefix="/api/v1", tags=["exchange"])

_BUNDLE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A STIX 2.1 bundle; it validates with the OASIS stix2-validator.",
        "content": {MEDIA_TYPE: {"schema": {"type": "object"}}},
    },
    404: {"description": "No such object, or one you may not see."},
}


def _stix(text: str) -> Response:
    return Response(content=text.encode(), media_type=MEDIA_TYPE)


@router.get(
    "/incidents/{incident_id}/stix", operation_id="export_incident_stix", response_class=Response, responses=_BUNDLE
)
def export_incident_stix(incident_id: str, db: DB, principal: CurrentPrincipal) -> Response:
    """The incident as a STIX 2.1 bundle: an `incident` with the OASIS Incident Core extension and our NIS2
    extension, its TLP 2.0 marking-definition, taxonomy tags as `labels`, observables as SCOs (CVEs as
    `vulnerability`) linked by `related-to`, countries as `location`s, the affected entity and the owner as
    `identity` objects, and its submitted NIS2 reports as `note`s. The same data always gives the same bundle."""
    return _stix(incident_bundle(db, reader=principal, incident_id=incident_id))


@router.get("/alerts/{alert_id}/stix", operation_id="export_alert_stix", response_class=Response, responses=_BUNDLE)
def export_alert_stix(alert_id: str, db: DB, principal: CurrentPrincipal) -> Response:
    """An early warning as a STIX `report` with its text and marking; it refers to its incident only when you
    may see that incident (otherwise to its author)."""
    return _stix(alert_bundle(db, reader=principal, alert_id=alert_id))


@router.get("/sitreps/{sitrep_id}/stix", operation_id="export_sitrep_stix", response_class=Response, responses=_BUNDLE)
def export_sitrep_stix(
    sitrep_id: str,
    db: DB,
    principal: CurrentPrincipal,
    request: Request,
    version: Annotated[int | None, Query(ge=1, description="default: the version you see by default")] = None,
) -> Response:
    """A situation report as you see it: a STIX `report` with your marking (the strictest of the report and of
    the sources you may see), your figures, and `object_refs` to the source incidents you may see only."""
    settings: Settings = request.app.state.settings
    return _stix(sitrep_bundle(db, reader=principal, sitrep_id=sitrep_id, settings=settings, version=version))
