"""Mutual assistance pages: the list, the request form, one request with its offers and lifecycle, the Reserve
ranking, and the capability catalogue.

Every form goes through `assistance.service` as the API does; these tests drive the pages as a browser would
(signed in through the login form, CSRF token from the page) and check what was written, what was refused, and
what each reader is shown.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access.models import Share
from cybercrisis.accounts.service import SYSTEM
from cybercrisis.assistance.models import AssistanceRequest, Capability, Offer
from cybercrisis.audit.models import AuditEvent
from cybercrisis.crises.models import Crisis
from cybercrisis.db import new_id, unit_of_work
from cybercrisis.directory import service as directory
from cybercrisis.directory.exchange import org_id_for_key
from tests.conftest import Actor, World, count
from tests.web.conftest import HTML, csrf_on, sign_in

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
API = "/api/v1/assistance-requests"
People = dict[str, Actor]


def _reserve_admin(world: World, key: str, short: str, communities: tuple[str, ...] = ()) -> None:
    """An administrator of the EU Cybersecurity Reserve, with the id its directory key gives it."""
    with unit_of_work(world.factory) as s:
        org = directory.create_organisation(
            s,
            actor=SYSTEM,
            name=f"{short} organisation",
            short_name=short,
            type_="eu-body",
            country=None,
            levels=["technical", "operational"],
            communities=list(communities),
            org_id=org_id_for_key(key),
        )
        world.orgs[short] = org.id


@pytest.fixture
def people(world: World) -> People:
    """France asks (its SPOC and its CSIRT); Germany and Estonia help; the Reserve is run by ENISA and DG CONNECT."""
    world.community("csirts-network")
    world.community("eu-cyclone", "operational")
    world.org("FR-SPOC", type_="spoc", country="FR")
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("CERT-DE", country="DE", communities=("csirts-network",))
    world.org("CERT-EE", country="EE", communities=("csirts-network",))
    world.org("DE-CRISIS", type_="crisis-authority", country="DE", communities=("eu-cyclone",))
    world.org("OUTSIDER", type_="partner", country=None)
    world.org("DE-SPOC", type_="spoc", country="DE")
    _reserve_admin(world, "enisa", "ENISA", ("csirts-network",))
    _reserve_admin(world, "ec-dg-connect", "DG-CONNECT")
    return {
        "spoc": world.user("FR-SPOC"),
        "fr": world.user("CERT-FR"),
        "de": world.user("CERT-DE"),
        "ee": world.user("CERT-EE"),
        "enisa": world.user("ENISA", roles=("coordinator",)),
        "outsider": world.user("OUTSIDER"),
        "de_spoc": world.user("DE-SPOC"),
        "fr_viewer": world.user("CERT-FR", roles=("viewer",)),
    }


def post(client: TestClient, path: str, data: dict[str, Any]) -> Any:
    return client.post(path, data=data, headers=HTML, follow_redirects=False)


def text_of(page: str) -> str:
    """The visible words of a page, tags dropped and entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def page(client: TestClient, path: str) -> str:
    r = client.get(path, headers=HTML)
    assert r.status_code == 200, r.text
    return r.text


