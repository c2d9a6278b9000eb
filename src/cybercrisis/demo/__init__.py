"""The demo: the shipped directory, a few users, documents and incidents. Loading it twice changes nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis import datadir
from cybercrisis.accounts import security
from cybercrisis.accounts import service as accounts
from cybercrisis.accounts.models import User
from cybercrisis.accounts.service import SYSTEM
from cybercrisis.demo.crises import load_crisis
from cybercrisis.demo.documents import load_documents
from cybercrisis.demo.incidents import load_incidents
from cybercrisis.demo.situation import load_situation
from cybercrisis.demo.users import DEMO_USERS
from cybercrisis.directory.exchange import ImportResult, import_directory, org_id_for_key

DEMO_FILE = Path(__file__).parent.parent / "directory" / "demo_directory.json"


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
        datadir.ensure_private_dir(data_dir)
        datadir.write_private(creds, json.dumps({"password": password, "users": [u[0] for u in DEMO_USERS]}, indent=2))
        if len(wanted) == len(DEMO_USERS):
            load_documents(session)
            load_incidents(session)
            load_situation(session)
            load_crisis(session)
    return DemoResult(result, len(wanted), password)


def _saved_password(path: Path) -> str | None:
    try:
        value = json.loads(path.read_text())["password"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None
