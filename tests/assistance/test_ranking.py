"""The Reserve ranking as a pure function, on hand-made requests whose order was worked out by hand."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from cybercrisis.assistance.ranking import CRITERIA, RankInput, rank
from cybercrisis.assistance.service import one_month_after

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def req(name: str, severity: str = "high", entity: str = "essential", impact: str = "red", spill: str = "high",
        measures: str = "isolated the network", minutes: int = 0) -> RankInput:  # fmt: skip
    return RankInput(id=name, severity=severity, entity_type=entity, impact=impact, spillover=spill,
                     measures_taken=measures, created_at=T0 + timedelta(minutes=minutes))  # fmt: skip


def test_each_criterion_decides_in_priority_order_and_each_item_says_why_it_is_above_the_next() -> None:
    # Each neighbour pair first differs on a different criterion; creation times point the other way, so that
    # only the criteria can explain the order (except F/G, tied on all of them).
    expected = [
        req("A", minutes=30),  # measures taken ...
        req("B", measures="  ", minutes=20),  # ... beat none stated (blank counts as none)
        req("C", spill="low", minutes=10),  # spill-over high (B) beats low
        req("D", impact="yellow", spill="none", minutes=5),  # impact red (C) beats yellow, spill-over notwithstanding
        req("E", entity="important"),  # essential (D) beats important, impact notwithstanding
        req("F", severity="medium", minutes=1),  # severity high (E) beats medium
        req("G", severity="medium", minutes=2),  # tied with F on all criteria: F is earlier
        req("H", severity="critical", minutes=-60),  # not a known value: after every known one
    ]
    shuffled = expected[:]
    random.Random(7).shuffle(shuffled)
    ranked = rank(shuffled)
    assert [(r.rank, r.item.id) for r in ranked] == [(n + 1, x.id) for n, x in enumerate(expected)]
    assert [r.reason for r in ranked] == [
        "above B: own measures taken ranks before no own measures stated",
        "above C: cross-border spill-over risk high ranks before cross-border spill-over risk low",
        "above D: impact red ranks before impact yellow",
        "above E: essential entity ranks before important entity",
        "above F: threat severity high ranks before threat severity medium",
        "above G: tied on all criteria; earlier request first",
        "above H: threat severity medium ranks before threat severity critical",
        "last of the 8 requests ranked",
    ]
    assert CRITERIA == ["severity", "entity_type", "impact", "spillover", "measures_taken"]
    by_id = {r.item.id: r for r in ranked}
    assert [(c.criterion, c.value, c.note) for c in by_id["A"].explanation] == [
        ("severity", "high", "threat severity high: 1st of high > medium > low"),
        ("entity_type", "essential", "essential entity: 1st of essential > important"),
        ("impact", "red", "impact red: 1st of red > yellow > green > white"),
        ("spillover", "high", "cross-border spill-over risk high: 1st of high > medium > low > none"),
        ("measures_taken", "taken",
         "the requester took its own mitigating measures before asking; such requests come first"),
    ]  # fmt: skip
    d = {c.criterion: (c.value, c.note) for c in by_id["D"].explanation}
    assert d["impact"] == ("yellow", "impact yellow: 2nd of red > yellow > green > white")
    assert d["spillover"] == ("none", "cross-border spill-over risk none: 4th of high > medium > low > none")
    b = {c.criterion: (c.value, c.note) for c in by_id["B"].explanation}
    assert b["measures_taken"] == (
        "none stated",
        "no own mitigating measures stated; requests whose requester took measures come first",
    )
    h = {c.criterion: (c.value, c.note) for c in by_id["H"].explanation}
    assert h["severity"] == (
        "critical",
        "'critical' is not a known value (high > medium > low); it ranks after all of them",
    )


def test_exact_ties_fall_back_to_the_id_and_small_inputs_are_explained() -> None:
    assert rank([]) == []
    [only] = rank([req("solo")])
    assert (only.rank, only.reason) == (1, "the only request ranked")
    same_time = rank([req("y"), req("x")])
    assert [r.item.id for r in same_time] == ["x", "y"]
    assert same_time[0].reason == "above y: tied on all criteria and asked at the same time; ordered by id"
    assert same_time[1].reason == "last of the 2 requests ranked"
    # Low severity with everything else at its best still ranks below medium severity with everything at its worst.
    worst_medium = req("m", severity="medium", entity="important", impact="white", spill="none", measures="")
    best_low = req("l", severity="low", minutes=-10)
    assert [r.item.id for r in rank([best_low, worst_medium])] == ["m", "l"]


def test_summary_is_due_the_same_day_next_month_clamped_to_the_month_end() -> None:
    at = datetime(2027, 1, 31, 17, 45, tzinfo=UTC)
    assert one_month_after(at) == datetime(2027, 2, 28, 17, 45, tzinfo=UTC)
    assert one_month_after(at.replace(year=2028)) == datetime(2028, 2, 29, 17, 45, tzinfo=UTC)
    assert one_month_after(datetime(2026, 12, 15, 9, 0, tzinfo=UTC)) == datetime(2027, 1, 15, 9, 0, tzinfo=UTC)
    assert one_month_after(datetime(2026, 3, 31, tzinfo=UTC)) == datetime(2026, 4, 30, tzinfo=UTC)