def ask(client: TestClient, actor: Actor, people: People, **over: Any) -> str:
    body: dict[str, Any] = {
        "needs": ["forensics", "incident-response"],
        "description": "Wiper at two hospitals; OT segments untouched so far.",
        "urgency": "immediate",
        "recipients": {"organisations": [people["de"].org_id], "communities": ["csirts-network"]},
        "affected_entity": "Hôpital Exemple",
        "impact": "red",
        "severity": "high",
        "spillover": "medium",
        "measures_taken": "Isolated the hospital networks.",
        "tlp": "amber",
        **over,
    }
    r = client.post(API, json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def offer(client: TestClient, actor: Actor, rid: str, **over: Any) -> str:
    body = {"capability": "forensics", "people": 3, "available_from": (NOW + timedelta(hours=6)).isoformat(), **over}
    r = client.post(f"{API}/{rid}/offers", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def crisis(world: World, owner: str, title: str, *, shared_with: list[str]) -> str:
    """A crisis row with its share list (the crises module owns creating them; its pages are tested there)."""
    cid = new_id("crisis")
    with unit_of_work(world.factory) as s:
        s.add(
            Crisis(
                id=cid,
                owner_org_id=owner,
                tlp="amber",
                title=title,
                justification="two Member States",
                stage="csirts-network",
            )
        )
        s.flush()
        s.add_all(Share(object_id=cid, kind="organisation", target=o) for o in shared_with)
    return cid


def audited(db: Session, tag: str, object_id: str | None = None) -> int:
    where = [AuditEvent.tag == tag] + ([AuditEvent.object_id == object_id] if object_id else [])
    return count(db, AuditEvent, *where)


def assistance_audit(db: Session) -> int:
    return count(db, AuditEvent, AuditEvent.tag.like("assistance:%"))


# --- the list and one request -------------------------------------------------------------------------------------


def test_list_and_request_page_show_the_request_to_its_readers_and_nothing_to_others(
    client: TestClient, people: People, world: World
) -> None:
    cid = crisis(world, people["fr"].org_id, "Hospital wiper wave", shared_with=[people["de"].org_id])
    hidden = crisis(world, people["fr"].org_id, "French-only crisis", shared_with=[])
    rid = ask(client, people["fr"], people, crisis=cid)
    other = ask(
        client,
        people["fr"],
        people,
        crisis=hidden,
        affected_entity="Another hospital",
        recipients={"organisations": [people["de"].org_id]},
    )
    offer(client, people["de"], rid)
    offer(client, people["ee"], rid, capability="incident-response")

    sign_in(client, people["de"].email)
    listing = page(client, "/assistance")
    assert 'href="/assistance"' in listing and 'aria-current="page"' in listing  # the navigation item
    row = re.search(rf'<tr class="is-open">\s*<th scope="row"><a href="/assistance/{rid}">.*?</tr>', listing, re.S)
    assert row, listing
    words = text_of(row.group(0))
    for expected in (
        "France: Hôpital Exemple",
        "CERT-FR",
        "Open",
        "Forensics",
        "Incident response team",
        "Immediate",
        "TLP:AMBER",
        NOW.strftime("%Y-%m-%d"),
    ):
        assert expected in words, (expected, words)
    # CERT-DE counts its own offer only: offers are bilateral.
    assert re.search(r'<td class="num">1</td>', row.group(0))
    assert 'href="/assistance/new"' in listing and ">Ask for assistance<" in listing  # a national CSIRT asks
    assert 'href="/capabilities"' in listing and "/assistance/reserve-ranking" not in listing  # no Reserve request
    assert other in page(client, "/assistance?state=open") and rid not in page(client, "/assistance?state=closed")
    bad = client.get("/assistance?state=panic", headers=HTML)
    assert bad.status_code == 422 and "not valid for state" in bad.text

    view = page(client, f"/assistance/{rid}")
    words = text_of(view)
    for expected in (
        "Request for assistance from France",
        "TLP:AMBER",
        "Hôpital Exemple",
        "Essential entity",
        "Red: very large impact",
        "Isolated the hospital networks",
        "Wiper at two hospitals",
        "Request sent",
    ):
        assert expected in words, expected
    assert f'<a href="/crises/{cid}">Hospital wiper wave</a>' in view  # the crisis, linked to its room
    assert 'id="offer-form"' in view and ">Offer</button>" in view
    offers = view[view.index('id="offers"') : view.index('id="offer-form"')]
    assert "CERT-DE" in offers and "CERT-EE" not in offers  # only its own offer
    assert "/decide" not in view and "Withdraw offer" in view and "Withdraw request" not in view
    # A crisis the reader may not see is not named, not even by its id.
    view = page(client, f"/assistance/{other}")
    assert "French-only crisis" not in view and hidden not in view and "a crisis you may not see" in view
    # The note after a form is one of a fixed set; whatever else the address says is not shown.
    assert "Your offer was sent" in page(client, f"/assistance/{rid}?done=offered")
    odd = page(client, f"/assistance/{rid}?done=%3Cscript%3Ealert(1)")
    assert "done-note" not in odd and "alert(1)" not in odd

    sign_in(client, people["fr_viewer"].email)  # reads its organisation's request, may not act
    view = page(client, f"/assistance/{rid}")
    assert "CERT-EE" in view and "/decide" not in view and 'id="offer-form"' not in view
    assert ">Ask for assistance<" not in page(client, "/assistance")

    sign_in(client, people["outsider"].email)
    listing = page(client, "/assistance")
    assert rid not in listing and "No request" in listing and ">Ask for assistance<" not in listing
    missing = client.get(f"/assistance/{rid}", headers=HTML)
    assert missing.status_code == 404 and "Hôpital" not in missing.text
    assert client.get("/assistance/new", headers=HTML).status_code == 403  # a partner does not ask


# --- asking -------------------------------------------------------------------------------------------------------


def new_form(client: TestClient, token_from: str = "/assistance/new", **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "csrf_token": csrf_on(client, token_from),
        "needs": ["forensics", "malware-analysis"],
        "description": "Ransomware at a water utility",
        "affected_entity": "Eau de Lyon",
        "entity_type": "essential",
        "impact": "yellow",
        "severity": "high",
        "spillover": "low",
        "measures_taken": "Backups restored",
        "other_support": "A provider on retainer",
        "urgency": "urgent",
        "organisations": [],
        "communities": ["csirts-network"],
        "crisis": "",
        "tlp": "amber",
    }
    data.update(over)
    return data


def test_a_request_is_sent_through_the_form(client: TestClient, people: People, world: World, db: Session) -> None:
    cid = crisis(world, people["fr"].org_id, "Water utility crisis", shared_with=[])
    sign_in(client, people["fr"].email)
    form = page(client, f"/assistance/new?crisis={cid}")
    assert 'id="assistance-form"' in form and ">Send request</button>" in form
    # Needs as labelled checkboxes, Member State organisations from the directory, the communities, the Reserve.
    for label in ("Incident response team", "Forensics", "Malware analysis", "DDoS mitigation", "Liaison"):
        assert re.search(rf'<label for="f-needs-\d">{label}</label>', form), label
    recipients = re.search(r'<select id="f-organisations".*?</select>', form, re.S)
    assert recipients and people["de"].org_id in recipients.group(0) and world.orgs["DE-CRISIS"] in recipients.group(0)
    assert people["fr"].org_id not in recipients.group(0) and people["outsider"].org_id not in recipients.group(0)
    assert 'value="csirts-network"' in form and 'value="eu-cyclone"' in form
    assert "EU Cybersecurity Reserve (transmitted by your SPOC)" in form
    assert "FR-SPOC (FR-SPOC organisation) transmits it" in text_of(form)
    assert re.search(r'<select id="f-potential_impact"', form) and ">Not stated</option>" in form
    assert f'<option value="{cid}" selected>Water utility crisis</option>' in form  # ?crisis= pre-selects it
    assert 'value="red"' not in re.search(r'id="f-tlp".*?</fieldset>', form, re.S).group(0)  # type: ignore[union-attr]

    data = new_form(client, organisations=[world.orgs["DE-CRISIS"]], crisis=cid)
    r = post(client, "/assistance/new", data)
    assert r.status_code == 303, r.text
    assert r.headers["location"].endswith("?done=sent")
    rid = r.headers["location"].split("?")[0].removeprefix("/assistance/")
    req = db.get(AssistanceRequest, rid)
    assert req is not None and req.owner_org_id == people["fr"].org_id and req.country == "FR"
    assert (req.needs, req.urgency, req.severity, req.crisis_id) == (
        ["forensics", "malware-analysis"],
        "urgent",
        "high",
        cid,
    )
    assert req.recipients == {
        "organisations": [world.orgs["DE-CRISIS"]],
        "communities": ["csirts-network"],
        "reserve": False,
    }
    assert audited(db, "assistance:request:create", rid) == 1
    words = text_of(page(client, r.headers["location"]))
    assert "The request was sent." in words and "Ransomware at a water utility" in words and "DE-CRISIS" in words

    # The CSIRT addresses the Reserve, stating the potential impact (Reg. (EU) 2025/38 Art. 16): it reaches its SPOC,
    # which transmits it (Art. 15(3)(a)).
    r = post(
        client,
        "/assistance/new",
        new_form(client, communities=[], reserve="yes", tlp="amber+strict", potential_impact="high"),
    )
    assert r.status_code == 303, r.text
    db.rollback()
    rid = r.headers["location"].split("?")[0].removeprefix("/assistance/")
    req = db.get(AssistanceRequest, rid)
    assert req is not None and req.recipients["reserve"] is True and req.tlp == "amber+strict"
    assert (req.potential_impact, req.transmitted_at) == ("high", None)
    shared = set(db.scalars(select(Share.target).where(Share.object_id == req.id)))
    assert shared == {people["spoc"].org_id}
    words = text_of(page(client, f"/assistance/{rid}"))
    assert "Potential impact on the Member State(s) or users High" in words and "Not yet transmitted" in words

    # The SPOC does not ask the Reserve in its own name (Art. 14(3)): the form says so, and refuses it.
    sign_in(client, people["spoc"].email)
    form = page(client, "/assistance/new")
    assert "FR-SPOC is the SPOC: it does not ask the Reserve in its own name" in text_of(form)
    assert "to DG-CONNECT and ENISA" in text_of(form)
    before = count(db, AssistanceRequest)
    r = post(client, "/assistance/new", new_form(client, communities=[], reserve="yes", tlp="amber+strict"))
    assert r.status_code == 403 and 'id="f-reserve-error"' in r.text and "Art. 14(3)" in r.text
    assert "Ransomware at a water utility" in r.text and count(db, AssistanceRequest) == before


def test_judgements_start_not_assessed_and_a_request_links_the_incidents_it_is_about(
    client: TestClient, people: People, db: Session
) -> None:
    """Issue 19: the form preselected impact Yellow, threat Medium, spill-over Low, and could not link incidents.
    Now every judgement starts "Not assessed"; the incident page's link preselects its incident; left blank, the
    impact is the linked incident's own and the threat and spill-over stay not assessed (shown so, and ranked after
    stated values by the Reserve ranking)."""
    r = client.post(
        "/api/v1/incidents",
        json={
            "title": "Wiper at a water utility",
            "tlp": "amber",
            "aware_at": (NOW - timedelta(hours=2)).isoformat(),
            "countries": ["FR"],
            "impact_severity": "red",
        },
        headers=people["fr"].headers,
    )
    assert r.status_code == 201, r.text
    iid = r.json()["id"]
    sign_in(client, people["fr"].email)
    incident_page = page(client, f"/incidents/{iid}")
    assert f'href="/assistance/new?incident={iid}"' in incident_page
    form = page(client, f"/assistance/new?incident={iid}")
    for name in ("impact", "severity", "spillover"):
        select = re.search(rf'<select id="f-{name}".*?</select>', form, re.S)
        assert select and "selected" not in select.group(0), name  # nothing chosen for the user
        assert '<option value="">Not assessed' in select.group(0), name
    assert re.search(rf'<input type="checkbox" id="f-incidents-\d+" name="incidents" value="{iid}" checked>', form)

    blank = new_form(client, impact="", severity="", spillover="", incidents=[iid])
    r = post(client, "/assistance/new", blank)
    assert r.status_code == 303, r.text
    rid = r.headers["location"].split("?")[0].removeprefix("/assistance/")
    db.rollback()
    req = db.get(AssistanceRequest, rid)
    assert req is not None and (req.impact, req.severity, req.spillover, req.incident_ids) == ("red", "", "", [iid])
    got = client.get(f"{API}/{rid}", headers=people["fr"].headers).json()
    assert (got["impact"], got["severity"], got["spillover"], got["incidents"]) == ("red", None, None, [iid])
    words = text_of(page(client, f"/assistance/{rid}"))
    assert "Threat severity Not assessed" in words and "Cross-border spill-over risk Not assessed" in words
    # With no judgement and no incident to take the impact from, the impact field says what to do.
    before = count(db, AssistanceRequest)
    r = post(client, "/assistance/new", new_form(client, impact="", severity="", spillover="", incidents=[]))
    assert r.status_code == 422 and 'id="f-impact-error"' in r.text and count(db, AssistanceRequest) == before


def test_request_form_errors_keep_the_input_and_write_nothing(client: TestClient, people: People, db: Session) -> None:
    sign_in(client, people["fr"].email)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"needs": []}, "needs"),
        ({"needs": ["coffee"]}, "needs"),
        ({"description": " "}, "description"),
        ({"communities": [], "organisations": []}, "recipients"),
        ({"tlp": "red"}, "tlp"),
        ({"tlp": "amber+strict"}, "communities"),
        ({"potential_impact": "extreme"}, "potential_impact"),
        ({"crisis": "crisis--00000000-0000-4000-8000-000000000000"}, "crisis"),
        ({"severity": "apocalyptic"}, "severity"),
        ({"urgency": "yesterday"}, "urgency"),
    ]
    for over, field in cases:
        r = post(client, "/assistance/new", new_form(client, other_support="Keep this text", **over))
        assert r.status_code == 422, (over, r.text)
        assert 'class="error-summary"' in r.text, over
        # The message sits next to its field, and what was typed is still there.
        assert re.search(rf'id="f-{field}-error"', r.text), (over, field, r.text)
        assert "Keep this text" in r.text
        assert field == "needs" or 'value="malware-analysis" checked' in r.text
    assert count(db, AssistanceRequest) == 0 and assistance_audit(db) == 0

    sign_in(client, people["outsider"].email)  # a partner does not ask for a Member State
    r = post(client, "/assistance/new", new_form(client, token_from="/assistance"))
    assert r.status_code == 403 and count(db, AssistanceRequest) == 0


