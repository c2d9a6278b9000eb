"""Significance per Implementing Regulation (EU) 2024/2690 and large-scale per NIS2 Art. 6(7).

The cases come from the articles' wording: each threshold is tried just below, at and just above, and "more than"
means that the figure itself does not fire. Recurrence (Art. 4) runs through the real database and the API.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cybercrisis.config import Settings
from cybercrisis.incidents import assessment
from cybercrisis.incidents.criteria import RELEVANT_ENTITY_TYPES
from tests.conftest import Actor, World

LAW_ONLY = assessment.Thresholds(red_impact_suggests_significant=False)
REG = "Reg. (EU) 2024/2690 Art. "
NOW = datetime.now(UTC).replace(microsecond=0)

CLOUD, DNS, TLD, DC, CDN = (
    "cloud-computing-service-provider",
    "dns-service-provider",
    "tld-name-registry",
    "data-centre-service-provider",
    "content-delivery-network-provider",
)
MSP, MSSP, TSP, QTSP = (
    "managed-service-provider",
    "managed-security-service-provider",
    "trust-service-provider",
    "qualified-trust-service-provider",
)
PLATFORMS = (("11", "online-marketplace"), ("12", "online-search-engine"), ("13", "social-networking-platform"))
MALICIOUS = {"suspected_malicious": True}


def finding(entity_type: str | None, point: str, facts: dict[str, Any], **incident: Any) -> assessment.Finding:
    a = assessment.assess(entity_type=entity_type, facts=facts, thresholds=LAW_ONLY, **incident)
    return next(f for f in a.findings if f.basis == REG + point)


def fires(entity_type: str | None, point: str, facts: dict[str, Any], **incident: Any) -> bool:
    return finding(entity_type, point, facts, **incident).fired


# --- Art. 3(1): general criteria ----------------------------------------------------------------------------

GENERAL = [
    # (a) "exceeds EUR 500 000 or 5 % of ... turnover, whichever is lower"
    ("3(1)(a)", {"financial_loss_eur": 499_999}, {}, False),
    ("3(1)(a)", {"financial_loss_eur": 500_000}, {}, False),
    ("3(1)(a)", {"financial_loss_eur": 500_001}, {}, True),
    ("3(1)(a)", {"financial_loss_eur": 400_000, "annual_turnover_eur": 8_000_000}, {}, False),  # 5 % = 400 000
    ("3(1)(a)", {"financial_loss_eur": 400_001, "annual_turnover_eur": 8_000_000}, {}, True),
    ("3(1)(a)", {"financial_loss_eur": 500_000, "annual_turnover_eur": 50_000_000}, {}, False),  # 500 000 lower
    ("3(1)(a)", {"financial_loss_eur": 500_001, "annual_turnover_eur": 50_000_000}, {}, True),
    ("3(1)(b)", {"trade_secrets_exfiltrated": True}, {}, True),
    ("3(1)(b)", {"trade_secrets_exfiltrated": False}, {}, False),
    ("3(1)(c)", {"death_of_natural_person": True}, {}, True),
    ("3(1)(c)", {}, {}, False),
    ("3(1)(d)", {"considerable_health_damage": True}, {}, True),
    ("3(1)(d)", {"considerable_health_damage": False}, {}, False),
    # (e) successful, suspectedly malicious and unauthorised access capable of severe operational disruption
    ("3(1)(e)", {"unauthorised_access": True}, MALICIOUS, True),
    ("3(1)(e)", {"unauthorised_access": True}, {}, False),
    ("3(1)(e)", {}, MALICIOUS, False),
]


@pytest.mark.parametrize(("point", "facts", "incident", "expected"), GENERAL)
@pytest.mark.parametrize("entity_type", sorted(RELEVANT_ENTITY_TYPES))
def test_general_criteria_of_article_3_apply_to_every_relevant_entity(
    entity_type: str, point: str, facts: dict[str, Any], incident: dict[str, Any], expected: bool
) -> None:
    assert fires(entity_type, point, facts, **incident) is expected


def test_the_regulation_does_not_apply_to_other_nis2_entities() -> None:
    a = assessment.assess(entity_type="essential", facts={"financial_loss_eur": 9_000_000}, thresholds=LAW_ONLY)
    assert a.criteria == "NIS2 Art. 23(3)" and a.suggestion == "not-significant"
    assert not [f for f in a.findings if f.basis.startswith(REG + "3")]
    scope = next(f for f in a.findings if f.rule == "outside-reg-2024-2690")
    assert scope.basis == REG + "1" and scope.effect == "none"


def test_a_deployment_may_apply_the_general_criteria_to_other_entities_labelled_as_its_own() -> None:
    t = assessment.Thresholds(red_impact_suggests_significant=False, general_criteria_for_all_entities=True)
    a = assessment.assess(entity_type="essential", facts={"financial_loss_eur": 900_000}, thresholds=t)
    loss = next(f for f in a.findings if f.rule == "direct-financial-loss")
    assert loss.fired and a.significant
    assert loss.source == "deployment" and loss.basis.startswith("deployment rule")


def test_scheduled_maintenance_is_not_counted_by_the_availability_criteria() -> None:
    facts = {"unavailability_minutes": 240, "scheduled_maintenance": True, "data_compromised": True}
    a = assessment.assess(entity_type=CLOUD, facts=facts, suspected_malicious=True, thresholds=LAW_ONLY)
    by_basis = {f.basis: f for f in a.findings}
    assert not by_basis[REG + "7(a)"].fired  # Art. 3(2)
    assert by_basis[REG + "7(c)"].fired  # a malicious data compromise is no planned consequence
    assert by_basis[REG + "3(2)"].effect == "not-counted"


# --- Art. 5 to 14: per entity type ----------------------------------------------------------------------------

ENTITY = [
    # Art. 5 DNS: (a) "completely unavailable for more than 30 minutes"
    (DNS, "5(a)", {"unavailability_minutes": 30}, {}, False),
    (DNS, "5(a)", {"unavailability_minutes": 31}, {}, True),
    # (b) "for a period of more than one hour, the average response time ... is more than 10 seconds"
    (DNS, "5(b)", {"dns_average_response_seconds": 10, "dns_slow_response_minutes": 61}, {}, False),
    (DNS, "5(b)", {"dns_average_response_seconds": 10.5, "dns_slow_response_minutes": 60}, {}, False),
    (DNS, "5(b)", {"dns_average_response_seconds": 10.5, "dns_slow_response_minutes": 61}, {}, True),
    # (c) compromised, "except ... fewer than 1 000 domain names ... no more than 1 % ... misconfiguration"
    (DNS, "5(c)", {"data_compromised": True}, {}, True),
    (
        DNS,
        "5(c)",
        {
            "data_compromised": True,
            "misconfiguration_only": True,
            "domain_names_affected": 999,
            "domain_names_managed": 99_900,
        },
        {},
        False,
    ),  # exactly 1 %: excepted
    (
        DNS,
        "5(c)",
        {
            "data_compromised": True,
            "misconfiguration_only": True,
            "domain_names_affected": 999,
            "domain_names_managed": 99_899,
        },
        {},
        True,
    ),  # above 1 %
    (
        DNS,
        "5(c)",
        {
            "data_compromised": True,
            "misconfiguration_only": True,
            "domain_names_affected": 1_000,
            "domain_names_managed": 1_000_000,
        },
        {},
        True,
    ),  # not fewer than 1 000
    (
        DNS,
        "5(c)",
        {"data_compromised": True, "domain_names_affected": 10, "domain_names_managed": 1_000_000},
        {},
        True,
    ),  # not a misconfiguration
    # Art. 6 TLD: (a) any complete unavailability
    (TLD, "6(a)", {"unavailability_minutes": 0}, {}, False),
    (TLD, "6(a)", {"unavailability_minutes": 1}, {}, True),
    (TLD, "6(b)", {"dns_average_response_seconds": 11, "dns_slow_response_minutes": 60}, {}, False),
    (TLD, "6(b)", {"dns_average_response_seconds": 11, "dns_slow_response_minutes": 61}, {}, True),
    (TLD, "6(c)", {"data_compromised": True}, {}, True),  # no malicious action needed
    (TLD, "6(c)", {}, {}, False),
    # Art. 7 cloud: (b) "limited for more than 5 % ... or for more than 1 million ..., whichever number is smaller,
    # for a duration of more than one hour"
    (CLOUD, "7(a)", {"unavailability_minutes": 30}, {}, False),
    (CLOUD, "7(a)", {"unavailability_minutes": 31}, {}, True),
    (CLOUD, "7(b)", {"limited_availability_minutes": 61, "users_affected": 1_000_000}, {}, False),
    (CLOUD, "7(b)", {"limited_availability_minutes": 61, "users_affected": 1_000_001}, {}, True),
    (CLOUD, "7(b)", {"limited_availability_minutes": 60, "users_affected": 1_000_001}, {}, False),
    (
        CLOUD,
        "7(b)",
        {"limited_availability_minutes": 61, "users_affected": 100_000, "users_in_union": 2_000_000},
        {},
        False,
    ),  # exactly 5 %
    (
        CLOUD,
        "7(b)",
        {"limited_availability_minutes": 61, "users_affected": 100_001, "users_in_union": 2_000_000},
        {},
        True,
    ),
    (CLOUD, "7(b)", {"limited_availability_minutes": 61, "users_affected_percent": 5.0}, {}, False),
    (CLOUD, "7(b)", {"limited_availability_minutes": 61, "users_affected_percent": 5.1}, {}, True),
    (CLOUD, "7(c)", {"data_compromised": True}, MALICIOUS, True),
    (CLOUD, "7(c)", {"data_compromised": True}, {}, False),
    (CLOUD, "7(d)", {"data_compromised": True, "users_data_compromised": 1_000_000}, {}, False),
    (CLOUD, "7(d)", {"data_compromised": True, "users_data_compromised": 1_000_001}, {}, True),
    (
        CLOUD,
        "7(d)",
        {"data_compromised": True, "users_data_compromised": 50_001, "users_in_union": 1_000_000},
        {},
        True,
    ),
    # Art. 8 data centres: any complete unavailability; limited "for a duration of more than one hour"
    (DC, "8(a)", {"unavailability_minutes": 0}, {}, False),
    (DC, "8(a)", {"unavailability_minutes": 1}, {}, True),
    (DC, "8(b)", {"limited_availability_minutes": 60}, {}, False),
    (DC, "8(b)", {"limited_availability_minutes": 61}, {}, True),
    (DC, "8(c)", {"data_compromised": True}, MALICIOUS, True),
    (DC, "8(c)", {"data_compromised": True}, {}, False),
    (DC, "8(d)", {"physical_access_compromised": True}, {}, True),
    (DC, "8(d)", {}, {}, False),
    # Art. 9 CDN and Art. 10 managed (security) services: the shape of Art. 7
    (CDN, "9(a)", {"unavailability_minutes": 30}, {}, False),
    (CDN, "9(a)", {"unavailability_minutes": 31}, {}, True),
    (CDN, "9(b)", {"limited_availability_minutes": 61, "users_affected": 1_000_001}, {}, True),
    (CDN, "9(c)", {"data_compromised": True}, MALICIOUS, True),
    (CDN, "9(d)", {"data_compromised": True, "users_data_compromised": 1_000_001}, {}, True),
    (MSP, "10(a)", {"unavailability_minutes": 31}, {}, True),
    (MSSP, "10(a)", {"unavailability_minutes": 30}, {}, False),
    (MSSP, "10(b)", {"limited_availability_minutes": 61, "users_affected_percent": 6}, {}, True),
    (MSP, "10(c)", {"data_compromised": True}, MALICIOUS, True),
    (MSSP, "10(d)", {"data_compromised": True, "users_data_compromised_percent": 5}, {}, False),
    # Art. 14 trust services
    (TSP, "14(a)", {"unavailability_minutes": 20}, {}, False),
    (TSP, "14(a)", {"unavailability_minutes": 21}, {}, True),
    (QTSP, "14(a)", {"unavailability_minutes": 21}, {}, True),
    (TSP, "14(b)", {"unavailable_minutes_calendar_week": 60}, {}, False),
    (TSP, "14(b)", {"unavailable_minutes_calendar_week": 61}, {}, True),
    # (c) "more than 1 % ... or more than 200 000 ..., whichever number is smaller"
    (TSP, "14(c)", {"users_affected": 200_000}, {}, False),
    (TSP, "14(c)", {"users_affected": 200_001}, {}, True),
    (TSP, "14(c)", {"users_affected": 100_000, "users_in_union": 10_000_000}, {}, False),
    (TSP, "14(c)", {"users_affected": 100_001, "users_in_union": 10_000_000}, {}, True),
    (TSP, "14(d)", {"physical_access_compromised": True}, {}, True),
    # (e) "more than 0,1 % ... or more than 100 ..., whichever number is smaller"
    (TSP, "14(e)", {"data_compromised": True, "users_data_compromised": 100}, {}, False),
    (TSP, "14(e)", {"data_compromised": True, "users_data_compromised": 101}, {}, True),
    (TSP, "14(e)", {"data_compromised": True, "users_data_compromised": 50, "users_in_union": 50_000}, {}, False),
    (TSP, "14(e)", {"data_compromised": True, "users_data_compromised": 51, "users_in_union": 50_000}, {}, True),
    (TSP, "14(e)", {"data_compromised": True, "users_data_compromised_percent": 0.1}, {}, False),
    (TSP, "14(e)", {"data_compromised": True, "users_data_compromised_percent": 0.2}, {}, True),
    (TSP, "14(e)", {"users_data_compromised": 5_000}, {}, False),  # no compromise recorded
]


@pytest.mark.parametrize(("entity_type", "point", "facts", "incident", "expected"), ENTITY)
def test_entity_type_criteria_follow_the_wording_of_their_article(
    entity_type: str, point: str, facts: dict[str, Any], incident: dict[str, Any], expected: bool
) -> None:
    assert fires(entity_type, point, facts, **incident) is expected


@pytest.mark.parametrize(("article", "entity_type"), PLATFORMS)
@pytest.mark.parametrize(
    ("point", "facts", "incident", "expected"),
    [
        # (a) "completely unavailable for more than 5 % ... or for more than 1 million ..., whichever is smaller"
        ("a", {"users_unavailable": 1_000_000}, {}, False),
        ("a", {"users_unavailable": 1_000_001}, {}, True),
        ("a", {"users_unavailable": 5_000, "users_in_union": 100_000}, {}, False),
        ("a", {"users_unavailable": 5_001, "users_in_union": 100_000}, {}, True),
        ("a", {"unavailability_minutes": 600}, {}, False),  # minutes are not the measure here
        # (b) limited availability, no duration
        ("b", {"users_affected": 500_000, "users_in_union": 10_000_000}, {}, False),
        ("b", {"users_affected": 500_001, "users_in_union": 10_000_000}, {}, True),
        ("c", {"data_compromised": True}, MALICIOUS, True),
        ("c", {"data_compromised": True}, {}, False),
        ("d", {"data_compromised": True, "users_data_compromised": 1_000_001}, {}, True),
        ("d", {"data_compromised": True, "users_data_compromised_percent": 5}, {}, False),
    ],
)
def test_platform_criteria_count_users_not_minutes(
    article: str, entity_type: str, point: str, facts: dict[str, Any], incident: dict[str, Any], expected: bool
) -> None:
    assert fires(entity_type, f"{article}({point})", facts, **incident) is expected


def test_every_rule_names_its_basis_and_whether_it_is_law() -> None:
    for entity_type in sorted(RELEVANT_ENTITY_TYPES):
        for rule in assessment.rules_for(entity_type):
            law = rule.basis.startswith(REG) or rule.basis.startswith("NIS2 Art.")
            assert (rule.source == "law") is law, rule
            assert rule.explanation and rule.reads


def test_red_impact_is_a_deployment_rule_and_can_be_switched_off() -> None:
    on = assessment.assess(entity_type=CLOUD, facts={}, impact_severity="red")
    red = next(f for f in on.findings if f.rule == "impact-severity-red")
    assert red.fired and red.source == "deployment" and red.basis.startswith("deployment rule") and on.significant
    off = assessment.assess(entity_type=CLOUD, facts={}, impact_severity="red", thresholds=LAW_ONLY)
    assert not off.significant and all(f.rule != "impact-severity-red" for f in off.findings)
    t = assessment.Thresholds.from_settings(Settings(significance_red_impact_suggests_significant=False))
    assert t == LAW_ONLY


# --- NIS2 Art. 6(7): large-scale ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "exceeds", "large"),
    [
        ({"member_states_significantly_affected": ["FR"]}, False, False),
        ({"member_states_significantly_affected": ["FR", "BE"]}, False, True),
        ({}, False, False),
        ({}, True, True),
    ],
)
def test_large_scale_needs_two_significantly_affected_member_states_or_exceeded_capacity(
    facts: dict[str, Any], exceeds: bool, large: bool
) -> None:
    a = assessment.assess(entity_type=None, facts=facts, exceeds_national_capacity=exceeds, thresholds=LAW_ONLY)
    assert a.large_scale is large
    assert {f.basis for f in a.findings if f.effect == "large-scale"} == {"NIS2 Art. 6(7)"}
    assert a.significant is False  # large-scale is not a significance criterion


# --- through the API and the database ----------------------------------------------------------------------------


@pytest.fixture
def cast(world: World) -> dict[str, Actor]:
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    world.org("Nuage SA", type_="entity", country="FR", parent="CERT-FR")
    world.org("Other Cloud", type_="entity", country="FR", parent="CERT-FR")
    return {"fr": world.user("CERT-FR"), "de": world.user("CERT-Bund")}


CAUSE = "CVE-2024-3400 on the VPN gateway"


def record(client: TestClient, actor: Actor, world: World, *, days_ago: int, loss: int, **over: Any) -> str:
    occurred = NOW - timedelta(days=days_ago, hours=2)
    body = {
        "title": f"Outage {days_ago} days ago",
        "tlp": "amber",
        "countries": ["FR"],
        "occurred_at": occurred.isoformat(),
        "aware_at": (occurred + timedelta(hours=1)).isoformat(),
        "entity": world.orgs["Nuage SA"],
        "entity_type": CLOUD,
        "apparent_root_cause": CAUSE,
        "facts": {"financial_loss_eur": loss},
        "share_with": {"organisations": [world.orgs["CERT-Bund"]]},
        **over,
    }
    r = client.post("/api/v1/incidents", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def assessed(client: TestClient, actor: Actor, incident_id: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/incidents/{incident_id}", headers=actor.headers)
    assert r.status_code == 200, r.text
    return r.json()["assessment"]  # type: ignore[no-any-return]


def recurring(client: TestClient, actor: Actor, incident_id: str) -> dict[str, Any] | None:
    findings = assessed(client, actor, incident_id)["findings"]
    return next((f for f in findings if f["rule"] == "recurring-incidents"), None)


def test_same_apparent_root_cause_twice_in_six_months_collectively_over_the_threshold_is_significant(
    client: TestClient, world: World, cast: dict[str, Actor]
) -> None:
    record(
        client, cast["fr"], world, days_ago=150, loss=300_000, apparent_root_cause="cve-2024-3400  ON the VPN gateway"
    )
    latest = record(client, cast["fr"], world, days_ago=1, loss=250_000)
    found = recurring(client, cast["fr"], latest)
    assert found is not None and found["fired"] is True
    assert found["basis"] == REG + "4" and found["source"] == "law"
    assert found["fact"].endswith("combined financial_loss_eur = 550000")
    a = assessed(client, cast["fr"], latest)
    assert a["suggestion"] == "significant" and a["significant"] is True


def test_collectively_at_the_threshold_is_not_significant(
    client: TestClient, world: World, cast: dict[str, Actor]
) -> None:
    record(client, cast["fr"], world, days_ago=30, loss=250_000)
    latest = record(client, cast["fr"], world, days_ago=1, loss=250_000)
    found = recurring(client, cast["fr"], latest)
    assert found is not None and found["fired"] is False  # 500 000 does not exceed 500 000


@pytest.mark.parametrize(
    "other",
    [
        {"significance": "significant", "significance_reason": "significant on its own"},
        {"apparent_root_cause": "phishing of an administrator"},
        {"days_ago": 200},
        {"entity": "Other Cloud"},
        {"tlp": "red", "share_with": {}},  # CERT-Bund may not read it
    ],
    ids=["individually-significant", "other-root-cause", "outside-six-months", "other-entity", "unreadable"],
)
def test_incidents_that_do_not_recur_under_article_4_are_not_counted(
    client: TestClient, world: World, cast: dict[str, Actor], other: dict[str, Any]
) -> None:
    over = dict(other)
    days = over.pop("days_ago", 30)
    if "entity" in over:
        over["entity"] = world.orgs[over["entity"]]
    record(client, cast["fr"], world, days_ago=days, loss=400_000, **over)
    latest = record(client, cast["fr"], world, days_ago=1, loss=200_000)
    reader = cast["de"]
    assert recurring(client, reader, latest) is None
    assert assessed(client, reader, latest)["suggestion"] == "not-significant"


def test_a_reader_who_may_read_the_other_incident_sees_the_recurrence(
    client: TestClient, world: World, cast: dict[str, Actor]
) -> None:
    record(client, cast["fr"], world, days_ago=30, loss=400_000, tlp="red", share_with={})
    latest = record(client, cast["fr"], world, days_ago=1, loss=200_000)
    assert recurring(client, cast["de"], latest) is None
    author = recurring(client, cast["fr"], latest)
    assert author is not None and author["fired"] is True


def test_large_scale_follows_the_member_states_named_as_significantly_affected(
    client: TestClient, world: World, cast: dict[str, Actor]
) -> None:
    many_countries = record(
        client, cast["fr"], world, days_ago=1, loss=0, countries=["FR", "DE", "BE"], apparent_root_cause=None
    )
    assert assessed(client, cast["fr"], many_countries)["large_scale"] is False
    facts = {"member_states_significantly_affected": ["fr", "be"]}
    named = record(client, cast["fr"], world, days_ago=1, loss=0, facts=facts, apparent_root_cause=None)
    r = client.get(f"/api/v1/incidents/{named}", headers=cast["fr"].headers).json()
    assert r["facts"]["member_states_significantly_affected"] == ["BE", "FR"]
    assert r["assessment"]["large_scale"] is True and r["assessment"]["suggest_escalation"] is True


def test_a_member_state_code_that_is_not_one_is_refused_naming_the_field(
    client: TestClient, world: World, cast: dict[str, Actor]
) -> None:
    body = {
        "title": "Bad codes",
        "tlp": "amber",
        "aware_at": NOW.isoformat(),
        "facts": {"member_states_significantly_affected": ["FR", "US"]},
    }
    r = client.post("/api/v1/incidents", json=body, headers=cast["fr"].headers)
    assert r.status_code == 422
    assert "member_states_significantly_affected" in r.text and "US" in r.text
    assert client.get("/api/v1/incidents?q=Bad%20codes", headers=cast["fr"].headers).json()["items"] == []


def test_the_openapi_documents_each_fact_with_the_article_that_reads_it(client: TestClient) -> None:
    schemas = client.get("/api/v1/openapi.json").json()["components"]["schemas"]
    facts = schemas["Facts"]["properties"]
    read = {key for entity_type in RELEVANT_ENTITY_TYPES for r in assessment.rules_for(entity_type) for key in r.reads}
    for key in read - {"suspected_malicious", "exceeds_national_capacity", "cross_border", "impact_severity"}:
        if key != "apparent_root_cause":
            assert "Art." in facts[key]["description"], key
    assert "NIS2 Art. 6(7)" in facts["member_states_significantly_affected"]["description"]
    finding = schemas["SignificanceFindingOut"]["properties"]
    assert {"rule", "fired", "effect", "fact", "explanation", "basis", "source"} <= set(finding)
    assert schemas["SignificanceAssessmentOut"]["properties"]["suggestion"]["enum"] == [
        "significant",
        "not-significant",
    ]
