"""A cast for coordinated public communication: an author, two approver organisations and an outsider."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.config import Settings
from tests.conftest import Actor, World
from tests.notify.helpers import add_route

Cast = dict[str, Actor]
PUBLIC_BASE = "https://cybercrisis.example.eu/"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The public feed's absolute links come from public_base_url."""
    settings.public_base_url = PUBLIC_BASE
    return settings


@pytest.fixture
def cast(world: World, session_factory: sessionmaker[Session]) -> Cast:
    world.org("CERT-FR", country="FR")  # drafts the statements
    world.org("CERT-Bund", country="DE")  # approver
    world.org("ENISA", type_="eu-body", country=None)  # approver
    world.org("CERT-EE", country="EE")  # neither: must never see a draft
    for short, org_id in world.orgs.items():
        add_route(session_factory, org_id, "email", f"comms@{short.lower()}.example", ("comms:*",))
    return {
        "fr": world.user("CERT-FR"),
        "fr_coord": world.user("CERT-FR", roles=("coordinator",)),
        "fr_viewer": world.user("CERT-FR", roles=("viewer",)),
        "de": world.user("CERT-Bund"),
        "de_coord": world.user("CERT-Bund", roles=("coordinator",)),
        "enisa_coord": world.user("ENISA", roles=("coordinator",)),
        "ee_coord": world.user("CERT-EE", roles=("coordinator",)),
    }


def statement(cast: Cast, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "statement",
        "title": "Ransomware at grid operators: what the public should know",
        "body": "Two grid operators were hit by ransomware.\nPower supply is not affected.",
        "language": "en",
        "translations": {
            "fr": {"title": "Rançongiciel chez des gestionnaires de réseau", "body": "Deux gestionnaires touchés."},
        },
        "approvers": [cast["de_coord"].org_id, cast["enisa_coord"].org_id],
        "embargo_until": None,
        "tlp": "amber",
    }
    body.update(over)
    return body


def draft(client: TestClient, cast: Cast, author: str = "fr", **over: Any) -> dict[str, Any]:
    r = client.post("/api/v1/communications", json=statement(cast, **over), headers=cast[author].headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def verdict(
    client: TestClient, actor: Actor, comm: dict[str, Any], version: int | None = None, comment: str | None = None
) -> Any:
    """Approve (no comment) or request changes (with one); returns the response. Approving confirms translations
    the statement says lag behind its text (test_stale_translations.py checks that this is needed)."""
    path = "approve" if comment is None else "request-changes"
    body: dict[str, Any] = {"version": version or comm["version"]}
    if comment is not None:
        body["comment"] = comment
    elif comm.get("stale_translations"):
        body["confirm_stale_translations"] = True
    return client.post(f"/api/v1/communications/{comm['id']}/{path}", json=body, headers=actor.headers)


def approve_all(client: TestClient, cast: Cast, comm: dict[str, Any]) -> dict[str, Any]:
    for who in ("de_coord", "enisa_coord"):
        r = verdict(client, cast[who], comm)
        assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    assert out["state"] == "approved" and out["waiting_for"] == []
    return out


def rows(db: Session, model: type[Any], *where: Any) -> list[Any]:
    """Rows as committed now (ends the session's snapshot first)."""
    db.rollback()
    return list(db.scalars(select(model).where(*where)))
