"""The Reserve ranking as a pure function, on hand-made requests whose order was worked out by hand."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from cybercrisis.assistance.ranking import CRITERIA, MEASURES_BASIS, RankInput, parse_priority, rank
from cybercrisis.assistance.service import months_after, one_month_after

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def req(
    name: str,
    severity: str = "red",
    entity: str = "essential",
    potential: str = "high",
    spill: str = "high",
    measures: str = "isolated the network",
    minutes: int = 0,
) -> RankInput:
    return RankInput(
        id=name,
        severity=severity,
        entity_type=entity,
        potential_impact=potential,
        spillover=spill,
        measures_taken=measures,
        created_at=T0 + timedelta(minutes=minutes),
    )


def test_each_criterion_decides_in_the_deployments_order_and_each_item_says_why_it_is_above_the_next() -> None:
    # Each neighbour pair first differs on a different criterion; creation times point the other way, so that
    # only the criteria can explain the order (except E/F, tied on all of them). The measures taken are shown,
    # not ranked on (Reg. (EU) 2025/38 Art. 15(2) makes them a precondition): A states none and still comes first.
    expected = [
        req("A", measures="  ", minutes=30),  # blank counts as not stated, and does not move A down
        req("B", spill="low", minutes=20),  # spill-over high (A) beats low
        req("C", potential="medium", spill="none", minutes=10),  # potential impact high (B) beats medium
        req("D", entity="important", minutes=5),  # essential (C) beats important, potential impact notwithstanding
        req("E", severity="yellow", minutes=1),  # incident impact severity red (D) beats yellow
        req("F", severity="yellow", minutes=2),  # tied with E on all criteria: E is earlier
        req("G", severity="yellow", potential="", minutes=3),  # potential impact not stated: after every stated one
        req("H", severity="critical", minutes=-60),  # not a known value: after every known one
    ]
    shuffled = expected[:]
    random.Random(7).shuffle(shuffled)
    ranked = rank(shuffled)
    assert [(r.rank, r.item.id) for r in ranked] == [(n + 1, x.id) for n, x in enumerate(expected)]
    assert [r.reason for r in ranked] == [
        "above B: cross-border spill-over risk high ranks before cross-border spill-over risk low (deployment's order)",
        "above C: potential impact high ranks before potential impact medium (deployment's order)",
        "above D: essential entity ranks before important entity (deployment's order)",
        "above E: incident impact severity red ranks before incident impact severity yellow (deployment's order)",
        "above F: tied on all criteria; earlier request first (deployment's rule)",
        "above G: potential impact high ranks before potential impact not stated (deployment's order)",
        "above H: incident impact severity yellow ranks before incident impact severity critical (deployment's order)",
        "last of the 8 requests ranked",
    ]
    assert CRITERIA == ["severity", "entity_type", "potential_impact", "spillover"]
    by_id = {r.item.id: r for r in ranked}
    assert [(c.criterion, c.value, c.note) for c in by_id["B"].explanation] == [
        ("severity", "red", "incident impact severity red: 1st of red > yellow > green > white"),
        ("entity_type", "essential", "essential entity: 1st of essential > important"),
        ("potential_impact", "high", "potential impact high: 1st of high > medium > low"),
        ("spillover", "low", "cross-border spill-over risk low: 3rd of high > medium > low > none"),
        ("measures_taken", "stated", "isolated the network"),
    ]
    # Every criterion names the point of Art. 16 it comes from; the measures name Art. 15(2) too.
    assert [c.legal_basis.split(":")[0] for c in by_id["B"].explanation[:4]] == [
        f"Reg. (EU) 2025/38 Art. 16, point ({p})" for p in "abcd"
    ]
    assert by_id["B"].explanation[4].legal_basis == MEASURES_BASIS and "Art. 15(2)" in MEASURES_BASIS
    a = {c.criterion: (c.value, c.note) for c in by_id["A"].explanation}
    assert a["measures_taken"] == ("not stated", "")
    g = {c.criterion: (c.value, c.note) for c in by_id["G"].explanation}
    assert g["potential_impact"] == ("", "not stated (high > medium > low); it ranks after all of them")
    h = {c.criterion: (c.value, c.note) for c in by_id["H"].explanation}
    assert h["severity"] == (
        "critical",
        "'critical' is not a known value (red > yellow > green > white); it ranks after all of them",
    )


def test_exact_ties_fall_back_to_the_id_small_inputs_are_explained_and_the_order_is_configurable() -> None:
    assert rank([]) == []
    [only] = rank([req("solo")])
    assert (only.rank, only.reason) == (1, "the only request ranked")
    same_time = rank([req("y"), req("x")])
    assert [r.item.id for r in same_time] == ["x", "y"]
    assert same_time[0].reason == "above y: tied on all criteria and asked at the same time; ordered by id"
    assert same_time[1].reason == "last of the 2 requests ranked"
    # The first criterion decides alone: yellow with everything else at its best still ranks below red with
    # everything else at its worst ...
    worst_red = req("r", entity="important", potential="low", spill="none", measures="")
    best_yellow = req("y", severity="yellow", minutes=-10)
    assert [r.item.id for r in rank([best_yellow, worst_red])] == ["r", "y"]
    # ... and in another deployment's order, another criterion comes first and the order flips.
    spill_first = parse_priority("spillover,severity,entity_type,potential_impact")
    flipped = rank([best_yellow, worst_red], spill_first)
    assert [r.item.id for r in flipped] == ["y", "r"]
    assert [c.criterion for c in flipped[0].explanation] == [*spill_first, "measures_taken"]


def test_summary_is_due_the_same_day_next_month_clamped_to_the_month_end() -> None:
    at = datetime(2027, 1, 31, 17, 45, tzinfo=UTC)
    assert one_month_after(at) == datetime(2027, 2, 28, 17, 45, tzinfo=UTC)
    assert one_month_after(at.replace(year=2028)) == datetime(2028, 2, 29, 17, 45, tzinfo=UTC)
    assert one_month_after(datetime(2026, 12, 15, 9, 0, tzinfo=UTC)) == datetime(2027, 1, 15, 9, 0, tzinfo=UTC)
    assert one_month_after(datetime(2026, 3, 31, tzinfo=UTC)) == datetime(2026, 4, 30, tzinfo=UTC)
    # Any number of months, across the year's end (CYBERCRISIS_RESERVE_SUMMARY_MONTHS).
    assert months_after(datetime(2026, 11, 30, 9, 0, tzinfo=UTC), 3) == datetime(2027, 2, 28, 9, 0, tzinfo=UTC)