def test_forms_without_the_csrf_token_are_refused_and_write_nothing(
    client: TestClient, people: People, db: Session
) -> None:
    rid = ask(client, people["fr"], people)
    oid = offer(client, people["de"], rid)
    sign_in(client, people["fr"].email)
    cap = post(
        client,
        "/capabilities/new",
        {
            "csrf_token": csrf_on(client, "/capabilities/new"),
            "kind": "forensics",
            "title": "Forensics team",
            "people": "2",
            "notice_hours": "12",
            "tlp": "green",
        },
    )
    assert cap.status_code == 303, cap.text
    cap_id = cap.headers["location"].split("?")[0].removeprefix("/capabilities/")
    forms = {
        "/assistance/new": new_form(client),
        f"/assistance/{rid}/offers/{oid}/decide": {"verdict": "accept"},
        f"/assistance/{rid}/support-ended": {},
        f"/assistance/{rid}/summary": {"report": "Done"},
        f"/assistance/{rid}/withdraw": {},
        "/capabilities/new": {"kind": "forensics", "title": "x", "people": "1", "notice_hours": "1"},
        f"/capabilities/{cap_id}/edit": {
            "version": 1,
            "kind": "forensics",
            "title": "y",
            "people": "1",
            "notice_hours": "1",
        },
        f"/capabilities/{cap_id}/active": {"version": 1, "active": "no"},
        f"/capabilities/{cap_id}/delete": {},
    }
    before = assistance_audit(db)
    for path, data in forms.items():
        for bad in ("", "forged"):
            r = post(client, path, {**data, "csrf_token": bad})
            assert r.status_code == 403, (path, r.text)
    sign_in(client, people["ee"].email)
    for path in (f"/assistance/{rid}/offers", f"/assistance/{rid}/offers/{oid}/withdraw"):
        assert (
            post(
                client,
                path,
                {
                    "capability": "forensics",
                    "people": "1",
                    "available_from": "2030-01-01T00:00",
                    "csrf_token": "forged",
                },
            ).status_code
            == 403
        )
    assert assistance_audit(db) == before and count(db, AssistanceRequest) == 1 and count(db, Offer) == 1
    db.rollback()
    assert db.get(Offer, oid).state == "offered"  # type: ignore[union-attr]
    assert db.get(Capability, cap_id).active  # type: ignore[union-attr]
    # An organisation that cannot read the request gets 404, not 403, even with a good token.
    sign_in(client, people["outsider"].email)
    r = post(
        client,
        f"/assistance/{rid}/offers",
        {
            "csrf_token": csrf_on(client, "/assistance"),
            "capability": "forensics",
            "people": "1",
            "available_from": "2030-01-01T00:00",
        },
    )
    assert r.status_code == 404 and count(db, Offer) == 1


