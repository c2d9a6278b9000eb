"""The demo's incidents: several Member States, a cross-border cluster, overdue and submitted reports."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis import demo
from cybercrisis.access.principal import Principal
from cybercrisis.accounts import service as accounts
from cybercrisis.accounts.models import User
from cybercrisis.db import unit_of_work, utcnow
from cybercrisis.incidents import service
from cybercrisis.incidents.models import Incident


@pytest.fixture
def loaded(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    with unit_of_work(session_factory) as s:
        demo.load(s, data_dir=tmp_path)


def as_user(db: Session, email: str) -> Principal:
    return accounts.principal_for(db, db.scalars(select(User).where(User.email == email)).one())


def by_title(db: Session, start: str) -> Incident:
    return db.scalars(select(Incident).where(Incident.title.startswith(start))).one()


def test_demo_has_correlated_cross_border_and_overdue_incidents(loaded: None, db: Session) -> None:
    fr = as_user(db, "analyst@cert-fr.example")
    de = as_user(db, "analyst@cert-bund.example")
    incidents = db.scalars(select(Incident)).all()
    assert len(incidents) == len(demo.SCENARIOS) >= 6
    assert {"FR", "DE", "NL", "IT", "ES", "EE"} <= {c for i in incidents for c in i.countries}

    ransomware = by_title(db, "Ransomware at CH Bellerive")
    linked = {c.incident.title for c in service.correlations(db, principal=fr, incident_id=ransomware.id)}
    assert "VPN gateways compromised via CVE-2024-3400 at Nordlicht Energie" in linked
    cluster = service.cluster(db, principal=fr, incident_id=ransomware.id)
    assert {c for i in cluster for c in i.countries} == {"FR", "DE", "NL"}

    # The AMBER+STRICT incident shares an address with the cluster, but only its owner sees the link.
    strict = by_title(db, "Data exfiltration from the engineering network")
    assert strict.tlp == "amber+strict"
    assert strict.id not in {i.id for i in cluster}
    assert strict.id in {i.id for i in service.cluster(db, principal=de, incident_id=ransomware.id)}

    overdue = service.deadlines_for(db, principal=fr, status="overdue")
    assert {(r.kind, i.title.split(":")[0]) for r, i in overdue} >= {
        ("notification", "Ransomware at CH Bellerive"),
        ("early-warning", "VPN gateways compromised via CVE-2024-3400 at Nordlicht Energie"),
    }
    now = utcnow()
    tulpbank = {r.kind: r.status_at(now) for r in service.reports_of(db, by_title(db, "Unauthorised access").id)}
    assert tulpbank["early-warning"] == "late" and tulpbank["notification"] == "on-time"
    assert service.assess(db, by_title(db, "Phishing wave"), None).suggest_escalation
