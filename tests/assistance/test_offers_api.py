"""Offers and the deployment to closure: bilateral offers, the requester's decisions, the summary report."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cybercrisis.access.models import Share
from cybercrisis.assistance.models import Offer
from cybercrisis.assistance.service import months_after
from cybercrisis.audit.models import AuditEvent
from cybercrisis.notify.models import OutboxMessage
from tests.assistance.conftest import NOW, Cast, ask, offer, offer_body, post
from tests.conftest import count
from tests.notify.helpers import outbox

BASE = "/api/v1/assistance-requests"


def test_offers_are_bilateral_other_recipients_never_see_competing_offers(
    client: TestClient, cast: Cast, db: Session
) -> None:
    req = ask(client, cast["fr"], cast)
    de = offer(client, cast["de"], req["id"], conditions="DE-CONDITIONS")
    ee = offer(client, cast["ee"], req["id"], capability="incident-response", people=5)
    assert de["id"].startswith("assistance-offer--")
    assert (de["state"], de["tlp"], de["offerer"], de["offerer_name"]) == (
        "offered",
        "amber+strict",
        cast["de"].org_id,
        "CERT-DE",
    )
    # EE may read the request but not DE's offer: not found, and absent from its view and timeline.
    assert client.get(f"{BASE}/{req['id']}/offers/{de['id']}", headers=cast["ee"].headers).status_code == 404
    assert client.get(f"{BASE}/{req['id']}/offers/{de['id']}", headers=cast["enisa"].headers).status_code == 404
    ee_view = client.get(f"{BASE}/{req['id']}", headers=cast["ee"].headers).json()
    assert [o["id"] for o in ee_view["offers"]] == [ee["id"]]
    ee_timeline = client.get(f"{BASE}/{req['id']}/timeline", headers=cast["ee"].headers).json()
    assert [e["tag"] for e in ee_timeline] == ["assistance:request:create", "assistance:offer:create"]
    assert "DE-CONDITIONS" not in str(ee_view) and de["id"] not in str(ee_timeline)
    assert client.get(f"{BASE}/{req['id']}", headers=cast["enisa"].headers).json()["offers"] == []
    # The requester sees every offer on its request, in the order they came.
    fr_view = client.get(f"{BASE}/{req['id']}", headers=cast["fr"].headers).json()
    assert [(o["id"], o["offerer_name"], o["people"]) for o in fr_view["offers"]] == [
        (de["id"], "CERT-DE", 3),
        (ee["id"], "CERT-EE", 5),
    ]
    fr_timeline = client.get(f"{BASE}/{req['id']}/timeline", headers=cast["fr"].headers).json()
    assert [e["tag"] for e in fr_timeline].count("assistance:offer:create") == 2
    # The requester is told of each offer; nobody else is.
    queued = outbox(db, OutboxMessage.event == "assistance:offer:create")
    assert [(m.target, m.object_id) for m in queued] == [
        ("desk@cert-fr.example", de["id"]),
        ("desk@cert-fr.example", ee["id"]),
    ]
    assert "CERT-DE offers forensics (3 people)" in queued[0].subject and queued[0].payload["request"] == req["id"]


def test_bad_offers_are_refused_and_nothing_is_written(client: TestClient, cast: Cast, db: Session) -> None:
    req = ask(client, cast["fr"], cast, needs=["forensics"])
    mine = client.post(
        "/api/v1/capabilities", json={"kind": "forensics", "title": "DE forensics team"}, headers=cast["de"].headers
    ).json()
    ddos = client.post(
        "/api/v1/capabilities", json={"kind": "ddos-mitigation", "title": "DE scrubbing"}, headers=cast["de"].headers
    ).json()
    theirs = client.post(
        "/api/v1/capabilities", json={"kind": "forensics", "title": "EE forensics team"}, headers=cast["ee"].headers
    ).json()
    hidden = client.post(
        "/api/v1/capabilities",
        json={"kind": "forensics", "title": "IT team", "tlp": "amber+strict"},
        headers=cast["it"].headers,
    ).json()
    url = f"{BASE}/{req['id']}/offers"
    before = tuple(count(db, m) for m in (Offer, Share, AuditEvent, OutboxMessage))
    cases = [
        ("de", {"capability": "incident-response"}, 422, "capability", "the request asks for forensics"),
        ("de", {"capability": "cyber-army"}, 422, "capability", "valid: incident-response"),
        ("de", {"available_from": "2026-12-01T08:00:00"}, 422, "available_from", "time zone"),
        ("de", {"people": 0}, 422, "people", "greater than or equal to 1"),
        ("de", {"capability_id": theirs["id"]}, 422, "capability_id", "your own organisation's catalogue"),
        ("de", {"capability_id": ddos["id"]}, 422, "capability_id", "the catalogue entry is ddos-mitigation"),
        ("de", {"capability_id": hidden["id"]}, 422, "capability_id", "no catalogue entry you may see"),
        ("fr", {}, 403, None, "does not offer on its own request"),
        ("fr_viewer", {}, 403, None, "assistance:request:write"),
        ("it", {}, 404, None, "no assistance-request"),
    ]
    for who, change, status, field, message in cases:
        r = client.post(url, json=offer_body(**change), headers=cast[who].headers)
        assert r.status_code == status, (who, change, r.text)
        assert message in r.text, (who, change, r.text)
        if field:
            assert r.json()["errors"][0]["field"] == field, (change, r.text)
    assert tuple(count(db, m) for m in (Offer, Share, AuditEvent, OutboxMessage)) == before
    # From the offerer's own catalogue entry of the right kind, it is fine.
    made = offer(client, cast["de"], req["id"], capability_id=mine["id"])
    assert made["capability_id"] == mine["id"]


def test_an_offer_on_a_request_that_is_not_open_is_a_409(client: TestClient, cast: Cast, db: Session) -> None:
    withdrawn = ask(client, cast["fr"], cast)
    assert post(client, cast["fr"], f"{withdrawn['id']}/withdraw").json()["state"] == "withdrawn"
    in_support = ask(client, cast["fr"], cast)
    o = offer(client, cast["de"], in_support["id"])
    post(client, cast["fr"], f"{in_support['id']}/offers/{o['id']}/accept")
    before = count(db, Offer)
    for req, state in ((withdrawn, "withdrawn"), (in_support, "in-support")):
        r = client.post(f"{BASE}/{req['id']}/offers", json=offer_body(), headers=cast["ee"].headers)
        assert r.status_code == 409 and r.json()["detail"] == f"the request is {state}; offers are closed", r.text
    assert count(db, Offer) == before


def test_only_the_requester_accepts_or_declines_and_each_offer_is_decided_once(
    client: TestClient, cast: Cast, db: Session
) -> None:
    req = ask(client, cast["fr"], cast)
    de = offer(client, cast["de"], req["id"])
    ee = offer(client, cast["ee"], req["id"], capability="incident-response")
    enisa = offer(client, cast["enisa"], req["id"])
    # The offerer cannot accept its own offer; another recipient cannot even see it.
    r = post(client, cast["de"], f"{req['id']}/offers/{de['id']}/accept")
    assert r.status_code == 403 and "only the requesting organisation" in r.json()["detail"]
    assert post(client, cast["ee"], f"{req['id']}/offers/{de['id']}/accept").status_code == 404
    assert post(client, cast["fr_viewer"], f"{req['id']}/offers/{de['id']}/accept").status_code == 403
    # An offer id under another request is not found there.
    other = ask(client, cast["fr"], cast)
    assert post(client, cast["fr"], f"{other['id']}/offers/{de['id']}/accept").status_code == 404
    assert count(db, AuditEvent, AuditEvent.tag == "assistance:offer:accept") == 0

    accepted = post(client, cast["fr"], f"{req['id']}/offers/{de['id']}/accept", {"comment": "Welcome, thank you"})
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"
    assert accepted.json()["decision_comment"] == "Welcome, thank you" and accepted.json()["decided_at"]
    view = client.get(f"{BASE}/{req['id']}", headers=cast["fr"].headers).json()
    assert view["state"] == "in-support" and view["support_started_at"] and view["version"] == 2
    # Several teams may deploy: a second acceptance while in support; a decline does not move the request.
    assert post(client, cast["fr"], f"{req['id']}/offers/{ee['id']}/accept").json()["state"] == "accepted"
    no_body = client.post(f"{BASE}/{req['id']}/offers/{enisa['id']}/decline", headers=cast["fr"].headers)
    assert (
        no_body.status_code == 200
        and no_body.json()["state"] == "declined"
        and no_body.json()["decision_comment"] == ""
    )
    started = client.get(f"{BASE}/{req['id']}", headers=cast["fr"].headers).json()
    assert started["support_started_at"] == view["support_started_at"] and started["state"] == "in-support"
    for oid, verb in ((de["id"], "decline"), (enisa["id"], "accept"), (de["id"], "accept")):
        r = post(client, cast["fr"], f"{req['id']}/offers/{oid}/{verb}")
        assert r.status_code == 409 and "only an offer still offered" in r.json()["detail"], r.text
    # Each offerer is told of the decision on its own offer only.
    sent = {
        (m.event, m.target)
        for m in outbox(
            db, OutboxMessage.event.like("assistance:offer:%"), OutboxMessage.event != "assistance:offer:create"
        )
    }
    assert sent == {
        ("assistance:offer:accept", "desk@cert-de.example"),
        ("assistance:offer:accept", "desk@cert-ee.example"),
        ("assistance:offer:decline", "desk@enisa.example"),
    }
    [de_msg] = outbox(db, OutboxMessage.object_id == de["id"], OutboxMessage.event == "assistance:offer:accept")
    assert "Welcome, thank you" in de_msg.body and "CERT-FR accepted" in de_msg.subject


def test_the_offerer_withdraws_its_offer_while_it_is_offered(client: TestClient, cast: Cast, db: Session) -> None:
    req = ask(client, cast["fr"], cast)
    de = offer(client, cast["de"], req["id"])
    r = post(client, cast["fr"], f"{req['id']}/offers/{de['id']}/withdraw")
    assert r.status_code == 403 and "only the offering organisation" in r.json()["detail"]
    assert post(client, cast["ee"], f"{req['id']}/offers/{de['id']}/withdraw").status_code == 404
    r = post(client, cast["de"], f"{req['id']}/offers/{de['id']}/withdraw")
    assert r.status_code == 200 and r.json()["state"] == "withdrawn"
    assert post(client, cast["de"], f"{req['id']}/offers/{de['id']}/withdraw").status_code == 409
    assert post(client, cast["fr"], f"{req['id']}/offers/{de['id']}/accept").status_code == 409
    [msg] = outbox(db, OutboxMessage.event == "assistance:offer:withdraw")
    assert msg.target == "desk@cert-fr.example" and msg.object_id == de["id"]
    assert client.get(f"{BASE}/{req['id']}", headers=cast["fr"].headers).json()["state"] == "open"


def test_withdrawing_a_request_withdraws_pending_offers_and_tells_their_offerers(
    client: TestClient, cast: Cast, db: Session
) -> None:
    req = ask(client, cast["fr"], cast)
    de = offer(client, cast["de"], req["id"])
    ee = offer(client, cast["ee"], req["id"])
    post(client, cast["ee"], f"{req['id']}/offers/{ee['id']}/withdraw")
    r = post(client, cast["de"], f"{req['id']}/withdraw")
    assert r.status_code == 403 and "only the requesting organisation" in r.json()["detail"]
    r = post(client, cast["fr"], f"{req['id']}/withdraw")
    assert r.status_code == 200 and r.json()["state"] == "withdrawn"
    assert [(o["id"], o["state"]) for o in r.json()["offers"]] == [(de["id"], "withdrawn"), (ee["id"], "withdrawn")]
    assert post(client, cast["fr"], f"{req['id']}/withdraw").status_code == 409
    [msg] = outbox(db, OutboxMessage.event == "assistance:request:withdraw")
    assert msg.target == "desk@cert-de.example" and de["id"] in msg.body
    # Another recipient learns that the request was withdrawn, not that there were offers.
    enisa_timeline = client.get(f"{BASE}/{req['id']}/timeline", headers=cast["enisa"].headers).json()
    assert [(e["tag"], e["summary"]) for e in enisa_timeline] == [
        ("assistance:request:create", enisa_timeline[0]["summary"]),
        ("assistance:request:withdraw", {"state": "withdrawn"}),
    ]
    de_timeline = client.get(f"{BASE}/{req['id']}/timeline", headers=cast["de"].headers).json()
    assert [e["tag"] for e in de_timeline][-1] == "assistance:offer:withdraw"
    assert de_timeline[-1]["summary"]["reason"] == "request-withdrawn"


def test_a_request_goes_from_open_through_support_to_closed_with_its_summary_report(
    client: TestClient, cast: Cast, db: Session
) -> None:
    req = ask(client, cast["fr"], cast)
    rid = req["id"]
    de = offer(client, cast["de"], rid)
    assert post(client, cast["fr"], f"{rid}/support-ended").status_code == 409  # not in support yet
    post(client, cast["fr"], f"{rid}/offers/{de['id']}/accept")
    started = client.get(f"{BASE}/{rid}", headers=cast["fr"].headers).json()["support_started_at"]
    assert post(client, cast["fr"], f"{rid}/summary", {"report": "Too early"}).status_code == 409
    assert post(client, cast["fr"], f"{rid}/withdraw").status_code == 409  # only an open request is withdrawn
    assert post(client, cast["de"], f"{rid}/support-ended").status_code == 403
    for when, message in (
        ((NOW + timedelta(days=2)).isoformat(), "cannot end in the future"),
        ((NOW - timedelta(days=2)).isoformat(), "cannot end before"),
        ("2026-12-01T08:00:00", "time zone"),
    ):
        r = post(client, cast["fr"], f"{rid}/support-ended", {"ended_at": when})
        assert r.status_code == 422 and message in r.text and r.json()["errors"][0]["field"] == "ended_at", r.text
    r = post(client, cast["fr"], f"{rid}/support-ended")
    assert r.status_code == 200, r.text
    ended = r.json()
    assert ended["state"] == "support-ended" and ended["support_ended_at"] >= started
    due = ended["summary_due_at"]
    # CYBERCRISIS_RESERVE_SUMMARY_MONTHS calendar months later (the deployment's rule); clamping is unit-tested in
    # test_ranking.py.
    months = client.app.state.settings.reserve_summary_months  # type: ignore[attr-defined]
    assert datetime.fromisoformat(due) == months_after(datetime.fromisoformat(ended["support_ended_at"]), months)
    assert datetime.fromisoformat(due) - datetime.fromisoformat(ended["support_ended_at"]) >= timedelta(days=28)
    assert post(client, cast["fr"], f"{rid}/support-ended").status_code == 409
    assert post(client, cast["de"], f"{rid}/summary", {"report": "Not mine"}).status_code == 403
    r = post(client, cast["fr"], f"{rid}/summary", {"report": "   "})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "report"
    r = post(client, cast["fr"], f"{rid}/summary", {"report": "Two teams, 9 days; wiper eradicated."})
    assert r.status_code == 200, r.text
    closed = r.json()
    assert (closed["state"], closed["summary_report"]) == ("closed", "Two teams, 9 days; wiper eradicated.")
    assert closed["summary_at"] and closed["summary_due_at"] == due
    assert post(client, cast["fr"], f"{rid}/summary", {"report": "again"}).status_code == 409
    timeline = client.get(f"{BASE}/{rid}/timeline", headers=cast["fr"].headers).json()
    assert [e["tag"] for e in timeline] == [
        "assistance:request:create",
        "assistance:offer:create",
        "assistance:offer:accept",
        "assistance:request:support-ended",
        "assistance:request:summary",
    ]
    assert timeline[-1]["summary"] == {"state": "closed", "chars": 36}
    # The offerer reads the closed request and its report; its own offer stays accepted.
    de_view = client.get(f"{BASE}/{rid}", headers=cast["de"].headers).json()
    assert de_view["state"] == "closed" and [o["state"] for o in de_view["offers"]] == ["accepted"]