# --- offers and the lifecycle ---------------------------------------------------------------------------------------


def test_offers_are_made_accepted_and_declined_through_the_pages(
    client: TestClient, people: People, db: Session
) -> None:
    rid = ask(client, people["fr"], people)
    sign_in(client, people["ee"].email)
    view = page(client, f"/assistance/{rid}")
    select_ = re.search(r'<select id="o-capability".*?</select>', view, re.S)
    assert select_, view
    # The capability select offers the request's needs only.
    assert set(re.findall(r'<option value="([^"]*)"', select_.group(0))) == {"", "forensics", "incident-response"}
    assert 'type="datetime-local"' in view and "Available from (UTC)" in view
    token = csrf_on(client, f"/assistance/{rid}")
    good = {
        "csrf_token": token,
        "capability": "forensics",
        "people": "4",
        "available_from": "2030-01-02T08:30",
        "conditions": "Travel costs borne by the requester",
    }
    for over, field in (
        ({"capability": "ddos-mitigation"}, "o-capability"),
        ({"people": "0"}, "o-people"),
        ({"people": "many"}, "o-people"),
        ({"available_from": "soon"}, "o-available_from"),
        ({"available_from": ""}, "o-available_from"),
    ):
        r = post(client, f"/assistance/{rid}/offers", {**good, **over})
        assert r.status_code == 422 and f'id="{field}-error"' in r.text, (over, r.text)
        assert "Your offer was not sent" in r.text and "Travel costs borne by the requester" in r.text
    assert count(db, Offer) == 0

    r = post(client, f"/assistance/{rid}/offers", good)
    assert r.status_code == 303 and r.headers["location"] == f"/assistance/{rid}?done=offered#offers"
    db.rollback()
    ee_offer = db.scalars(select(Offer)).one()
    assert (ee_offer.people, ee_offer.available_from, ee_offer.tlp) == (
        4,
        datetime(2030, 1, 2, 8, 30, tzinfo=UTC),
        "amber+strict",
    )  # read as UTC
    assert audited(db, "assistance:offer:create", ee_offer.id) == 1
    de_offer = offer(client, people["de"], rid, capability="incident-response")

    sign_in(client, people["fr"].email)  # the requester sees both, with Accept and Decline on each
    view = page(client, f"/assistance/{rid}")
    assert view.count('value="accept">Accept<') == 2 and view.count('value="decline" class="quiet">Decline<') == 2
    assert "Accept the offer of CERT-EE" in text_of(view)  # each button names its offer for screen readers
    assert "CERT-EE" in view and "CERT-DE" in view and 'id="offer-form"' not in view
    token = csrf_on(client, f"/assistance/{rid}")
    r = post(client, f"/assistance/{rid}/offers/{ee_offer.id}/decide", {"csrf_token": token, "verdict": "maybe"})
    assert r.status_code == 422 and "Choose Accept or Decline" in r.text
    r = post(
        client,
        f"/assistance/{rid}/offers/{ee_offer.id}/decide",
        {"csrf_token": token, "verdict": "accept", "comment": "Please come to Lyon"},
    )
    assert r.status_code == 303 and r.headers["location"] == f"/assistance/{rid}?done=accepted#offers"
    r = post(
        client,
        f"/assistance/{rid}/offers/{de_offer}/decide",
        {"csrf_token": token, "verdict": "decline", "comment": "Covered by CERT-EE"},
    )
    assert r.status_code == 303
    # Deciding twice is refused with the message on the page; nothing changes.
    r = post(client, f"/assistance/{rid}/offers/{de_offer}/decide", {"csrf_token": token, "verdict": "accept"})
    assert r.status_code == 409 and "The offer was not decided" in r.text and "The offer is declined" in r.text
    db.rollback()
    assert db.get(Offer, ee_offer.id).state == "accepted"  # type: ignore[union-attr]
    assert db.get(Offer, de_offer).state == "declined"  # type: ignore[union-attr]
    assert db.get(AssistanceRequest, rid).state == "in-support"  # type: ignore[union-attr]
    assert audited(db, "assistance:offer:accept") == 1 and audited(db, "assistance:offer:decline") == 1
    words = text_of(page(client, f"/assistance/{rid}"))
    for expected in (
        "In support",
        "Accepted",
        "Declined",
        "“Please come to Lyon”",
        "Offer accepted",
        "Offer declined",
        "Support started",
    ):
        assert expected in words, expected
    assert ">Support ended</button>" in page(client, f"/assistance/{rid}")

    sign_in(client, people["de"].email)  # an offerer sees its own offer's fate, not the other offer
    words = text_of(page(client, f"/assistance/{rid}"))
    assert "Declined" in words and "“Covered by CERT-EE”" in words and "Please come to Lyon" not in words
    assert "offers are closed" in words


