"""Pure helpers of the incident pages: the observable type detector and the report clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cybercrisis.errors import InvalidInput
from cybercrisis.incidents.labels import clock, span
from cybercrisis.incidents.models import Report
from cybercrisis.incidents.observable_input import parse_one, parse_text, search_term

NOW = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "type_", "value"),
    [
        ("198.51.100[.]7", "ipv4-addr", "198.51.100[.]7"),
        ("192.0.2.0/24", "ipv4-addr", "192.0.2.0/24"),
        ("300.1.1.1", "ipv4-addr", "300.1.1.1"),  # dotted digits are an (invalid) address, not a domain
        ("2001:db8::1", "ipv6-addr", "2001:db8::1"),
        ("2001:db8::/32", "ipv6-addr", "2001:db8::/32"),
        ("hxxps://evil[.]example/login", "url", "hxxps://evil[.]example/login"),
        ("phish[@]evil[.]example", "email-addr", "phish[@]evil[.]example"),
        ("D41D8CD98F00B204E9800998ECF8427E", "md5", "D41D8CD98F00B204E9800998ECF8427E"),
        ("a" * 40, "sha1", "a" * 40),
        (
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        ("cve-2024-3400", "cve", "cve-2024-3400"),
        ("AS64500", "autonomous-system", "AS64500"),
        ("c2.evil.example", "domain-name", "c2.evil.example"),
        ("domain-name 198.51.100.7.example", "domain-name", "198.51.100.7.example"),
        ("ip 192.0.2.1", "ipv4-addr", "192.0.2.1"),
        ("url:http://x.example/", "url", "http://x.example/"),
        ("sha256 " + "b" * 64, "sha256", "b" * 64),
    ],
)
def test_observable_types_are_detected_or_taken_from_a_type_prefix(text: str, type_: str, value: str) -> None:
    item = parse_one(text)
    assert (item.type, item.value) == (type_, value)


def test_observable_text_skips_blank_lines_and_comments_and_names_the_bad_line() -> None:
    assert [o.type for o in parse_text("# from the EDR\n\n192.0.2.1\nevil.example\n")] == ["ipv4-addr", "domain-name"]
    with pytest.raises(InvalidInput, match=r"line 3: '300\.1\.1\.1' is not a valid ipv4-addr") as caught:
        parse_text("192.0.2.1\n\n300.1.1.1\n")
    assert caught.value.errors[0]["field"] == "observables"


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(minutes=42), "42 min"),
        (timedelta(hours=5), "5 h"),
        (timedelta(hours=5, minutes=20), "5 h 20 min"),
        (timedelta(hours=23, minutes=59), "23 h"),
        (timedelta(days=3, hours=4, minutes=10), "3 d 4 h"),
    ],
)
def test_durations_read_like_a_duty_officer_says_them(delta: timedelta, text: str) -> None:
    assert span(delta) == text


def _report(due: datetime | None, submitted: datetime | None = None, kind: str = "early-warning") -> Report:
    return Report(kind=kind, due_at=due, submitted_at=submitted)


def test_report_clocks_say_due_overdue_on_time_or_late() -> None:
    assert clock(_report(NOW + timedelta(hours=5)), NOW).text == "due in 5 h"
    assert clock(_report(NOW + timedelta(hours=5)), NOW).status == "due-soon"
    assert clock(_report(NOW + timedelta(hours=50)), NOW).status == "due"
    assert clock(_report(NOW - timedelta(hours=3)), NOW).text == "overdue by 3 h"
    assert clock(_report(NOW, NOW - timedelta(hours=1)), NOW).text == "submitted on time"
    late = clock(_report(NOW - timedelta(hours=6), NOW), NOW)
    assert late.status == "late" and late.text.startswith("late")
    assert "one month after the incident notification" in clock(_report(None, kind="final"), NOW).text


@pytest.mark.parametrize(
    ("query", "term"),
    [
        ("198.51.100[.]7", "198.51.100.7"),
        ("hxxps://Evil[.]example", "https://evil.example/"),
        ("C2.Evil.Example", "c2.evil.example"),
        ("ransomware", "ransomware"),
        ("water utility", "water utility"),
    ],
)
def test_a_pasted_defanged_observable_is_searched_in_its_stored_form(query: str, term: str) -> None:
    assert search_term(query) == term
