"""Who decides in a crisis (NIS2 Art. 15(2), 16(2)) and how IPCR is activated (Council Implementing Decision (EU)
2018/1993, the IPCR arrangements): members decide, observers read, the secretariat supports; the Commission's
EU-CyCLONe role is recorded per crisis; activations wait for their recorded consultations."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.audit.models import AuditEvent
from cybercrisis.config import Settings
from cybercrisis.crises.models import Crisis
from cybercrisis.db import unit_of_work
from cybercrisis.directory.models import Community, CommunityMembership
from tests.conftest import Actor, World

NOW = datetime.now(UTC).replace(microsecond=0)

# short name: (type, country, {community: role})
ORGS: dict[str, tuple[str, str | None, dict[str, str]]] = {
    "CERT-FR": ("national-csirt", "FR", {"csirts-network": "member"}),
    "CERT-Bund": ("national-csirt", "DE", {"csirts-network": "member"}),
    "ANSSI-CRISIS": ("crisis-authority", "FR", {"eu-cyclone": "member"}),
    "ENISA": ("eu-body", None, {"csirts-network": "secretariat", "eu-cyclone": "secretariat"}),
    "COMMISSION": ("eu-body", None, {"eu-cyclone": "observer", "ipcr": "member"}),
    "EEAS": ("eu-body", None, {"ipcr": "member"}),
    "PRESIDENCY": ("eu-body", None, {"ipcr": "member"}),
    "GSC": ("eu-body", None, {"ipcr": "secretariat"}),
    "FR-IPCR": ("competent-authority", "FR", {"ipcr": "member"}),
    "DE-IPCR": ("competent-authority", "DE", {"ipcr": "member"}),
    "STAKEHOLDER": ("partner", None, {"eu-cyclone": "invited-observer"}),
}
NAMES = {
    "csirts-network": ("CSIRTs Network", "technical", "NIS2 Art. 15(2)"),
    "eu-cyclone": ("EU-CyCLONe", "operational", "NIS2 Art. 16(2)"),
    "ipcr": ("IPCR", "political", "Council Implementing Decision (EU) 2018/1993"),
}


@pytest.fixture(autouse=True)
def cast(world: World, settings: Settings, tmp_path: Path, session_factory: sessionmaker[Session]) -> dict[str, Actor]:
    """Members, observers and secretariats of the three communities, and an escalation model shaped like the shipped
    one (IPCR monitoring, information sharing by one of four after consulting the Presidency, full activation by the
    Presidency after consulting the affected Member States, the Commission and the EEAS)."""
    with unit_of_work(session_factory) as s:
        for slug, (name, level, basis) in NAMES.items():
            s.add(Community(slug=slug, name=name, level=level, description="", basis=basis))
    for short, (type_, country, roles) in ORGS.items():
        world.org(short, type_=type_, country=country, communities=tuple(roles))
        with unit_of_work(session_factory) as s:
            for slug, role in roles.items():
                s.execute(
                    update(CommunityMembership)
                    .where(CommunityMembership.org_id == world.orgs[short], CommunityMembership.community_slug == slug)
                    .values(role=role)
                )
    o = world.orgs
    model = {
        "note": "test model",
        "commission": {"organisation": o["COMMISSION"], "community": "eu-cyclone", "basis": "NIS2 Art. 16(2)"},
        "stages": [
            {"key": "csirts-network", "label": "CSIRTs Network", "level": "technical", "community": "csirts-network"},
            {"key": "eu-cyclone", "label": "EU-CyCLONe", "level": "operational", "community": "eu-cyclone"},
            {"key": "ipcr-monitoring", "label": "IPCR monitoring", "level": "political", "community": "ipcr"},
            {
                "key": "ipcr-information-sharing",
                "label": "IPCR information sharing",
                "level": "political",
                "community": "ipcr",
                "activated_by_any": [o["PRESIDENCY"], o["GSC"], o["COMMISSION"], o["EEAS"]],
                "consult": [o["PRESIDENCY"]],
                "exit_approvers": [o["PRESIDENCY"]],
            },
            {
                "key": "ipcr-full-activation",
                "label": "IPCR full activation",
                "level": "political",
                "community": "ipcr",
                "approvers": [o["PRESIDENCY"]],
                "consult": ["affected-member-states", o["COMMISSION"], o["EEAS"]],
            },
        ],
    }
    path = tmp_path / "escalation.json"
    path.write_text(json.dumps(model))
    settings.escalation_model = path
    cast = {short.lower(): world.user(short, roles=("coordinator",)) for short in ORGS}
    cast["cert-fr-analyst"] = world.user("CERT-FR")
    return cast


def _post(client: TestClient, actor: Actor, path: str, body: dict[str, Any]) -> Any:
    return client.post(f"/api/v1{path}", json=body, headers=actor.headers)


def _crisis(
    client: TestClient, cast: dict[str, Actor], *, stage: str = "eu-cyclone", incidents: tuple[str, ...] = ()
) -> str:
    ids = []
    for country in incidents:
        r = _post(
            client,
            cast["cert-fr-analyst"],
            "/incidents",
            {
                "title": f"Ransomware in {country}",
                "aware_at": (NOW - timedelta(hours=3)).isoformat(),
                "countries": [country],
                "sectors": ["health"],
                "tlp": "green",
                # The Presidency consults the affected Member States it knows of: those of incidents it may read.
                "share_with": {"communities": ["csirts-network"], "organisations": [cast["presidency"].org_id]},
            },
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    r = _post(
        client,
        cast["enisa"],
        "/crises",
        {
            "title": "Hospital ransomware wave",
            "justification": "FR and DE",
            "incidents": ids,
            "tlp": "amber",
            "stage": stage,
        },
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _decide(client: TestClient, actor: Actor, cid: str, level: str) -> Any:
    return _post(
        client,
        actor,
        f"/crises/{cid}/decisions",
        {"level": level, "kind": "response", "title": "Decided", "rationale": "r"},
    )


def _to_ipcr(client: TestClient, cast: dict[str, Actor], cid: str, stage: str) -> dict[str, Any]:
    r = _post(client, cast["enisa"], f"/crises/{cid}/escalations", {"to": stage, "rationale": "political attention"})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_the_secretariat_is_refused_operational_and_political_decisions_with_the_reason(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    cid = _crisis(client, cast)
    refused = _decide(client, cast["enisa"], cid, "operational")
    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        "ENISA is the secretariat of EU-CyCLONe (NIS2 Art. 16(2)): it supports but does not decide"
    )
    _to_ipcr(client, cast, cid, "ipcr-monitoring")
    political = _decide(client, cast["enisa"], cid, "political")
    assert political.status_code == 403 and "ipcr" in political.json()["detail"]
    # Owning the crisis changes nothing; a member of EU-CyCLONe decides there, the Presidency at the political level.
    assert _decide(client, cast["anssi-crisis"], cid, "operational").status_code == 201
    assert _decide(client, cast["presidency"], cid, "political").status_code == 201


def test_the_commission_decides_in_eu_cyclone_only_once_the_crisis_records_it_as_a_member(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    cid = _crisis(client, cast)
    refused = _decide(client, cast["commission"], cid, "operational")
    assert refused.status_code == 403
    assert "observer" in refused.json()["detail"] and "NIS2 Art. 16(2)" in refused.json()["detail"]
    # An observer does not flip the switch; a deciding member of EU-CyCLONe does, citing its reason.
    switch = {"role": "member", "rationale": "Hospitals (NIS2 Annex I) disrupted in two Member States"}
    assert _post(client, cast["stakeholder"], f"/crises/{cid}/commission-role", switch).status_code == 403
    set_ = _post(client, cast["anssi-crisis"], f"/crises/{cid}/commission-role", switch)
    assert set_.status_code == 200, set_.text
    assert "NIS2 Art. 16(2)" in set_.json()["title"]
    assert db.get(Crisis, cid).commission_role == "member"  # type: ignore[union-attr]
    tagged = (AuditEvent.object_id == cid, AuditEvent.tag == "crises:crisis:commission-role")
    tags = db.scalars(select(AuditEvent.summary).where(*tagged)).all()
    assert [json.loads(t)["to"] if isinstance(t, str) else t["to"] for t in tags] == ["member"]
    assert _decide(client, cast["commission"], cid, "operational").status_code == 201
    room = client.get(f"/api/v1/crises/{cid}", headers=cast["commission"].headers).json()
    assert room["commission_role"] == "member"


def test_an_invited_observer_reads_but_is_refused_a_decision(client: TestClient, cast: dict[str, Actor]) -> None:
    cid = _crisis(client, cast)
    assert client.get(f"/api/v1/crises/{cid}", headers=cast["stakeholder"].headers).status_code == 200
    refused = _decide(client, cast["stakeholder"], cid, "operational")
    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        "STAKEHOLDER is an invited observer in EU-CyCLONe (NIS2 Art. 16(2)): observers read but do not decide"
    )


def test_the_gsc_activates_information_sharing_only_in_recorded_consultation_with_the_presidency(
    client: TestClient, cast: dict[str, Actor], world: World
) -> None:
    cid = _crisis(client, cast)
    _to_ipcr(client, cast, cid, "ipcr-monitoring")
    esc = _to_ipcr(client, cast, cid, "ipcr-information-sharing")
    assert esc["state"] == "pending"
    assert {o["name"] for o in esc["waiting_for"]} == {"PRESIDENCY", "GSC", "COMMISSION", "EEAS"}
    approve = f"/crises/{cid}/escalations/{esc['id']}/approve"
    early = _post(client, cast["gsc"], approve, {"comment": "activate"})
    assert early.status_code == 409 and "PRESIDENCY" in early.json()["detail"]
    # An organisation that may not activate the step does not record its consultations.
    consult = f"/crises/{cid}/escalations/{esc['id']}/consultations"
    body = {
        "consulted": world.orgs["PRESIDENCY"],
        "view": "Agrees to information sharing",
        "consulted_at": (NOW - timedelta(minutes=30)).isoformat(),
    }
    assert _post(client, cast["anssi-crisis"], consult, body).status_code == 403
    recorded = _post(client, cast["gsc"], consult, body)
    assert recorded.status_code == 201, recorded.text
    assert [(c["org"]["name"], c["view"]) for c in recorded.json()["consultations"]] == [
        ("PRESIDENCY", "Agrees to information sharing")
    ]
    done = _post(client, cast["gsc"], approve, {"comment": "activated in consultation with the Presidency"})
    assert done.status_code == 200 and done.json()["state"] == "done", done.text
    assert client.get(f"/api/v1/crises/{cid}", headers=cast["gsc"].headers).json()["stage"] == (
        "ipcr-information-sharing"
    )


def test_the_presidency_activates_information_sharing_without_consulting_itself(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    cid = _crisis(client, cast, stage="ipcr-monitoring")
    esc = _to_ipcr(client, cast, cid, "ipcr-information-sharing")
    done = _post(client, cast["presidency"], f"/crises/{cid}/escalations/{esc['id']}/approve", {})
    assert done.status_code == 200 and done.json()["state"] == "done", done.text


def test_full_activation_is_refused_until_the_consultations_are_recorded_then_the_presidency_decides(
    client: TestClient, cast: dict[str, Actor], world: World
) -> None:
    cid = _crisis(client, cast, stage="ipcr-monitoring", incidents=("FR", "DE"))
    esc = _to_ipcr(client, cast, cid, "ipcr-full-activation")
    # Straight from monitoring: information sharing's consultation of the Presidency comes along (not owed by it).
    assert set(esc["consult"]) == {"affected Member States", "COMMISSION", "EEAS", "PRESIDENCY"}
    approve = f"/crises/{cid}/escalations/{esc['id']}/approve"
    refused = _post(client, cast["presidency"], approve, {})
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    for missing in ("the affected Member State DE", "the affected Member State FR", "COMMISSION", "EEAS"):
        assert missing in detail, detail
    consult = f"/crises/{cid}/escalations/{esc['id']}/consultations"
    for short in ("FR-IPCR", "COMMISSION", "EEAS"):
        r = _post(client, cast["presidency"], consult, {"consulted": world.orgs[short], "view": "in favour"})
        assert r.status_code == 201, r.text
    still = _post(client, cast["presidency"], approve, {})
    assert still.status_code == 409 and "the affected Member State DE" in still.json()["detail"]
    assert "FR" not in still.json()["detail"].replace("POST", "")
    # The consulted organisation may record its own view.
    own = _post(client, cast["de-ipcr"], consult, {"consulted": world.orgs["DE-IPCR"], "view": "supports"})
    assert own.status_code == 201, own.text
    done = _post(client, cast["presidency"], approve, {"comment": "full activation after consultations"})
    assert done.status_code == 200 and done.json()["state"] == "done", done.text
    assert len(done.json()["consultations"]) == 4


def test_the_affected_member_states_to_consult_are_those_of_the_incidents_the_decider_may_read(
    client: TestClient, cast: dict[str, Actor], world: World
) -> None:
    # A Polish incident only ENISA reads (AMBER+STRICT): linked to the crisis, but hidden from the Presidency.
    hidden = _post(
        client,
        cast["cert-fr-analyst"],
        "/incidents",
        {
            "title": "Wiper at a Polish grid operator",
            "aware_at": (NOW - timedelta(hours=3)).isoformat(),
            "countries": ["PL"],
            "tlp": "amber+strict",
            "share_with": {"organisations": [world.orgs["ENISA"]]},
        },
    )
    assert hidden.status_code == 201, hidden.text
    cid = _crisis(client, cast, stage="ipcr-monitoring", incidents=("FR",))
    linked = _post(client, cast["enisa"], f"/crises/{cid}/incidents", {"incidents": [hidden.json()["id"]]})
    assert linked.status_code in (200, 201), linked.text
    esc = _to_ipcr(client, cast, cid, "ipcr-full-activation")
    approve = f"/crises/{cid}/escalations/{esc['id']}/approve"
    refused = _post(client, cast["presidency"], approve, {})
    assert refused.status_code == 409 and "the affected Member State FR" in refused.json()["detail"]
    assert "PL" not in refused.json()["detail"]  # neither named nor required: the Presidency cannot know of it
    consult = f"/crises/{cid}/escalations/{esc['id']}/consultations"
    for short in ("FR-IPCR", "COMMISSION", "EEAS"):
        assert (
            _post(client, cast["presidency"], consult, {"consulted": world.orgs[short], "view": "ok"}).status_code
            == 201
        )
    done = _post(client, cast["presidency"], approve, {"comment": "after consultations"})
    assert done.status_code == 200 and done.json()["state"] == "done", done.text


def test_a_consultation_in_the_future_or_of_an_unknown_organisation_is_refused_and_changes_nothing(
    client: TestClient, cast: dict[str, Actor], world: World
) -> None:
    cid = _crisis(client, cast, stage="ipcr-monitoring")
    esc = _to_ipcr(client, cast, cid, "ipcr-full-activation")
    consult = f"/crises/{cid}/escalations/{esc['id']}/consultations"
    future = {"consulted": world.orgs["EEAS"], "view": "x", "consulted_at": (NOW + timedelta(days=1)).isoformat()}
    r = _post(client, cast["presidency"], consult, future)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "consulted_at"
    r = _post(client, cast["presidency"], consult, {"consulted": "identity--nobody", "view": "x"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "consulted"
    listed = client.get(f"/api/v1/crises/{cid}/escalations", headers=cast["presidency"].headers).json()
    assert listed[-1]["consultations"] == []


def test_monitoring_mode_exists_and_precedes_information_sharing_in_the_shipped_model() -> None:
    from cybercrisis.crises import escalation  # after the app's modules: importing it first meets an import cycle

    model = escalation.parse(escalation.DEFAULT_MODEL.read_text(encoding="utf-8"))
    keys = [s.key for s in model.stages]
    assert (
        keys.index("ipcr-monitoring") + 1 == keys.index("ipcr-information-sharing") < keys.index("ipcr-full-activation")
    )
    sharing, full = model.stage("ipcr-information-sharing"), model.stage("ipcr-full-activation")
    assert sharing.approvers == () and len(sharing.activated_by_any) == 4 and len(sharing.consult) == 1
    assert escalation.AFFECTED_MEMBER_STATES in full.consult and "2018/1993" in full.basis
    assert model.commission is not None and model.commission.basis == "NIS2 Art. 16(2)"
    assert "deployment's own" in model.note


def test_a_model_whose_commission_names_no_stage_community_is_refused_at_start() -> None:
    from cybercrisis.crises import escalation

    text = json.dumps(
        {
            "commission": {"organisation": "ec", "community": "nowhere", "basis": "NIS2 Art. 16(2)"},
            "stages": [{"key": "a", "label": "A", "level": "technical", "community": "c"}],
        }
    )
    with pytest.raises(ValueError, match=r"commission\.community"):
        escalation.parse(text)


def test_the_room_records_a_consultation_and_the_commissions_role_through_its_forms(
    client: TestClient, cast: dict[str, Actor], world: World, db: Session
) -> None:
    from tests.web.conftest import HTML, csrf_on, sign_in

    cid = _crisis(client, cast)
    _to_ipcr(client, cast, cid, "ipcr-monitoring")
    esc = _to_ipcr(client, cast, cid, "ipcr-information-sharing")
    room = f"/crises/{cid}"
    # The GSC may activate information sharing: the room offers it the consultation form, then the answer.
    sign_in(client, cast["gsc"].email)
    page = client.get(room, headers=HTML).text
    assert "Record a consultation" in page and "To consult first" in page
    token = csrf_on(client, room)
    url = f"{room}/escalations/{esc['id']}/consultations"
    bad = client.post(url, data={"csrf_token": token, "consulted": world.orgs["PRESIDENCY"], "view": " "}, headers=HTML)
    assert bad.status_code == 422 and "The consultation was not recorded" in bad.text
    ok = client.post(
        url,
        data={"csrf_token": token, "consulted": world.orgs["PRESIDENCY"], "view": "Agrees"},
        headers=HTML,
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"].endswith("done=consulted#escalations")
    assert "PRESIDENCY" in client.get(room, headers=HTML).text.split("Consulted")[1][:400]
    # The Commission's role: the crisis owner (ENISA) records it; an invited observer is not offered the form.
    sign_in(client, cast["stakeholder"].email)
    assert "Change the Commission" not in client.get(room, headers=HTML).text
    sign_in(client, cast["enisa"].email)
    assert "Change the Commission" in client.get(room, headers=HTML).text
    token = csrf_on(client, room)
    refused = client.post(
        f"{room}/commission-role", data={"csrf_token": token, "role": "member", "rationale": ""}, headers=HTML
    )
    assert refused.status_code == 422 and "role was not recorded" in refused.text
    done = client.post(
        f"{room}/commission-role",
        headers=HTML,
        follow_redirects=False,
        data={"csrf_token": token, "role": "member", "rationale": "Hospitals disrupted in FR and DE"},
    )
    assert done.status_code == 303, done.text
    db.rollback()
    assert db.get(Crisis, cid).commission_role == "member"  # type: ignore[union-attr]