def test_support_ends_the_summary_is_recorded_and_requests_and_offers_are_withdrawn(
    client: TestClient, people: People, db: Session
) -> None:
    rid = ask(client, people["fr"], people)
    accepted = offer(client, people["de"], rid)
    r = client.post(f"{API}/{rid}/offers/{accepted}/accept", json={}, headers=people["fr"].headers)
    assert r.status_code == 200, r.text
    sign_in(client, people["fr"].email)
    token = csrf_on(client, f"/assistance/{rid}")
    assert ">Record summary report</button>" not in page(client, f"/assistance/{rid}")  # not before support ended
    r = post(client, f"/assistance/{rid}/support-ended", {"csrf_token": token, "ended_at": "next week"})
    assert r.status_code == 422 and 'id="s-ended_at-error"' in r.text
    r = post(client, f"/assistance/{rid}/support-ended", {"csrf_token": token, "ended_at": "2999-01-01T00:00"})
    assert r.status_code == 422 and "cannot end in the future" in r.text
    assert audited(db, "assistance:request:support-ended") == 0
    r = post(client, f"/assistance/{rid}/support-ended", {"csrf_token": token, "ended_at": ""})  # now
    assert r.status_code == 303 and r.headers["location"] == f"/assistance/{rid}?done=support-ended#lifecycle"
    db.rollback()
    req = db.get(AssistanceRequest, rid)
    assert req is not None and req.state == "support-ended" and req.summary_due_at is not None
    due = f"{req.summary_due_at:%Y-%m-%d %H:%M} UTC"
    view = page(client, f"/assistance/{rid}")
    words = text_of(view)
    assert f"Summary report due by {due}" in words and "one calendar month after support ended" in words
    assert f"summary due at: {due}" in words  # the timeline shows times as the page does
    assert 'id="summary-form"' in view and ">Record summary report</button>" in view

    r = post(client, f"/assistance/{rid}/summary", {"csrf_token": token, "report": "   "})
    assert r.status_code == 422 and 'id="y-report-error"' in r.text and audited(db, "assistance:request:summary") == 0
    r = post(client, f"/assistance/{rid}/summary", {"csrf_token": token, "report": "Two analysts for five days."})
    assert r.status_code == 303
    db.rollback()
    assert db.get(AssistanceRequest, rid).state == "closed"  # type: ignore[union-attr]
    words = text_of(page(client, f"/assistance/{rid}"))
    assert "Closed" in words and "Two analysts for five days." in words and "Summary report recorded" in words

    # Another request: CERT-DE withdraws its offer, then CERT-FR withdraws the request (which withdraws EE's).
    other = ask(client, people["fr"], people)
    de_offer = offer(client, people["de"], other)
    ee_offer = offer(client, people["ee"], other)
    sign_in(client, people["de"].email)
    view = page(client, f"/assistance/{other}")
    assert view.count("Withdraw offer") == 1
    r = post(client, f"/assistance/{other}/offers/{de_offer}/withdraw", {"csrf_token": csrf_on(client, "/assistance")})
    assert r.status_code == 303 and r.headers["location"] == f"/assistance/{other}?done=offer-withdrawn#offers"
    # CERT-DE may not withdraw CERT-EE's offer, which it cannot even see.
    r = post(client, f"/assistance/{other}/offers/{ee_offer}/withdraw", {"csrf_token": csrf_on(client, "/assistance")})
    assert r.status_code == 404
    sign_in(client, people["fr"].email)
    r = post(client, f"/assistance/{other}/withdraw", {"csrf_token": csrf_on(client, "/assistance")})
    assert r.status_code == 303 and r.headers["location"] == f"/assistance/{other}?done=withdrawn#lifecycle"
    db.rollback()
    assert db.get(AssistanceRequest, other).state == "withdrawn"  # type: ignore[union-attr]
    assert {db.get(Offer, o).state for o in (de_offer, ee_offer)} == {"withdrawn"}  # type: ignore[union-attr]
    assert audited(db, "assistance:request:withdraw", other) == 1 and audited(db, "assistance:offer:withdraw") == 2
    # Withdrawing again is refused on the page.
    r = post(client, f"/assistance/{other}/withdraw", {"csrf_token": csrf_on(client, "/assistance")})
    assert r.status_code == 409 and "The request was not withdrawn" in r.text


