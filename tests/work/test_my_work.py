"""My work (issue 19): what waits on the reader's organisation, over the API and on its page, on the demo.

What the list must hold is computed here from the tables, independently of work/service.py; every item is read
back through the object's own API as the same user (nothing hidden is named), and acting on an item removes it for
the organisation that did it and for nobody else."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis import demo
from cybercrisis.accounts import service as accounts
from cybercrisis.accounts.models import User
from cybercrisis.assistance.models import Offer
from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work
from cybercrisis.incidents.models import Incident, Report
from tests.conftest import bearer_of
from tests.web.conftest import HTML, csrf_on

ENISA, PRESIDENCY = "coordinator@enisa.example", "duty@council-presidency.example"
WITH_WORK = ("analyst@cert-bund.example", "duty@anssi-crisis.example", "duty@bsi-crisis.example")


@pytest.fixture
def demo_db(session_factory: sessionmaker[Session], settings: Settings) -> demo.DemoResult:
    with unit_of_work(session_factory) as s:
        return demo.load(s, data_dir=settings.data_dir)


bearer = bearer_of


def work(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    got = client.get("/api/v1/my-work", headers=headers)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["count"] == len(body["items"])
    return list(body["items"])


def readable_at(item: dict[str, Any]) -> str:
    """The API path of the object an item is about, read as the same user."""
    oid = item["object_id"]
    return {
        "agreement": f"/api/v1/crises/{item['crisis_id']}",
        "statement-approval": f"/api/v1/communications/{oid}",
        "offer-decision": f"/api/v1/assistance-requests/{oid}",
        "assistance-request": f"/api/v1/assistance-requests/{oid}",
        "nis2-report": f"/api/v1/incidents/{oid}",
        "early-warning": f"/api/v1/alerts/{oid}",
        "handoff-receipt": f"/api/v1/handoffs/{oid}",
        "action": f"/api/v1/crises/{item['link'].split('/')[2].split('#')[0]}/actions",
    }[item["kind"]]


def test_every_demo_user_gets_what_waits_on_them_most_urgent_first_and_nothing_they_may_not_read(
    demo_db: demo.DemoResult, client: TestClient, session_factory: sessionmaker[Session], db: Session
) -> None:
    assert client.get("/api/v1/my-work").status_code == 401
    emails = list(db.scalars(select(User.email).order_by(User.email)))
    seen_kinds: set[str] = set()
    for email in emails:
        headers = bearer(session_factory, email)
        items = work(client, headers)
        seen_kinds |= {i["kind"] for i in items}
        # Most urgent first: overdue by deadline, then by deadline, then the rest by age.
        keys = [(0 if i["overdue"] else 1 if i["due_at"] else 2, i["due_at"] or i["since"]) for i in items]
        assert [k[0] for k in keys] == sorted(k[0] for k in keys), email
        for group in (0, 1, 2):
            times = [datetime.fromisoformat(t) for g, t in keys if g == group]
            assert times == sorted(times), (email, group)
        for item in items:
            assert client.get(readable_at(item), headers=headers).status_code == 200, (email, item)

        # The NIS2 reports: every open report with a deadline of an incident the user's organisation recorded or is
        # the affected entity of, for users who may submit them (analysts and admins; viewers may not).
        user = db.scalars(select(User).where(User.email == email)).one()
        due = {
            (incident_id, kind)
            for incident_id, kind in db.execute(
                select(Report.incident_id, Report.kind)
                .join(Incident, Incident.id == Report.incident_id)
                .where(
                    or_(Incident.owner_org_id == user.org_id, Incident.entity_org_id == user.org_id),
                    Report.submitted_at.is_(None),
                    Report.due_at.is_not(None),
                )
            )
        }
        listed = {(i["object_id"], i["link"].rsplit("#report-", 1)[1]) for i in items if i["kind"] == "nis2-report"}
        may_report = "incidents:incident:write" in accounts.principal_for(db, user).permissions
        assert listed == (due if may_report else set()), email
    assert {"nis2-report", "action", "statement-approval", "offer-decision"} <= seen_kinds
    for email in WITH_WORK:
        assert work(client, bearer(session_factory, email)), email


def test_an_item_goes_away_for_the_organisation_that_did_it_and_stays_for_the_others(
    demo_db: demo.DemoResult, client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    bsi, commission = (
        bearer(session_factory, "duty@bsi-crisis.example"),
        bearer(session_factory, "press@dg-connect.example"),
    )
    statement = next(i for i in work(client, bsi) if i["kind"] == "statement-approval")
    assert statement["object_id"] in {i["object_id"] for i in work(client, commission)}
    version = client.get(f"/api/v1/communications/{statement['object_id']}", headers=bsi).json()["version"]
    approved = client.post(
        f"/api/v1/communications/{statement['object_id']}/approve", json={"version": version}, headers=bsi
    )
    assert approved.status_code == 200, approved.text
    assert statement["object_id"] not in {i["object_id"] for i in work(client, bsi)}
    assert statement["object_id"] in {i["object_id"] for i in work(client, commission)}

    anssi = bearer(session_factory, "duty@anssi-crisis.example")
    offers = [i for i in work(client, anssi) if i["kind"] == "offer-decision"]
    assert offers
    request_id = offers[0]["object_id"]
    with unit_of_work(session_factory, write=False) as s:
        offered = list(s.scalars(select(Offer.id).where(Offer.request_id == request_id, Offer.state == "offered")))
    assert offered
    for offer_id in offered:
        decided = client.post(
            f"/api/v1/assistance-requests/{request_id}/offers/{offer_id}/decline",
            json={"comment": "Covered by a national team."},
            headers=anssi,
        )
        assert decided.status_code == 200, decided.text
    assert request_id not in {i["object_id"] for i in work(client, anssi) if i["kind"] == "offer-decision"}


def test_the_presidency_agrees_to_a_crisis_move_from_its_my_work_page(
    demo_db: demo.DemoResult, client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    enisa = bearer(session_factory, ENISA)
    opened = client.post(
        "/api/v1/crises",
        json={
            "title": "Wiper attacks on telecom operators",
            "justification": "Outages in three Member States at once.",
            "criteria": ["multi-member-state-impact"],
        },
        headers=enisa,
    )
    assert opened.status_code == 201, opened.text
    crisis_id = opened.json()["id"]
    for to in ("eu-cyclone", "ipcr-information-sharing"):
        moved = client.post(
            f"/api/v1/crises/{crisis_id}/escalations",
            json={"to": to, "rationale": "Political attention needed across the Union.", "share_with_approvers": True},
            headers=enisa,
        )
        assert moved.status_code == 201, moved.text
    esc_id, waiting = moved.json()["id"], moved.json()["state"]
    assert waiting == "pending"
    presidency = bearer(session_factory, PRESIDENCY)
    item = next(i for i in work(client, presidency) if i["kind"] == "agreement")
    assert (item["object_id"], item["crisis_id"]) == (esc_id, crisis_id)
    assert "IPCR" in item["asked"] and "ipcr-information-sharing" not in item["asked"]  # words, not the key
    # CERT-Bund is not asked: its agreement is not needed.
    assert esc_id not in {i["object_id"] for i in work(client, bearer(session_factory, "analyst@cert-bund.example"))}

    signed = client.post(
        "/login",
        data={"email": PRESIDENCY, "password": demo_db.password, "csrf_token": csrf_on(client, "/login"), "next": "/"},
        headers=HTML,
        follow_redirects=False,
    )
    assert signed.status_code == 303
    page = client.get("/my-work", headers=HTML)
    assert page.status_code == 200 and "Agreement to a crisis move" in page.text and crisis_id in page.text
    agreed = client.post(
        f"/crises/{crisis_id}/escalations/{esc_id}/answer",
        data={"verdict": "agree", "comment": "", "back": "/my-work", "csrf_token": csrf_on(client, "/my-work")},
        headers=HTML,
        follow_redirects=False,
    )
    assert agreed.status_code == 303 and agreed.headers["location"].startswith("/my-work?done=")
    after = client.get(agreed.headers["location"], headers=HTML)
    assert "agreement was recorded" in after.text and esc_id not in after.text
    assert esc_id not in {i["object_id"] for i in work(client, presidency)}
    state = client.get(f"/api/v1/crises/{crisis_id}/escalations", headers=presidency).json()
    assert next(e for e in state if e["id"] == esc_id)["state"] == "done"  # the Presidency's was the last one needed


def test_a_closed_crisis_asks_nothing_more(
    demo_db: demo.DemoResult, client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    bsi = bearer(session_factory, "duty@bsi-crisis.example")
    action = next(i for i in work(client, bsi) if i["kind"] == "action")
    crisis_id = action["link"].split("/")[2].split("#")[0]
    owner = client.get(f"/api/v1/crises/{crisis_id}", headers=bsi).json()["owner"]
    with unit_of_work(session_factory, write=False) as s:
        emails = list(s.scalars(select(User.email).where(User.org_id == owner["id"]).order_by(User.email)))
    # The owner's coordinator closes it (whoever of its users may).
    statuses = [
        client.post(
            f"/api/v1/crises/{crisis_id}/close",
            json={"rationale": "Services restored."},
            headers=bearer(session_factory, e),
        ).status_code
        for e in emails
    ]
    assert 200 in statuses, statuses
    assert action["object_id"] not in {i["object_id"] for i in work(client, bsi)}
