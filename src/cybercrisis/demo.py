"""The demo: the shipped directory, a few users and documents. Loading it twice changes nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access.schemas import ShareWith
from cybercrisis.accounts import security
from cybercrisis.accounts import service as accounts
from cybercrisis.accounts.models import User
from cybercrisis.accounts.service import SYSTEM
from cybercrisis.directory.exchange import ImportResult, import_directory, org_id_for_key
from cybercrisis.documents import service as documents

DEMO_FILE = Path(__file__).parent / "directory" / "demo_directory.json"

# (e-mail, organisation key, roles, display name). Role accounts, not people.
DEMO_USERS = [
    ("admin@cert-fr.example", "fr-csirt", ["org-admin"], "CERT-FR administrator"),
    ("analyst@cert-fr.example", "fr-csirt", ["analyst"], "CERT-FR duty analyst"),
    ("analyst@cert-bund.example", "de-csirt", ["analyst"], "CERT-Bund duty analyst"),
    ("coordinator@enisa.example", "enisa", ["coordinator"], "ENISA CSIRTs Network secretariat"),
    ("operator@enisa.example", "enisa", ["platform-admin"], "Platform operator"),
    ("viewer@cert-ee.example", "ee-csirt", ["viewer"], "CERT-EE viewer"),
]


@dataclass(frozen=True)
class DemoResult:
    directory: ImportResult
    users_created: int
    password: str | None  # set on the first load only


def credentials_file(data_dir: Path) -> Path:
    return data_dir / "demo-credentials.json"


def load(session: Session, *, data_dir: Path) -> DemoResult:
    result = import_directory(session, actor=SYSTEM, text=DEMO_FILE.read_text(encoding="utf-8"), fmt="json")
    existing = set(session.scalars(select(User.email)))
    wanted = [u for u in DEMO_USERS if u[0] not in existing]
    password = None
    if wanted:
        creds = credentials_file(data_dir)
        password = _saved_password(creds) or security.generate_password()
        for email, key, roles, name in wanted:
            accounts.create_user(
                session,
                actor=SYSTEM,
                org_ref=org_id_for_key(key),
                email=email,
                roles=roles,
                password=password,
                display_name=name,
            )
        data_dir.mkdir(parents=True, exist_ok=True)
        creds.write_text(json.dumps({"password": password, "users": [u[0] for u in DEMO_USERS]}, indent=2))
        creds.chmod(0o600)
        if len(wanted) == len(DEMO_USERS):
            _documents(session)
    return DemoResult(result, len(wanted), password)


def _saved_password(path: Path) -> str | None:
    try:
        value = json.loads(path.read_text())["password"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


def _documents(session: Session) -> None:
    def as_user(email: str):  # type: ignore[no-untyped-def]
        user = session.scalars(select(User).where(User.email == email)).one()
        return accounts.principal_for(session, user)

    fr = as_user("analyst@cert-fr.example")
    de = as_user("analyst@cert-bund.example")
    documents.create_document(
        session,
        actor=fr,
        kind="sop",
        tlp="green",
        share_with=ShareWith(),
        title="CERT-FR: SOP for cross-border incident notification",
        body="1. Confirm the incident is significant (NIS2 Art. 23(3)).\n2. Send the early warning within 24 h.\n"
        "3. Inform the CSIRTs Network where a cross-border impact is possible.\n4. Record every step here.",
    )
    documents.create_document(
        session,
        actor=fr,
        kind="crisis-plan",
        tlp="amber+strict",
        share_with=ShareWith(organisations=[org_id_for_key("fr-crisis")]),
        title="National cyber crisis plan: activation thresholds (extract)",
        body="Extract of the national plan shared with the national crisis authority only.",
    )
    documents.create_document(
        session,
        actor=de,
        kind="contact-sheet",
        tlp="red",
        share_with=ShareWith(users=["analyst@cert-fr.example"]),
        title="Bilateral out-of-band contact sheet DE-FR",
        body="Out-of-band channel for the duty analysts of CERT-Bund and CERT-FR.",
    )
    documents.create_document(
        session,
        actor=de,
        kind="sop",
        tlp="clear",
        share_with=ShareWith(),
        title="Public guidance: reporting a cyber incident",
        body="Essential and important entities report significant incidents to their national CSIRT.",
    )