# --- the Reserve ranking ------------------------------------------------------------------------------------------


def test_reserve_ranking_is_shown_with_its_reasons_to_those_who_see_the_requests(
    client: TestClient, people: People
) -> None:
    reserve = {"organisations": [], "communities": [], "reserve": True}
    low = ask(client, people["fr"], people, recipients=reserve, impact="yellow", affected_entity="Port authority")
    high = ask(client, people["fr"], people, recipients=reserve, impact="red", affected_entity="Power grid")
    waiting = ask(client, people["fr"], people, recipients=reserve, impact="red", affected_entity="Water works")
    for rid in (low, high):  # the SPOC transmits two of them (Reg. (EU) 2025/38 Art. 15(3)(a))
        assert client.post(f"{API}/{rid}/transmit", json={}, headers=people["spoc"].headers).status_code == 200
    ask(client, people["fr"], people)  # not to the Reserve: not ranked

    sign_in(client, people["enisa"].email)
    listing = page(client, "/assistance")
    assert 'href="/assistance/reserve-ranking"' in listing and "EU Cybersecurity Reserve" in listing
    ranked = page(client, "/assistance/reserve-ranking")
    words = text_of(ranked)
    assert words.index("#1 France: Power grid") < words.index("#2 France: Port authority")
    assert f'href="/assistance/{high}"' in ranked and f'href="/assistance/{low}"' in ranked
    assert "Water works" not in words  # not transmitted: not ranked
    # The criteria in the deployment's order, each with its article, and each rank explained.
    assert "The criteria, in the deployment's order" in words and "CYBERCRISIS_RESERVE_PRIORITY" in words
    assert (
        "Severity of the incident (its impact severity) (Reg. (EU) 2025/38 Art. 16, point (a): severity of the "
        "incident) red > yellow > green > white"
    ) in words
    assert "Entity type (Reg. (EU) 2025/38 Art. 16, point (b)" in words
    assert (
        "Why this rank: Above #2 (CERT-FR): incident impact severity red ranks before incident impact severity "
        "yellow (deployment's order)."
    ) in words
    assert "Why this rank: Last of the 2 requests ranked." in words
    assert "Incident impact severity red: 1st of red > yellow > green > white." in words
    assert low not in words and high not in words and waiting not in words  # named by rank and requester, not id
    assert "Hôpital Exemple" not in words

    sign_in(client, people["de"].email)  # sees none of the Reserve requests
    assert "/assistance/reserve-ranking" not in page(client, "/assistance")
    ranked = page(client, "/assistance/reserve-ranking")
    assert "No open or in-support request to the Reserve" in ranked and "Power grid" not in ranked


