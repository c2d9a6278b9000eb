"""The figures of a situation report, one pure function at a time, on inputs small enough to check by hand.

Every expected number below is worked out in the comments next to it, not recomputed with the code under test.
The property test at the end checks the promise of ADR 0006: a figure is built only from inputs the reader may see,
and the marking is never wider than any of them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cybercrisis.access.tlp import TLP
from cybercrisis.situation import aggregate, correlated
from cybercrisis.situation.aggregate import (
    ContributionInput,
    IncidentInput,
    Inputs,
    ObservableInput,
    Picture,
    Row,
    Table,
)

SCALE = ("normal", "elevated", "degraded", "crisis")
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
P1 = (T0 - timedelta(days=14), T0 - timedelta(days=7))  # an earlier reporting period
P2 = (T0 - timedelta(days=7), T0)  # the latest reporting period


def inc(name: str, **over: Any) -> IncidentInput:
    fields: dict[str, Any] = {
        "id": f"incident--{name}",
        "tlp": "green",
        "title": f"Incident {name}",
        "status": "ongoing",
        "aware_at": T0 - timedelta(hours=1),
    }
    fields.update(over)
    return IncidentInput(**fields)


def con(name: str, country: str, **over: Any) -> ContributionInput:
    fields: dict[str, Any] = {
        "id": f"contribution--{name}",
        "tlp": "green",
        "country": country,
        "period_start": P2[0],
        "period_end": P2[1],
        "status": "normal",
        "outlook": "stable",
        "submitted_at": T0,
    }
    fields.update(over)
    return ContributionInput(**fields)


def obs(name: str, type_: str, value: str, *incidents: str) -> ObservableInput:
    return ObservableInput(f"observable--{name}", type_, value, tuple(f"incident--{i}" for i in incidents))


def cells(table: Table) -> list[dict[str, Any]]:
    return [r.cells for r in table.rows]


def sources(table: Table) -> list[list[str]]:
    return [r.sources for r in table.rows]


# short prefixes keep the expected source lists readable
INC, CON, OBS = "incident--", "contribution--", "observable--"


# --- helpers ---------------------------------------------------------------------------------------------------


def test_worst_impact() -> None:
    assert aggregate.worst_impact([]) is None
    assert aggregate.worst_impact([None, None]) is None
    assert aggregate.worst_impact(["green", None, "yellow", "white"]) == "yellow"
    assert aggregate.worst_impact(["red", "white"]) == "red"
    assert aggregate.worst_impact(["purple"]) is None  # not a NIS impact severity: ignored
    assert aggregate.worst_impact(["purple", "green"]) == "green"


def test_strictest() -> None:
    assert aggregate.strictest([]) == "clear"
    assert aggregate.strictest(["clear", "clear"]) == "clear"
    assert aggregate.strictest(["green", "amber", "clear"]) == "amber"
    assert aggregate.strictest(["amber", "amber+strict", "green"]) == "amber+strict"
    assert aggregate.strictest(["red", "green"]) == "red"
    assert aggregate.strictest(["green"], floor="amber") == "amber"  # the report's own marking is a floor
    assert aggregate.strictest([], floor="red") == "red"
    with pytest.raises(ValueError, match="white"):
        aggregate.strictest(["white"])  # TLP 1.0 is not a marking


def test_latest_per_country_prefers_the_latest_period_then_the_latest_submission() -> None:
    fr_old_period_late = con("fr1", "FR", period_start=P1[0], period_end=P1[1], submitted_at=T0 + timedelta(days=1))
    fr_new_period_early = con("fr2", "FR", submitted_at=T0 - timedelta(days=1))
    de_first = con("de1", "DE", submitted_at=T0)
    de_second = con("de2", "DE", submitted_at=T0 + timedelta(hours=2))
    ee = con("ee", "EE")
    for order in (
        [fr_old_period_late, fr_new_period_early, de_first, de_second, ee],
        [ee, de_second, de_first, fr_new_period_early, fr_old_period_late],
    ):
        latest = aggregate.latest_per_country(order)
        # FR: the later period wins although it was submitted before the old period's contribution;
        # DE: same period, so the later submission wins.
        assert {k: v.id for k, v in latest.items()} == {"FR": CON + "fr2", "DE": CON + "de2", "EE": CON + "ee"}
    assert aggregate.latest_per_country([]) == {}


def test_status_rank() -> None:
    assert aggregate.status_rank("normal", SCALE) == 0
    assert aggregate.status_rank("crisis", SCALE) == 3
    assert aggregate.status_rank("defcon-1", SCALE) == -1
    assert aggregate.status_rank(None, SCALE) == -1


# --- technical figures -----------------------------------------------------------------------------------------

A = inc("a", countries=("FR",), sectors=("energy",), rsit_class="malicious-code", impact_severity="red")
B = inc(
    "b",
    tlp="amber",
    status="closed",
    countries=("DE",),
    sectors=("energy",),
    rsit_class="malicious-code",
    impact_severity="red",
)
CC = inc(
    "c", status="new", countries=("FR", "DE"), sectors=("health",), rsit_class="intrusions", impact_severity="yellow"
)
D = inc("d", tlp="clear", status="triage", countries=("EE",), cross_border=True)  # no class, no impact
E = inc("e", status="resolved", countries=("NL",), rsit_class="availability", impact_severity="red")
INCIDENTS = (A, B, CC, D)


def test_incidents_by_class_counts_orders_and_names_sources() -> None:
    table = aggregate.incidents_by_class(INCIDENTS)
    assert table.key == "incidents-by-class"
    # malicious-code: a, b (2); intrusions: c (1); unclassified: d (1). Ties are ordered by name.
    assert cells(table) == [
        {"class": "malicious-code", "incidents": 2},
        {"class": "intrusions", "incidents": 1},
        {"class": "unclassified", "incidents": 1},
    ]
    assert sources(table) == [[INC + "a", INC + "b"], [INC + "c"], [INC + "d"]]
    # A closed incident still counts here: this table describes what happened, not what is open.
    table = aggregate.incidents_by_class([E, D, CC])
    assert [(r.cells["class"], r.cells["incidents"]) for r in table.rows] == [
        ("availability", 1),
        ("intrusions", 1),
        ("unclassified", 1),
    ]
    assert aggregate.incidents_by_class([]).rows == []


def test_incidents_by_country_counts_open_and_red() -> None:
    table = aggregate.incidents_by_country(INCIDENTS)
    assert table.key == "incidents-by-country"
    # DE: b (closed, red), c (new, yellow) -> 2 incidents, 1 open, 1 red
    # FR: a (ongoing, red), c (new, yellow) -> 2 incidents, 2 open, 1 red
    # EE: d (triage, no impact) -> 1 incident, 1 open, 0 red
    assert cells(table) == [
        {"country": "DE", "incidents": 2, "open": 1, "red_impact": 1},
        {"country": "FR", "incidents": 2, "open": 2, "red_impact": 1},
        {"country": "EE", "incidents": 1, "open": 1, "red_impact": 0},
    ]
    assert sources(table) == [[INC + "b", INC + "c"], [INC + "a", INC + "c"], [INC + "d"]]


OBSERVABLES = (
    obs("1", "ipv4-addr", "198.51.100.7", "a", "b"),  # FR + DE
    obs("2", "domain-name", "evil.example", "a", "c"),  # FR + (FR, DE)
    obs("3", "domain-name", "local.example", "a"),  # FR only
    obs("4", "cve", "CVE-2026-0001", "b", "d"),  # DE + EE
    obs("5", "file:hashes.'SHA-256'", "ab" * 32, "a", "zzz"),  # FR + an incident not among the inputs
    obs("6", "ipv4-addr", "203.0.113.9", "a", "c", "d"),  # FR, DE, EE
    obs("7", "cve", "CVE-2026-0002", "a"),  # FR only
)


def test_shared_observables_needs_two_member_states_among_the_incidents_given() -> None:
    table = correlated.shared_observables(INCIDENTS, OBSERVABLES)
    assert table.key == "shared-observables"
    # 6: three countries, three incidents; then 2 and 1 with two countries and two incidents each, by type:
    # domain-name before ipv4-addr. 3 and 5 are seen in France only (5's other incident is not given); CVEs are
    # in their own table.
    assert cells(table) == [
        {"type": "ipv4-addr", "value": "203.0.113.9", "countries": ["DE", "EE", "FR"], "incidents": 3},
        {"type": "domain-name", "value": "evil.example", "countries": ["DE", "FR"], "incidents": 2},
        {"type": "ipv4-addr", "value": "198.51.100.7", "countries": ["DE", "FR"], "incidents": 2},
    ]
    assert sources(table) == [
        [INC + "a", INC + "c", INC + "d", OBS + "6"],
        [INC + "a", INC + "c", OBS + "2"],
        [INC + "a", INC + "b", OBS + "1"],
    ]


def test_cves_go_to_the_vulnerabilities_table() -> None:
    table = correlated.shared_observables(INCIDENTS, OBSERVABLES, only_type="cve")
    assert table.key == "vulnerabilities"
    assert [k for k, _ in table.columns] == ["value", "countries", "incidents"]
    # 4: DE (b) and EE (d); 7 is French only.
    assert cells(table) == [{"type": "cve", "value": "CVE-2026-0001", "countries": ["DE", "EE"], "incidents": 2}]
    assert sources(table) == [[INC + "b", INC + "d", OBS + "4"]]


def test_shared_observables_count_only_the_incidents_passed() -> None:
    # Without b and d: 1 is French only now, 4 is gone, 6 links FR (a) and DE (c) through two incidents.
    table = correlated.shared_observables([A, CC], OBSERVABLES)
    assert [(r.cells["value"], r.cells["countries"], r.cells["incidents"]) for r in table.rows] == [
        ("evil.example", ["DE", "FR"], 2),
        ("203.0.113.9", ["DE", "FR"], 2),
    ]
    assert sources(table) == [[INC + "a", INC + "c", OBS + "2"], [INC + "a", INC + "c", OBS + "6"]]
    assert correlated.shared_observables([A, CC], OBSERVABLES, only_type="cve").rows == []
    # Two French incidents never make an observable "shared across Member States".
    fr2 = inc("fr2", countries=("FR",))
    assert correlated.shared_observables([A, fr2], [obs("9", "ipv4-addr", "192.0.2.1", "a", "fr2")]).rows == []


P = inc("p", countries=("FR",), rsit_class="malicious-code")
Q = inc("q", countries=("DE",))
R = inc("r", countries=("FR",))
S = inc("s", countries=("FR",))
T = inc("t", countries=("EE",), rsit_class="intrusions")
U = inc("u", countries=("NL",))
G = inc("g", countries=("DE",), rsit_class="availability")
H = inc("h", countries=("AT",), rsit_class="availability")
CLUSTER_OBS = (
    obs("y", "ipv4-addr", "192.0.2.20", "q", "t"),  # q-t
    obs("x", "ipv4-addr", "192.0.2.10", "p", "q"),  # p-q: with y, p-q-t is one group (FR, DE, EE)
    obs("z", "domain-name", "fr-only.example", "r", "s"),  # r-s: French only, dropped
    obs("w", "domain-name", "alone.example", "u"),  # u alone: dropped
    obs("k", "domain-name", "g-h.example", "h", "g"),  # g-h: DE, AT
)


def test_clusters_join_incidents_through_shared_observables_across_member_states() -> None:
    for observables in (CLUSTER_OBS, tuple(reversed(CLUSTER_OBS))):
        table = correlated.clusters([P, Q, R, S, T, U, G, H], observables)
        assert table.key == "clusters"
        assert cells(table) == [
            {
                "incidents": 3,
                "countries": ["DE", "EE", "FR"],
                "observables": 2,
                "classes": ["intrusions", "malicious-code", "unclassified"],
            },
            {"incidents": 2, "countries": ["AT", "DE"], "observables": 1, "classes": ["availability"]},
        ]
        assert sources(table) == [
            [INC + "p", INC + "q", INC + "t", OBS + "x", OBS + "y"],
            [INC + "g", INC + "h", OBS + "k"],
        ]


def test_clusters_only_link_through_the_incidents_passed() -> None:
    # Without q, p and t are no longer linked: no group spans two Member States except g-h.
    table = correlated.clusters([P, R, S, T, U, G, H], CLUSTER_OBS)
    assert [r.cells["countries"] for r in table.rows] == [["AT", "DE"]]
    assert correlated.clusters([], CLUSTER_OBS).rows == []


def test_cluster_counts_only_observables_that_link_visible_incidents() -> None:
    # x links p (FR) and q (DE); v was also seen in h, which this reader does not see: v links nothing here.
    p, q = inc("p", countries=("FR",)), inc("q", countries=("DE",))
    table = correlated.clusters(
        [p, q], [obs("x", "domain-name", "x.example", "p", "q"), obs("v", "md5", "ab", "p", "h")]
    )
    assert cells(table)[0]["observables"] == 1
    assert sources(table) == [[INC + "p", INC + "q", OBS + "x"]]


# --- operational figures ---------------------------------------------------------------------------------------


def test_country_status_orders_by_the_severity_of_the_scale() -> None:
    contributions = [
        con(
            "fr",
            "FR",
            status="degraded",
            outlook="worsening",
            entities_affected=3,
            services_disrupted=("rail",),
            measures="Isolated SCADA.",
        ),
        con("de", "DE", status="crisis"),
        con("ee", "EE", status="normal"),
        con("nl", "NL", status="not-on-the-scale"),
        con("be", "BE", status="elevated"),
        con("at", "AT", status="elevated"),
        con("fr-old", "FR", status="crisis", period_start=P1[0], period_end=P1[1]),  # superseded
    ]
    table = aggregate.country_status(contributions, SCALE)
    assert table.key == "country-status"
    # crisis, degraded, elevated (AT before BE), normal, then the unknown status last
    assert [(r.cells["country"], r.cells["status"]) for r in table.rows] == [
        ("DE", "crisis"),
        ("FR", "degraded"),
        ("AT", "elevated"),
        ("BE", "elevated"),
        ("EE", "normal"),
        ("NL", "not-on-the-scale"),
    ]
    assert table.rows[1] == Row(
        {
            "country": "FR",
            "status": "degraded",
            "outlook": "worsening",
            "entities_affected": 3,
            "services_disrupted": ["rail"],
            "measures": "Isolated SCADA.",
        },
        [CON + "fr"],
    )
    # A deployment's own scale decides the order.
    table = aggregate.country_status(contributions[:3], ("crisis", "degraded", "normal"))
    assert [r.cells["country"] for r in table.rows] == ["EE", "FR", "DE"]


IMPACT_CONTRIBUTIONS = [
    con("fr", "FR", sectors=(("energy", "red"), ("health", "yellow"))),
    con("fr-old", "FR", period_start=P1[0], period_end=P1[1], sectors=(("transport", "red"),)),  # superseded
    con("de", "DE", sectors=(("energy", "green"),)),
]
IMPACT_INCIDENTS = [
    inc("1", countries=("FR", "DE"), sectors=("energy",), impact_severity="yellow"),  # open
    inc("2", status="closed", countries=("FR",), sectors=("health",), impact_severity="red"),  # closed: ignored
    inc("3", countries=("EE",), sectors=("transport",)),  # no impact assessed: ignored
    inc("4", status="contained", countries=("EE",), sectors=("banking",), impact_severity="white"),
    inc("5", status="closed", countries=("SE",), sectors=("space",), impact_severity="red"),  # closed: ignored
]


def test_impact_matrix_takes_the_worst_of_latest_contributions_and_open_incidents() -> None:
    table = aggregate.impact_matrix(IMPACT_CONTRIBUTIONS, IMPACT_INCIDENTS)
    assert table.key == "impact"
    # FR/energy: red (fr) vs yellow (1) -> red.  DE/energy: green (de) vs yellow (1) -> yellow.
    # FR/health: yellow (fr); the red of closed incident 2 does not count.  EE/banking: white (4).
    # FR/transport comes only from the superseded contribution; SE/space only from a closed incident.
    assert cells(table) == [
        {"country": "FR", "sector": "energy", "impact": "red"},
        {"country": "DE", "sector": "energy", "impact": "yellow"},
        {"country": "FR", "sector": "health", "impact": "yellow"},
        {"country": "EE", "sector": "banking", "impact": "white"},
    ]
    assert sources(table) == [[CON + "fr", INC + "1"], [CON + "de", INC + "1"], [CON + "fr"], [INC + "4"]]
    assert aggregate.heat(table) == {
        "FR": {"energy": "red", "health": "yellow"},
        "DE": {"energy": "yellow"},
        "EE": {"banking": "white"},
    }


def test_services_disrupted_groups_the_latest_contributions() -> None:
    contributions = [
        con("fr", "FR", services_disrupted=("electricity distribution", " rail ")),
        con("fr-old", "FR", period_start=P1[0], period_end=P1[1], services_disrupted=("water",)),  # superseded
        con("de", "DE", services_disrupted=("electricity distribution",)),
        con("ee", "EE", services_disrupted=("  ",)),  # blank: not a service
    ]
    table = aggregate.services_disrupted(contributions)
    assert table.key == "services"
    assert cells(table) == [
        {"service": "electricity distribution", "countries": ["DE", "FR"]},
        {"service": "rail", "countries": ["FR"]},
    ]
    assert sources(table) == [[CON + "de", CON + "fr"], [CON + "fr"]]


def test_needs_lists_requests_for_assistance_first() -> None:
    contributions = [
        con("fr", "FR", needs="Forensic support.", assistance_requested=True),
        con("de", "DE", needs="", assistance_requested=True),
        con("ee", "EE", needs="A liaison officer.", assistance_requested=False),
        con("nl", "NL", needs="   ", assistance_requested=False),  # nothing needed: not listed
        con("at-old", "AT", period_start=P1[0], period_end=P1[1], needs="Old need.", assistance_requested=True),
        con("at", "AT"),  # the latest Austrian contribution needs nothing
    ]
    table = aggregate.needs(contributions)
    assert table.key == "needs"
    assert cells(table) == [
        {"country": "DE", "needs": "", "assistance_requested": True},
        {"country": "FR", "needs": "Forensic support.", "assistance_requested": True},
        {"country": "EE", "needs": "A liaison officer.", "assistance_requested": False},
    ]
    assert sources(table) == [[CON + "de"], [CON + "fr"], [CON + "ee"]]


def test_outlook_counts_member_states_per_outlook() -> None:
    contributions = [
        con("fr", "FR", outlook="worsening"),
        con("de", "DE", outlook="worsening"),
        con("ee", "EE", outlook="stable"),
        con("ee-old", "EE", period_start=P1[0], period_end=P1[1], outlook="improving"),  # superseded
    ]
    table = aggregate.outlook(contributions)
    assert table.key == "outlook"
    # every outlook has a row, in the order of the scale, even with nobody in it
    assert cells(table) == [
        {"outlook": "improving", "countries": [], "count": 0},
        {"outlook": "stable", "countries": ["EE"], "count": 1},
        {"outlook": "worsening", "countries": ["DE", "FR"], "count": 2},
    ]
    assert sources(table) == [[], [CON + "ee"], [CON + "de", CON + "fr"]]


def test_countries_map() -> None:
    contributions = [
        con("fr", "FR", status="degraded", outlook="worsening", sectors=(("energy", "red"),)),
        con("de", "DE", status="normal"),
    ]
    incidents = [
        inc("a", countries=("FR",), impact_severity="yellow"),
        inc("b", status="triage", countries=("EE",)),
        inc("c", status="closed", countries=("DE",), impact_severity="red"),  # closed: not on the map
    ]
    m = aggregate.countries_map(contributions, incidents)
    assert sorted(m) == ["DE", "EE", "FR"]
    assert m["FR"] == aggregate.CountryCell("degraded", "worsening", "red", 1, [CON + "fr", INC + "a"])
    assert m["DE"] == aggregate.CountryCell("normal", "stable", None, 0, [CON + "de"])
    assert m["EE"] == aggregate.CountryCell(None, None, None, 1, [INC + "b"])


# --- headline numbers ------------------------------------------------------------------------------------------

HEAD_INCIDENTS = (
    inc("a", countries=("FR",)),
    inc("b", countries=("DE", "FR")),  # two Member States: cross-border
    inc("d", cross_border=True),  # flagged cross-border, no country known
)
HEAD_CONTRIBUTIONS = (
    con("fr", "FR", status="degraded", outlook="worsening", assistance_requested=True, sectors=(("energy", "red"),)),
    con("fr-old", "FR", status="crisis", period_start=P1[0], period_end=P1[1]),  # superseded
    con("ee", "EE", status="normal", outlook="stable"),  # the lowest status: not affected
    con("nl", "NL", status="elevated", outlook="improving", sectors=(("health", "yellow"),)),
    con("se", "SE", status="not-on-the-scale"),  # unknown status: not affected
)
HEAD_OBSERVABLES = (obs("1", "ipv4-addr", "198.51.100.7", "a", "b"), obs("2", "domain-name", "x.example", "a"))


def numbers(level: str) -> dict[str, tuple[int | str, list[str]]]:
    inputs = Inputs(HEAD_CONTRIBUTIONS, HEAD_INCIDENTS, HEAD_OBSERVABLES)
    return {n.key: (n.value, n.sources) for n in aggregate.headline(level, inputs, SCALE)}


def test_headline_technical() -> None:
    # Affected: FR and DE from incidents; FR (degraded) and NL (elevated) from contributions; EE is at the lowest
    # status and SE's status is not on the scale -> {DE, FR, NL}.
    assert numbers("technical") == {
        "member-states-affected": (3, [CON + "fr", CON + "nl", INC + "a", INC + "b"]),
        "incidents": (3, [INC + "a", INC + "b", INC + "d"]),
        "cross-border-incidents": (2, [INC + "b", INC + "d"]),
        "shared-observables": (1, [INC + "a", INC + "b", OBS + "1"]),  # 1 links FR and DE; 2 is French only
    }


@pytest.mark.parametrize("level", ["operational", "political"])
def test_headline_operational_and_political(level: str) -> None:
    got = numbers(level)
    assert got == {
        "member-states-affected": (3, [CON + "fr", CON + "nl", INC + "a", INC + "b"]),
        "incidents": (3, [INC + "a", INC + "b", INC + "d"]),
        "cross-border-incidents": (2, [INC + "b", INC + "d"]),
        # the latest of FR, EE, NL and SE; FR's older "crisis" is superseded, so nobody is at the top
        "contributions": (4, [CON + "ee", CON + "fr", CON + "nl", CON + "se"]),
        "status-crisis": (0, []),
        "red-impact": (1, [CON + "fr"]),
        "worsening": (1, [CON + "fr"]),
        "assistance": (1, [CON + "fr"]),
        "worst-status": ("degraded", [CON + "fr"]),
    }


def test_headline_without_contributions_has_no_worst_status() -> None:
    got = {n.key: n.value for n in aggregate.headline("operational", Inputs(), SCALE)}
    assert "worst-status" not in got
    assert got["member-states-affected"] == 0 and got["contributions"] == 0


# --- restricting and building ----------------------------------------------------------------------------------


def test_restricted_to_removes_what_the_reader_may_not_see() -> None:
    c1, c2 = con("1", "FR"), con("2", "DE")
    a, b = inc("a", countries=("FR",)), inc("b", countries=("DE",))
    o1 = obs("1", "ipv4-addr", "192.0.2.1", "a", "b")
    o2 = obs("2", "ipv4-addr", "192.0.2.2", "b")
    o3 = obs("3", "ipv4-addr", "192.0.2.3", "a")
    inputs = Inputs((c1, c2), (a, b), (o1, o2, o3))
    seen = inputs.restricted_to({CON + "1", INC + "a", OBS + "1", OBS + "2"})
    assert seen.contributions == (c1,)
    assert seen.incidents == (a,)
    # 1 keeps only its visible incident; 2 has no visible incident left; 3 itself is not visible
    assert seen.observables == (ObservableInput(OBS + "1", "ipv4-addr", "192.0.2.1", (INC + "a",)),)
    assert inputs.restricted_to(set()) == Inputs()
    everything = {x.id for x in (c1, c2, a, b, o1, o2, o3)}
    assert inputs.restricted_to(everything) == inputs


BUILD_FR = con(
    "fr",
    "FR",
    tlp="green",
    status="degraded",
    sectors=(("energy", "red"),),
    needs="Help.",
    assistance_requested=True,
    services_disrupted=("rail",),
)
BUILD_INPUTS = Inputs(
    contributions=(BUILD_FR, con("de", "DE", tlp="amber", status="crisis", outlook="worsening")),
    incidents=(
        inc("a", tlp="clear", countries=("FR",), rsit_class="malicious-code"),
        inc("b", tlp="amber+strict", countries=("DE",), rsit_class="intrusions"),
        inc("c", tlp="green", countries=("DE",), rsit_class="availability"),
        inc("e", tlp="green", countries=("EE",), rsit_class="fraud"),
    ),
    observables=(obs("1", "ipv4-addr", "192.0.2.1", "a", "b"),),
)
EXPECTED_TABLES = {
    "technical": ["incidents-by-class", "incidents-by-country", "shared-observables", "vulnerabilities", "clusters"],
    "operational": ["country-status", "impact", "services", "needs", "outlook", "incidents-by-country"],
    "political": ["what-happened", "how-bad", "where-going", "decisions"],
}


@pytest.mark.parametrize("level", aggregate.LEVELS)
def test_build_returns_the_tables_of_the_level_and_the_strictest_marking(level: str) -> None:
    picture = aggregate.build(level, BUILD_INPUTS, SCALE)
    assert picture.level == level
    assert [t.key for t in picture.tables] == EXPECTED_TABLES[level]
    # green, amber, clear, amber+strict, green, green -> amber+strict
    assert picture.marking == "amber+strict"
    assert sorted(picture.countries) == ["DE", "EE", "FR"]
    assert picture.heat == {"FR": {"energy": "red"}}
    assert picture.as_dict()["marking"] == "amber+strict"
    assert [t["key"] for t in picture.as_dict()["tables"]] == EXPECTED_TABLES[level]


def test_build_marking_follows_what_remains_visible() -> None:
    without_b = BUILD_INPUTS.restricted_to({CON + "fr", CON + "de", INC + "a", INC + "c", INC + "e", OBS + "1"})
    assert aggregate.build("technical", without_b, SCALE).marking == "amber"  # de is amber
    only_clear = BUILD_INPUTS.restricted_to({INC + "a"})
    assert aggregate.build("operational", only_clear, SCALE).marking == "clear"
    assert aggregate.build("political", Inputs(), SCALE).marking == "clear"


def test_build_political_keeps_three_classes_and_four_columns() -> None:
    picture = aggregate.build("political", BUILD_INPUTS, SCALE)
    tables = {t.key: t for t in picture.tables}
    # four classes with one incident each, by name: availability, fraud, intrusions, malicious-code
    assert [r.cells["class"] for r in tables["what-happened"].rows] == ["availability", "fraud", "intrusions"]
    assert [k for k, _ in tables["how-bad"].columns] == ["country", "status", "outlook", "services_disrupted"]
    assert [r.cells["country"] for r in tables["how-bad"].rows] == ["DE", "FR"]
    assert [r.cells["country"] for r in tables["decisions"].rows] == ["FR"]


def test_build_refuses_an_unknown_level() -> None:
    with pytest.raises(ValueError, match="strategic"):
        aggregate.build("strategic", BUILD_INPUTS, SCALE)


# --- timeline --------------------------------------------------------------------------------------------------


def test_incidents_per_day_fills_days_without_incidents() -> None:
    end = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    incidents = [
        inc("x", aware_at=datetime(2026, 11, 18, 10, 0, tzinfo=UTC)),
        inc("y", aware_at=datetime(2026, 11, 20, 1, 0, tzinfo=UTC)),
        inc("z", aware_at=datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
        inc("before", aware_at=datetime(2026, 11, 17, 23, 59, tzinfo=UTC)),  # the day before the window
        inc("after", aware_at=datetime(2026, 11, 21, 0, 30, tzinfo=UTC)),  # the day after the end
    ]
    table = aggregate.incidents_per_day(incidents, end=end, days=3)
    assert table.key == "timeline"
    assert cells(table) == [
        {"day": "2026-11-18", "incidents": 1},
        {"day": "2026-11-19", "incidents": 0},
        {"day": "2026-11-20", "incidents": 2},
    ]
    assert sources(table) == [[INC + "x"], [], [INC + "y", INC + "z"]]
    two_weeks = aggregate.incidents_per_day([], end=end)
    assert len(two_weeks.rows) == 14
    assert two_weeks.rows[0].cells == {"day": "2026-11-07", "incidents": 0}
    assert two_weeks.rows[-1].cells == {"day": "2026-11-20", "incidents": 0}


# --- property: nothing is built from what the reader may not see ----------------------------------------------

TLPS = [t.value for t in TLP]
COUNTRIES = ["AT", "DE", "EE", "FR", "NL"]
SECTORS = ["energy", "health", "transport"]
IMPACTS = [*aggregate.IMPACT_ORDER, None]
STATUSES = ["new", "triage", "ongoing", "contained", "closed", "resolved"]
N_INCIDENTS, N_CONTRIBUTIONS, N_OBSERVABLES = 8, 6, 6


@st.composite
def incident_inputs(draw: st.DrawFn, n: int) -> IncidentInput:
    return IncidentInput(
        id=f"incident--{n}",
        tlp=draw(st.sampled_from(TLPS)),
        title=f"Incident {n}",
        status=draw(st.sampled_from(STATUSES)),
        aware_at=T0 - timedelta(days=draw(st.integers(0, 20)), hours=draw(st.integers(0, 23))),
        countries=tuple(draw(st.lists(st.sampled_from(COUNTRIES), max_size=3, unique=True))),
        sectors=tuple(draw(st.lists(st.sampled_from(SECTORS), max_size=2, unique=True))),
        rsit_class=draw(st.sampled_from(["malicious-code", "intrusions", "fraud", None])),
        impact_severity=draw(st.sampled_from(IMPACTS)),
        cross_border=draw(st.booleans()),
    )


@st.composite
def contribution_inputs(draw: st.DrawFn, n: int) -> ContributionInput:
    period = draw(st.sampled_from([P1, P2]))
    return ContributionInput(
        id=f"contribution--{n}",
        tlp=draw(st.sampled_from(TLPS)),
        country=draw(st.sampled_from(COUNTRIES)),
        period_start=period[0],
        period_end=period[1],
        status=draw(st.sampled_from([*SCALE, "unknown"])),
        outlook=draw(st.sampled_from(aggregate.OUTLOOKS)),
        submitted_at=T0 - timedelta(hours=draw(st.integers(0, 100))),
        sectors=tuple(
            draw(st.lists(st.tuples(st.sampled_from(SECTORS), st.sampled_from(aggregate.IMPACT_ORDER)), max_size=3))
        ),
        services_disrupted=tuple(draw(st.lists(st.sampled_from(["rail", "power", " "]), max_size=2))),
        needs=draw(st.sampled_from(["", "Help."])),
        assistance_requested=draw(st.booleans()),
    )


@st.composite
def all_inputs(draw: st.DrawFn) -> tuple[Inputs, set[str]]:
    incidents = [draw(incident_inputs(n)) for n in range(draw(st.integers(0, N_INCIDENTS)))]
    contributions = [draw(contribution_inputs(n)) for n in range(draw(st.integers(0, N_CONTRIBUTIONS)))]
    incident_ids = [f"incident--{n}" for n in range(N_INCIDENTS + 2)]  # some beyond those given
    observables = [
        ObservableInput(
            f"observable--{n}",
            draw(st.sampled_from(["ipv4-addr", "domain-name", "cve"])),
            f"value-{n}",
            tuple(draw(st.lists(st.sampled_from(incident_ids), min_size=1, max_size=4, unique=True))),
        )
        for n in range(draw(st.integers(0, N_OBSERVABLES)))
    ]
    inputs = Inputs(tuple(contributions), tuple(incidents), tuple(observables))
    everything = [c.id for c in contributions] + [i.id for i in incidents] + [o.id for o in observables]
    visible = set(draw(st.lists(st.sampled_from(everything), unique=True))) if everything else set()
    return inputs, visible


def every_source(picture: Picture) -> set[str]:
    found: set[str] = set()
    for n in picture.headline:
        found.update(n.sources)
    for t in picture.tables:
        for r in t.rows:
            found.update(r.sources)
    for cell in picture.countries.values():
        found.update(cell.sources)
    return found


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(all_inputs())
def test_no_figure_is_built_from_an_invisible_input(case: tuple[Inputs, set[str]]) -> None:
    inputs, visible = case
    seen = inputs.restricted_to(visible)
    visible_tlps = [c.tlp for c in seen.contributions] + [i.tlp for i in seen.incidents]
    for level in aggregate.LEVELS:
        picture = aggregate.build(level, seen, SCALE)
        leaked = every_source(picture) - visible
        assert not leaked, f"{level} figures built from invisible inputs: {sorted(leaked)}"
        marking = TLP(picture.marking)
        for tlp in visible_tlps:
            assert marking.rank >= TLP(tlp).rank, f"{level} marked {marking} below a visible {tlp} input"
        assert marking.rank == max((TLP(t).rank for t in visible_tlps), default=0)
    timeline = aggregate.incidents_per_day(seen.incidents, end=T0, days=30)
    assert {s for r in timeline.rows for s in r.sources} <= visible
