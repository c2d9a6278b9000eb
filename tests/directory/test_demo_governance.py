"""The demo directory follows who belongs where: NIS2 Art. 14(3), 15(2), 16(2) and the IPCR arrangements
(Council Implementing Decision (EU) 2018/1993). Read from the JSON the demo loads."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.accounts.service import SYSTEM
from cybercrisis.db import unit_of_work
from cybercrisis.demo import DEMO_FILE
from cybercrisis.directory import exchange
from cybercrisis.directory.countries import EU_MEMBER_STATES
from cybercrisis.directory.models import MembershipRole

DATA: dict[str, Any] = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
ORGS = {o["key"]: o for o in DATA["organisations"]}


def _by_role(community: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for o in DATA["organisations"]:
        if community in o.get("communities", []):
            out[o.get("roles", {}).get(community, "member")].append(o)
    return out


def _keys(orgs: list[dict[str, Any]]) -> set[str]:
    return {o["key"] for o in orgs}


def _one_per_member_state(orgs: list[dict[str, Any]], type_: str) -> None:
    countries = sorted(o["country"] for o in orgs if o["type"] == type_)
    assert countries == sorted(EU_MEMBER_STATES)


def test_every_role_in_the_demo_is_a_known_role_for_a_listed_community() -> None:
    valid = {r.value for r in MembershipRole}
    for o in DATA["organisations"]:
        assert set(o.get("roles", {})) <= set(o.get("communities", [])), o["key"]
        assert set(o.get("roles", {}).values()) <= valid, o["key"]


def test_csirts_network_is_the_national_csirts_and_cert_eu_with_the_commission_observing_art_15_2() -> None:
    roles = _by_role("csirts-network")
    members = roles["member"]
    assert {o["type"] for o in members} == {"national-csirt", "eu-body"}
    assert {o["key"] for o in members if o["type"] == "eu-body"} == {"cert-eu"}
    _one_per_member_state(members, "national-csirt")
    assert _keys(roles["observer"]) == {"ec-dg-connect"}
    assert _keys(roles["secretariat"]) == {"enisa"}
    assert "europol-ec3" not in _keys([o for r in roles.values() for o in r])  # Art. 15(2) names no such participant
    assert not roles["invited-observer"]


def test_eu_cyclone_is_the_crisis_authorities_with_commission_observer_and_enisa_secretariat_art_16_2() -> None:
    roles = _by_role("eu-cyclone")
    members = roles["member"]
    assert {o["type"] for o in members} == {"crisis-authority"}
    _one_per_member_state(members, "crisis-authority")
    assert _keys(roles["observer"]) == {"ec-dg-connect"}  # member only when Art. 16(2)'s condition is met
    assert _keys(roles["secretariat"]) == {"enisa"}
    # Art. 16(2), third subparagraph: stakeholders take part only as invited observers, never as members.
    assert _keys(roles["invited-observer"]) == {"cert-eu", "eeas", "europol-ec3"}


def test_ipcr_brings_the_member_states_presidency_commission_and_eeas_with_the_gsc_supporting() -> None:
    roles = _by_role("ipcr")
    members = roles["member"]
    _one_per_member_state(members, "ipcr-representative")
    assert {o["key"] for o in members if o["type"] != "ipcr-representative"} == {
        "council-presidency",
        "ec-dg-connect",
        "eeas",
    }
    assert _keys(roles["secretariat"]) == {"council-gsc-ipcr"}
    assert not roles["observer"] and not roles["invited-observer"]


def test_nis_cooperation_group_is_member_states_commission_and_enisa_with_the_eeas_observing_art_14_3() -> None:
    roles = _by_role("nis-cooperation-group")
    members = roles["member"]
    assert {o["type"] for o in members} == {"spoc", "competent-authority", "eu-body"}
    assert {o["key"] for o in members if o["type"] == "eu-body"} == {"ec-dg-connect", "enisa"}
    assert {o["country"] for o in members if o["type"] == "spoc"} == set(EU_MEMBER_STATES)
    assert _keys(roles["observer"]) == {"eeas"}


@pytest.mark.parametrize(
    ("community", "cited"),
    [
        ("csirts-network", ["Art. 15(2)", "observer", "secretariat"]),
        ("eu-cyclone", ["Art. 16(2)", "observer", "secretariat", "third subparagraph"]),
        ("ipcr", ["2018/1993", "Presidency", "General Secretariat of the Council"]),
        ("nis-cooperation-group", ["Art. 14(3)", "observer", "secretariat"]),
    ],
)
def test_each_community_cites_the_source_of_its_roles(community: str, cited: list[str]) -> None:
    basis = next(c["basis"] for c in DATA["communities"] if c["slug"] == community)
    for text in cited:
        assert text in basis


def test_loaded_demo_directory_keeps_the_roles_and_only_members_decide(
    session_factory: sessionmaker[Session],
) -> None:
    from cybercrisis.directory import service  # not at import time: the app wires the audit/exchange cycle

    with unit_of_work(session_factory) as s:
        exchange.import_directory(s, actor=SYSTEM, text=DEMO_FILE.read_text(encoding="utf-8"), fmt="json")
    with unit_of_work(session_factory, write=False) as s:
        commission = exchange.org_id_for_key("ec-dg-connect")
        assert service.community_role(s, org_id=commission, community="eu-cyclone") == "observer"
        assert service.community_role(s, org_id=exchange.org_id_for_key("enisa"), community="eu-cyclone") == (
            "secretariat"
        )
        deciding = service.deciding_members(s, community="eu-cyclone")
        assert deciding == {exchange.org_id_for_key(f"{cc.lower()}-crisis") for cc in EU_MEMBER_STATES}
        assert "csirts-network:observer" in exchange.export_csv(s)  # a role travels with the CSV as slug:role
