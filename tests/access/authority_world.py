"""The world of the write property test: organisations, users of every role, credentials, and seeded objects.

Built once per test function through the real services and API; a fixed pseudo-random generator picks markings,
share lists and token scopes, so that a run with one --hypothesis-seed is repeatable.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work
from tests.access.authority_rules import ROLES, TLPS
from tests.access.authority_state import Snap
from tests.conftest import World

NOW = datetime.now(UTC).replace(microsecond=0)
COMMUNITIES = {"csirts-network": "technical", "eu-cyclone": "operational", "ipcr": "political"}
# short name: (type, country, communities, parent)
ORGS: dict[str, tuple[str, str | None, tuple[str, ...], str | None]] = {
    "CERT-FR": ("national-csirt", "FR", ("csirts-network",), None),
    "CERT-Bund": ("national-csirt", "DE", ("csirts-network",), None),
    "ANSSI-CRISIS": ("crisis-authority", "FR", ("eu-cyclone",), None),
    "ENISA": ("eu-body", None, ("csirts-network", "eu-cyclone"), None),
    "PRESIDENCY": ("eu-body", None, ("ipcr",), None),
    "FR-HOSPITAL": ("entity", "FR", (), "CERT-FR"),
    "DE-GRID": ("entity", "DE", (), "CERT-Bund"),
    "OFAC": ("law-enforcement", "FR", (), None),
    "OFAC-LYON": ("law-enforcement", "FR", (), "OFAC"),
}
WORKING_ROLES = ("viewer", "analyst", "coordinator", "org-admin")
STAGES = ["csirts-network", "eu-cyclone", "ipcr-information-sharing"]


@dataclass(frozen=True)
class Cred:
    """A way to act as a user: an API token (`Authorization: Bearer`) or a web session (cookie and CSRF token)."""

    user_id: str
    kind: str  # token | session
    secret: str
    token_id: str | None = None
    csrf: str | None = None


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    json: Any = None
    form: dict[str, Any] | None = None
    files: dict[str, Any] | None = None

    @property
    def page(self) -> bool:
        return not self.path.startswith("/api/")


@dataclass
class Registry:
    """Everything the test may point a write at, in the order it came to exist (so a seed replays the same run)."""

    org: dict[str, str] = field(default_factory=dict)  # short name -> id
    users: list[str] = field(default_factory=list)
    creds: dict[str, list[Cred]] = field(default_factory=dict)
    ids: dict[str, list[str]] = field(default_factory=dict)  # table -> ids
    tokens: list[str] = field(default_factory=list)
    counter: int = 0

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def of(self, table: str) -> list[str]:
        return self.ids.setdefault(table, [])

    def learn(self, before: Snap, after: Snap) -> None:
        """Register what a write created: objects by table, users, tokens (a token's text comes with its answer)."""
        new = [o for o in after.objs.values() if o.id not in before.objs]
        for o in sorted(new, key=lambda o: (o.table, str(after.rows[o.id].get("created_at")), o.id)):
            self.of(o.table).append(o.id)
        self.users += sorted(set(after.users) - set(before.users), key=lambda u: after.users[u].email)
        self.tokens += sorted(set(after.tokens) - set(before.tokens))


def send(client: TestClient, cred: Cred | None, req: Request) -> Response:
    headers = {"Accept": "application/json"} if not req.page else {"Accept": "text/html"}
    client.cookies.clear()
    if cred is not None and cred.kind == "token":
        headers["Authorization"] = f"Bearer {cred.secret}"
    form = dict(req.form or {})
    if cred is not None and cred.kind == "session":
        headers["Cookie"] = f"cc_session={cred.secret}"
        if req.page:
            form["csrf_token"] = cred.csrf
    if req.page:
        return client.request(req.method, req.path, data=form, files=req.files, headers=headers, follow_redirects=False)
    if req.files is not None:
        return client.request(req.method, req.path, data=form, files=req.files, headers=headers)
    return client.request(req.method, req.path, json=req.json, headers=headers)


# --- building -----------------------------------------------------------------------------------------------------


def escalation_model(world: World, path: Path) -> Path:
    model = {
        "note": "authority property test",
        "stages": [
            {
                "key": "csirts-network",
                "label": "CSIRTs Network",
                "level": "technical",
                "community": "csirts-network",
                "notify": ["csirts-network"],
            },
            {
                "key": "eu-cyclone",
                "label": "EU-CyCLONe",
                "level": "operational",
                "community": "eu-cyclone",
                "notify": ["eu-cyclone"],
            },
            {
                "key": "ipcr-information-sharing",
                "label": "IPCR information sharing",
                "level": "political",
                "community": "ipcr",
                "approvers": [world.orgs["PRESIDENCY"]],
                "exit_approvers": [world.orgs["PRESIDENCY"]],
                "notify": ["ipcr"],
            },
        ],
    }
    path.write_text(json.dumps(model))
    return path


def build(
    world: World,
    factory: sessionmaker[Session],
    settings: Settings,
    tmp_path: Path,
    rng: random.Random,
    client: TestClient,
) -> Registry:
    from cybercrisis.accounts import login
    from cybercrisis.accounts import service as accounts
    from cybercrisis.accounts.models import User
    from cybercrisis.accounts.service import SYSTEM

    reg = Registry()
    for slug, level in COMMUNITIES.items():
        world.community(slug, level)
    for short, (type_, country, comms, parent) in ORGS.items():
        reg.org[short] = world.org(short, type_=type_, country=country, communities=comms, parent=parent)
    settings.escalation_model = escalation_model(world, tmp_path / "escalation.json")
    people = [(short, (role,)) for short in ORGS for role in WORKING_ROLES] + [("ENISA", ("platform-admin",))]
    for short, roles in people:
        actor = world.user(short, roles=roles, email=f"{roles[0]}@{short.lower()}.example")
        reg.users.append(actor.user_id)
        with unit_of_work(factory) as s:
            token_id = s.scalar(_token_id_of(actor.user_id))
            narrow = [p for p in sorted(ROLES[roles[0]]) if rng.random() < 0.6]
            text, token = accounts.create_token(
                s, actor=SYSTEM, user_ref=actor.user_id, scopes=narrow or None, expires_days=30
            )
            user = s.get(User, actor.user_id)
            assert user is not None
            secret, row = login.create_web_session(s, user=user, hours=12)
            reg.creds[actor.user_id] = [
                Cred(actor.user_id, "token", actor.token, token_id),
                Cred(actor.user_id, "token", text, token.id),
                Cred(actor.user_id, "session", secret, csrf=row.csrf_token),
            ]
            reg.tokens += [token_id, token.id]
    Seeder(client, reg, rng).run()
    return reg


def _token_id_of(user_id: str) -> Any:
    from sqlalchemy import select

    from cybercrisis.accounts.models import ApiToken

    return select(ApiToken.id).where(ApiToken.user_id == user_id)


# --- seeding ------------------------------------------------------------------------------------------------------


def user_of(reg: Registry, short: str, role: str) -> Cred:
    """The full token of the user with `role` in organisation `short`."""
    index = list(ORGS).index(short) * len(WORKING_ROLES) + WORKING_ROLES.index(role)
    return reg.creds[reg.users[index]][0]


def random_share(rng: random.Random, reg: Registry, tlp: str, *, users: bool = True) -> dict[str, list[str]]:
    orgs = [o for o in reg.org.values() if rng.random() < 0.25]
    comms = [c for c in COMMUNITIES if rng.random() < 0.3]
    named = [u for u in reg.users if rng.random() < 0.06] if users else []
    if tlp == "red":
        return {"organisations": [], "communities": [], "users": named}
    if tlp == "amber+strict":
        return {"organisations": orgs, "communities": [], "users": named}
    return {"organisations": orgs, "communities": comms, "users": named}


class Seeder:
    """Objects of every kind, through the API as their owners would create them."""

    WRITERS = ("CERT-FR", "CERT-Bund", "ANSSI-CRISIS", "ENISA", "FR-HOSPITAL", "PRESIDENCY")
    RECORDERS = ("CERT-FR", "CERT-Bund", "ANSSI-CRISIS", "ENISA")

    def __init__(self, client: TestClient, reg: Registry, rng: random.Random) -> None:
        self.client, self.reg, self.rng = client, reg, rng
        self.incidents: list[tuple[str, str, int]] = []  # id, owner, number (its observables' names)

    def post(self, short: str, role: str, path: str, body: dict[str, Any] | None = None) -> str | None:
        r = send(self.client, user_of(self.reg, short, role), Request("POST", path, json=body))
        return r.json()["id"] if r.status_code in (200, 201) and "id" in r.json() else None

    def share(self, tlp: str, *, users: bool = True) -> dict[str, list[str]]:
        return random_share(self.rng, self.reg, tlp, users=users)

    def run(self) -> None:
        for step in (
            self.documents,
            self.incidents_,
            self.alerts,
            self.crises,
            self.assistance,
            self.comms,
            self.handoffs,
        ):
            step()

    def documents(self) -> None:
        for n in range(8):
            tlp = self.rng.choice(TLPS)
            self.post(
                self.rng.choice(self.WRITERS),
                "analyst",
                "/api/v1/documents",
                {"title": f"SOP {n}", "body": "text", "kind": "sop", "tlp": tlp, "share_with": self.share(tlp)},
            )
        for n in range(3):
            tlp = self.rng.choice(TLPS)
            self.post(
                self.rng.choice(self.WRITERS),
                "analyst",
                "/api/v1/capabilities",
                {"kind": "forensics", "title": f"Team {n}", "tlp": tlp, "share_with": self.share(tlp)},
            )

    def incidents_(self) -> None:
        for n in range(9):
            tlp = self.rng.choice(TLPS)
            owner = self.rng.choice(self.RECORDERS)
            entity = self.rng.choice([None, self.reg.org["FR-HOSPITAL"], self.reg.org["DE-GRID"]])
            body = {
                "title": f"Incident {n}",
                "tlp": tlp,
                "aware_at": (NOW - timedelta(hours=5)).isoformat(),
                "countries": ["FR"],
                "entity": entity,
                "suspected_malicious": self.rng.random() < 0.7,
                "observables": [{"type": "domain-name", "value": f"seed{n}-{i}.evil.example"} for i in range(2)],
                "share_with": self.share(tlp),
            }
            iid = self.post(owner, "analyst", "/api/v1/incidents", body)
            if iid:
                self.incidents.append((iid, owner, n))

    def alerts(self) -> None:
        for n in range(4):
            tlp = self.rng.choice(["clear", "green", "amber", "amber+strict"])
            share = self.share(tlp, users=False)
            self.post(
                self.rng.choice(self.WRITERS),
                "analyst",
                "/api/v1/alerts",
                {
                    "title": f"Alert {n}",
                    "tlp": tlp,
                    "recipients": {
                        "organisations": share["organisations"] or [self.reg.org["CERT-Bund"]],
                        "communities": share["communities"],
                    },
                },
            )

    def crises(self) -> None:
        for n in range(6):
            tlp = self.rng.choice(["green", "amber", "amber", "amber+strict", "red", "clear"])
            owner = self.rng.choice(self.RECORDERS)
            share = self.share(tlp)
            if tlp != "red" and self.rng.random() < 0.5:  # the Presidency reads it: it may be asked to agree
                share["organisations"] = sorted({*share["organisations"], self.reg.org["PRESIDENCY"]})
            mine = [i for i, o, _n in self.incidents if o == owner][:2]
            cid = self.post(
                owner,
                "coordinator",
                "/api/v1/crises",
                {
                    "title": f"Crisis {n}",
                    "justification": "cross-border",
                    "tlp": tlp,
                    "share_with": share,
                    "incidents": mine,
                    "suspected_criminal": self.rng.random() < 0.6,
                },
            )
            if cid is None:
                continue
            if self.rng.random() < 0.7:
                to = self.rng.choice(["eu-cyclone", "ipcr-information-sharing"])
                self.post(owner, "coordinator", f"/api/v1/crises/{cid}/escalations", {"to": to, "rationale": "r"})
            self.post(
                owner,
                "analyst",
                f"/api/v1/crises/{cid}/actions",
                {"title": "Coordinate", "assignee": self.reg.org[owner]},
            )

    def assistance(self) -> None:
        for _ in range(3):
            tlp = self.rng.choice(["green", "amber", "amber+strict"])
            share = self.share(tlp, users=False)
            owner = self.rng.choice(["CERT-FR", "CERT-Bund", "ANSSI-CRISIS"])
            rid = self.post(
                owner,
                "analyst",
                "/api/v1/assistance-requests",
                {
                    "needs": ["forensics", "incident-response"],
                    "description": "help",
                    "tlp": tlp,
                    "recipients": {
                        "organisations": share["organisations"] or [self.reg.org["ENISA"]],
                        "communities": share["communities"],
                    },
                },
            )
            for short in ("ENISA", "CERT-Bund", "CERT-FR"):
                if rid and short != owner and self.rng.random() < 0.6:
                    self.post(
                        short,
                        "analyst",
                        f"/api/v1/assistance-requests/{rid}/offers",
                        {"capability": "forensics", "people": 2, "available_from": NOW.isoformat()},
                    )

    def comms(self) -> None:
        for n in range(3):
            tlp = self.rng.choice(["green", "amber", "amber+strict"])
            approvers = [self.reg.org[s] for s in self.rng.sample(self.WRITERS, 2)]
            self.post(
                self.rng.choice(self.WRITERS),
                "analyst",
                "/api/v1/communications",
                {
                    "title": f"Statement {n}",
                    "body": "text",
                    "approvers": approvers,
                    "tlp": tlp,
                    "share_with": self.share(tlp, users=False),
                },
            )

    def handoffs(self) -> None:
        """The recording organisation hands some of its incidents (and an observable) to OFAC; OFAC receives most."""
        for iid, owner, n in self.incidents[:6]:
            hid = self.post(
                owner,
                "analyst",
                "/api/v1/handoffs",
                {
                    "incident": iid,
                    "recipient": self.reg.org["OFAC"],
                    "reason": "criminal",
                    "tlp": self.rng.choice(["amber", "amber+strict"]),
                    "observables": [{"type": "domain-name", "value": f"seed{n}-0.evil.example"}],
                },
            )
            if hid and self.rng.random() < 0.8:
                self.post("OFAC", "analyst", f"/api/v1/handoffs/{hid}/receive")
