"""STIX 2.1 bundles: one incident, early warning or situation report as the reader may see it, and the export of
everything a reader may see, written as it goes (`BundleWriter`)."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.alerts.models import Alert
from cybercrisis.config import Settings
from cybercrisis.directory.models import Organisation
from cybercrisis.exchange.stix import alert_report, incident_objects, load_incidents, sitrep_report
from cybercrisis.exchange.stix_common import (
    ALERT_EXTENSION_ID,
    EXTENSION_ID,
    MARKING_TLP,
    NAMESPACE,
    NEW_SDOS,
    alert_extension_definition,
    chunks,
    extension_definition,
    identity,
    marking_definition,
    new_sdo_definition,
    product_identity,
)
from cybercrisis.incidents.models import Incident
from cybercrisis.situation import sitreps, sources
from cybercrisis.situation.models import Sitrep

MEDIA_TYPE = "application/stix+json;version=2.1"


class BundleWriter:
    """Writes a bundle as it goes: each object once (by id); at the end the identities, TLP marking-definitions
    and extension definition the objects refer to, and a bundle id derived from the content, so that the same
    content always gives the same bytes. Memory holds ids, not objects: fit for exports of any size."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.ids: set[str] = set()
        self.identities: set[str] = set()
        self.markings: set[TLP] = set()
        self.extensions: set[str] = set()
        self.counts: dict[str, int] = defaultdict(int)
        self.digest = hashlib.sha256()
        out.write('{"type": "bundle", "objects": [')

    def add(self, obj: Any) -> None:
        if obj["id"] in self.ids:
            return
        self.ids.add(obj["id"])
        self.counts[obj["type"]] += 1
        for key in ("created_by_ref", "source_ref", "target_ref"):
            ref = obj.get(key)
            if ref and ref.startswith("identity--"):
                self.identities.add(ref)
        self.identities.update(r for r in obj.get("object_refs", ()) if r.startswith("identity--"))
        self.markings.update(MARKING_TLP[r] for r in obj.get("object_marking_refs", ()) if r in MARKING_TLP)
        self.extensions.update(obj.get("extensions") or {})
        text = json.dumps(obj, sort_keys=True) if isinstance(obj, dict) else obj.serialize()
        self.digest.update(text.encode())
        self.out.write(("\n" if len(self.ids) == 1 else ",\n") + text)

    def add_all(self, objects: Iterable[Any]) -> None:
        for obj in objects:
            self.add(obj)

    def finish(self, session: Session) -> str:
        """Add what the objects refer to and close the bundle; returns its id."""
        wanted = sorted(self.identities - self.ids)
        for n in range(0, len(wanted), 500):
            orgs = session.scalars(select(Organisation).where(Organisation.id.in_(wanted[n : n + 500])))
            self.add_all(identity(o) for o in sorted(orgs, key=lambda o: o.id))
        if EXTENSION_ID in self.extensions:
            self.add_all([product_identity(), extension_definition()])
        if ALERT_EXTENSION_ID in self.extensions:
            self.add_all([product_identity(), alert_extension_definition()])
        for ext in NEW_SDOS:  # our new SDOs' definitions, in a fixed order
            if ext in self.extensions:
                self.add_all([product_identity(), new_sdo_definition(ext)])
        for tlp in TLP:  # the marking-definitions last: the objects above may have added CLEAR or GREEN
            if tlp in self.markings:
                self.add(marking_definition(tlp))
        bundle_id = f"bundle--{uuid.uuid5(NAMESPACE, self.digest.hexdigest())}"
        self.out.write(f'\n], "id": "{bundle_id}"}}\n')
        return bundle_id


def _visible_incidents(session: Session, reader: Principal, ids: Iterable[str]) -> set[str]:
    wanted = sorted(set(ids))
    visible: set[str] = set()
    for chunk in chunks(wanted):
        visible.update(
            session.scalars(select(Incident.id).where(Incident.id.in_(chunk), read_filter(reader, Incident)))
        )
    return visible


def sitrep_objects(session: Session, view: sitreps.SitrepView, reader: Principal) -> list[Any]:
    inputs = sources.thaw(session, sitrep_id=view.sitrep.id, build=view.version.build, reader=reader)
    return [sitrep_report(view, [i.id for i in inputs.incidents])]


def _bundle(session: Session, objects: list[Any]) -> str:
    buf = io.StringIO()
    writer = BundleWriter(buf)
    writer.add_all(objects)
    writer.finish(session)
    return buf.getvalue()


def incident_bundle(session: Session, *, reader: Principal, incident_id: str) -> str:
    """The incident as a STIX 2.1 bundle (JSON text), if the reader may see it; NotFound otherwise."""
    from cybercrisis.incidents.common import get_incident

    incident = get_incident(session, principal=reader, incident_id=incident_id)
    return _bundle(session, incident_objects(load_incidents(session, [incident])[0]))


def alert_bundle(session: Session, *, reader: Principal, alert_id: str) -> str:
    from cybercrisis.access import sharing

    alert = sharing.get_readable(session, reader, Alert, alert_id)
    visible = bool(alert.incident_id) and bool(_visible_incidents(session, reader, [alert.incident_id or ""]))
    return _bundle(session, [alert_report(alert, incident_visible=visible)])


def sitrep_bundle(
    session: Session, *, reader: Principal, sitrep_id: str, settings: Settings, version: int | None = None
) -> str:
    view = sitreps.view(session, reader=reader, sitrep_id=sitrep_id, settings=settings, version=version)
    return _bundle(session, sitrep_objects(session, view, reader))


@dataclass(slots=True)
class ExportCounts:
    incidents: int = 0
    observables: int = 0
    reports: int = 0
    alerts: int = 0
    sitreps: int = 0
    objects: int = 0


def export_all(
    session: Session,
    writer: BundleWriter,
    *,
    reader: Principal,
    settings: Settings,
    since: datetime | None = None,
    batch: int = 200,
) -> ExportCounts:
    """Every incident, alert and published situation report the reader may see (changed since `since`), in
    keyset-paged batches; the session is cleared after each batch so memory stays flat."""
    counts = ExportCounts()
    for model in (Incident, Alert, Sitrep):
        last = ""
        while True:
            query = select(model).where(read_filter(reader, model), model.id > last)
            if since is not None:
                query = query.where(model.modified_at >= since)
            if model is Sitrep:
                query = query.where(Sitrep.published_version.is_not(None))
            rows: list[Any] = list(session.scalars(query.order_by(model.id).limit(batch)))
            if not rows:
                break
            last = rows[-1].id
            if model is Incident:
                for d in load_incidents(session, rows):
                    writer.add_all(incident_objects(d))
                    counts.incidents += 1
                    counts.observables += len(d.observables)
                    counts.reports += len(d.reports)
            elif model is Alert:
                visible = _visible_incidents(session, reader, [a.incident_id for a in rows if a.incident_id])
                for a in rows:
                    writer.add(alert_report(a, incident_visible=a.incident_id in visible))
                    counts.alerts += 1
            else:
                for s in rows:
                    view = sitreps.view(
                        session, reader=reader, sitrep_id=s.id, settings=settings, version=s.published_version
                    )
                    writer.add_all(sitrep_objects(session, view, reader))
                    counts.sitreps += 1
            session.expunge_all()
    counts.objects = len(writer.ids)
    return counts