def test_the_requesters_spoc_transmits_a_reserve_request_from_its_page_and_no_one_else_may(
    client: TestClient, people: People, world: World, db: Session
) -> None:
    reserve = {"organisations": [people["de_spoc"].org_id], "communities": [], "reserve": True}
    rid = ask(client, people["fr"], people, recipients=reserve, tlp="amber+strict")
    # The requester and another Member State's SPOC (named, so it reads the request) see no button.
    for who in ("fr", "de_spoc"):
        sign_in(client, people[who].email)
        view = page(client, f"/assistance/{rid}")
        assert 'id="transmit-form"' not in view and "Transmit to the Reserve" not in view
        assert "Not yet transmitted" in text_of(view)
    # A POST from DE-SPOC (a valid CSRF token of its own session) is refused on the page; nothing is written.
    r = post(client, f"/assistance/{rid}/transmit", {"csrf_token": csrf_on(client, f"/assistance/{rid}")})
    assert r.status_code == 403 and "Art. 15(3)(a)" in r.text and "The request was not transmitted" in r.text
    assert audited(db, "assistance:request:transmit") == 0
    db.rollback()
    assert db.get(AssistanceRequest, rid).transmitted_at is None  # type: ignore[union-attr]

    sign_in(client, people["spoc"].email)  # FR's SPOC: the button, behind the CSRF check
    view = page(client, f"/assistance/{rid}")
    assert 'action="/assistance/' + rid + '/transmit" id="transmit-form"' in view
    assert ">Transmit to the Reserve</button>" in view
    r = post(client, f"/assistance/{rid}/transmit", {"csrf_token": "forged"})
    assert r.status_code == 403 and audited(db, "assistance:request:transmit") == 0
    r = post(client, f"/assistance/{rid}/transmit", {"csrf_token": csrf_on(client, f"/assistance/{rid}")})
    assert r.status_code == 303 and r.headers["location"] == f"/assistance/{rid}?done=transmitted#reserve-transmission"
    db.rollback()
    req = db.get(AssistanceRequest, rid)
    assert req is not None and req.transmitted_by_org_id == people["spoc"].org_id and req.transmitted_at is not None
    assert audited(db, "assistance:request:transmit", rid) == 1
    view = page(client, r.headers["location"])
    words = text_of(view)
    assert "The request was transmitted to the EU Cybersecurity Reserve" in words
    assert "Transmitted by FR-SPOC on" in words and "this deployment\u2019s target" in words
    assert 'id="transmit-form"' not in view  # once only
    sign_in(client, people["enisa"].email)  # the Reserve's administrators now read it
    assert "Transmitted by FR-SPOC" in text_of(page(client, f"/assistance/{rid}"))


# --- the capability catalogue -------------------------------------------------------------------------------------


