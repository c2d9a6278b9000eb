"""The demo's users: role accounts of the demo directory, and each as a principal."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access.principal import Principal
from cybercrisis.accounts import service as accounts
from cybercrisis.accounts.models import User

# (e-mail, organisation key, roles, display name). Role accounts, not people.
DEMO_USERS = [
    ("admin@cert-fr.example", "fr-csirt", ["org-admin"], "CERT-FR administrator"),
    ("analyst@cert-fr.example", "fr-csirt", ["analyst"], "CERT-FR duty analyst"),
    ("analyst@cert-bund.example", "de-csirt", ["analyst"], "CERT-Bund duty analyst"),
    ("analyst@ncsc-nl.example", "nl-csirt", ["analyst"], "NCSC-NL duty analyst"),
    ("analyst@cert-ee.example", "ee-csirt", ["analyst"], "CERT-EE duty analyst"),
    ("coordinator@enisa.example", "enisa", ["coordinator"], "ENISA CSIRTs Network secretariat"),
    ("operator@enisa.example", "enisa", ["platform-admin"], "Platform operator"),
    ("viewer@cert-ee.example", "ee-csirt", ["viewer"], "CERT-EE viewer"),
    # Situational awareness: a second ENISA coordinator (four eyes on reports) and more national contributors.
    ("secretariat@enisa.example", "enisa", ["coordinator"], "ENISA situational awareness secretariat"),
    ("analyst@csirt-italia.example", "it-csirt", ["analyst"], "CSIRT Italia duty analyst"),
    ("analyst@incibe-cert.example", "es-csirt", ["analyst"], "INCIBE-CERT duty analyst"),
    ("duty@ccb-crisis.example", "be-crisis", ["analyst"], "CCB crisis desk (BE)"),
    ("duty@mc-pl-crisis.example", "pl-crisis", ["analyst"], "Polish cyber crisis desk"),
    # Crisis coordination: the political level, national crisis desks, a SPOC (Reserve requests) and EC3.
    ("duty@council-presidency.example", "council-presidency", ["coordinator"], "Council Presidency crisis desk"),
    ("duty@gsc-ipcr.example", "council-gsc-ipcr", ["coordinator"], "GSC IPCR desk"),
    ("duty@anssi-crisis.example", "fr-crisis", ["coordinator"], "ANSSI cyber crisis desk (FR)"),
    ("duty@bsi-crisis.example", "de-crisis", ["coordinator"], "BSI cyber crisis desk (DE)"),
    ("spoc@anssi.example", "fr-spoc", ["analyst"], "ANSSI single point of contact (FR)"),
    ("press@dg-connect.example", "ec-dg-connect", ["coordinator"], "DG CONNECT spokesperson's office"),
    # ISAA reports are developed by Commission services and the EEAS (Council Recommendation of 6 June 2025,
    # C/2025/3445, recital 3): their drafting desks author the political-level reports.
    ("isaa@dg-connect.example", "ec-dg-connect", ["coordinator"], "DG CONNECT ISAA drafting desk"),
    ("isaa@eeas.example", "eeas", ["coordinator"], "EEAS ISAA drafting desk"),
    ("duty@ec3.example", "europol-ec3", ["analyst"], "Europol EC3 duty officer"),
]


def as_user(session: Session, email: str) -> Principal:
    user = session.scalars(select(User).where(User.email == email)).one()
    return accounts.principal_for(session, user)