def test_the_capability_catalogue_is_published_matched_changed_and_deleted(
    client: TestClient, people: People, db: Session
) -> None:
    sign_in(client, people["de"].email)
    form = page(client, "/capabilities/new")
    assert 'id="capability-form"' in form and ">Add to the catalogue</button>" in form
    data = {
        "csrf_token": csrf_on(client, "/capabilities/new"),
        "kind": "forensics",
        "title": "Forensics team",
        "description": "Four analysts, German and English",
        "people": "4",
        "notice_hours": "12",
        "tlp": "green",
    }
    for over, field in (
        ({"kind": ""}, "kind"),
        ({"title": " "}, "title"),
        ({"people": "0"}, "people"),
        ({"notice_hours": "a week"}, "notice_hours"),
        ({"tlp": "white"}, "tlp"),
        ({"communities": ["nowhere"]}, "communities"),
    ):
        r = post(client, "/capabilities/new", {**data, **over})
        assert r.status_code == 422 and f'id="f-{field}-error"' in r.text, (over, r.text)
        assert "Four analysts, German and English" in r.text
    assert count(db, Capability) == 0
    r = post(client, "/capabilities/new", data)
    assert r.status_code == 303 and r.headers["location"].endswith("?done=published")
    cap_id = r.headers["location"].split("?")[0].removeprefix("/capabilities/")
    assert audited(db, "assistance:capability:create", cap_id) == 1
    entry = page(client, r.headers["location"])
    assert "The entry is in the catalogue." in entry and 'id="capability-edit-form"' in entry
    assert "Csirts Network" in text_of(entry)  # GREEN: shared with CERT-DE's communities

    # The CSIRTs Network reads it, in the list and as a match of a request needing forensics; no edit form.
    rid = ask(client, people["fr"], people)
    sign_in(client, people["ee"].email)
    row = re.search(
        rf'<tr>\s*<th scope="row"><a href="/capabilities/{cap_id}">.*?</tr>', page(client, "/capabilities"), re.S
    )
    assert row and "Forensics" in text_of(row.group(0)) and "CERT-DE" in text_of(row.group(0))
    matches = page(client, f"/assistance/{rid}")
    assert f'href="/capabilities/{cap_id}">Forensics team</a>' in matches[matches.index('id="matches"') :]
    assert 'id="capability-edit-form"' not in page(client, f"/capabilities/{cap_id}")
    r = post(client, f"/capabilities/{cap_id}/delete", {"csrf_token": csrf_on(client, "/capabilities")})
    assert r.status_code == 403 and count(db, Capability) == 1
    # CERT-DE offers from its catalogue entry.
    sign_in(client, people["de"].email)
    view = page(client, f"/assistance/{rid}")
    assert re.search(rf'<option value="{cap_id}">Forensics: Forensics team', view)
    offered = {
        "csrf_token": csrf_on(client, f"/assistance/{rid}"),
        "capability": "incident-response",
        "people": "2",
        "available_from": "2030-01-01T00:00",
        "capability_id": cap_id,
    }
    r = post(client, f"/assistance/{rid}/offers", offered)  # an entry of another kind is refused
    assert r.status_code == 422 and 'id="o-capability_id-error"' in r.text and count(db, Offer) == 0
    r = post(client, f"/assistance/{rid}/offers", {**offered, "capability": "forensics"})
    assert r.status_code == 303
    db.rollback()
    assert db.scalars(select(Offer.capability_id)).one() == cap_id
    sign_in(client, people["fr"].email)  # the requester sees which entry it comes from, by its title
    view = page(client, f"/assistance/{rid}")
    assert f'from <a href="/capabilities/{cap_id}">Forensics team</a>' in view
    assert "catalogue entry: Forensics team" in text_of(view)  # the timeline names it too
    sign_in(client, people["de"].email)

    token = csrf_on(client, f"/capabilities/{cap_id}")
    edit = {
        "csrf_token": token,
        "version": "1",
        "kind": "forensics",
        "title": "Forensics team (on site)",
        "description": "",
        "people": "5",
        "notice_hours": "6",
    }
    r = post(client, f"/capabilities/{cap_id}/edit", {**edit, "people": "-1"})
    assert r.status_code == 422 and 'id="e-people-error"' in r.text
    r = post(client, f"/capabilities/{cap_id}/edit", edit)
    assert r.status_code == 303 and r.headers["location"].endswith("?done=saved")
    r = post(client, f"/capabilities/{cap_id}/edit", {**edit, "title": "Stale"})  # version 1 is stale now
    assert r.status_code == 409 and "changed by someone else" in r.text and "Stale" in r.text
    r = post(client, f"/capabilities/{cap_id}/active", {"csrf_token": token, "version": "2", "active": "no"})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=deactivated")
    db.rollback()
    cap = db.get(Capability, cap_id)
    assert cap is not None and (cap.title, cap.people, cap.notice_hours, cap.active) == (
        "Forensics team (on site)",
        5,
        6,
        False,
    )
    assert audited(db, "assistance:capability:update", cap_id) == 2
    entry = page(client, f"/capabilities/{cap_id}")
    assert "Inactive" in entry and ">Activate</button>" in entry and "Entry changed" in text_of(entry)
    assert f"/capabilities/{cap_id}" not in page(client, f"/assistance/{rid}").split('id="matches"')[1]
    assert cap_id not in page(client, "/capabilities?status=active")
    r = post(client, f"/capabilities/{cap_id}/delete", {"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/capabilities?done=deleted"
    assert count(db, Capability) == 0 and audited(db, "assistance:capability:delete", cap_id) == 1
    assert "The entry was deleted" in page(client, r.headers["location"])
    assert client.get(f"/capabilities/{cap_id}", headers=HTML).status_code == 404

    sign_in(client, people["outsider"].email)  # sees none of it
    assert client.get(f"/assistance/{rid}", headers=HTML).status_code == 404
    assert "No entry" in page(client, "/capabilities")
