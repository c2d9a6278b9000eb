"""Pure rules: observable normalisation, NIS2 clocks, taxonomy validation (significance: test_significance_rules.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cybercrisis import taxonomies
from cybercrisis.errors import InvalidInput
from cybercrisis.incidents import deadlines
from cybercrisis.incidents.observables import normalise

T0 = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("type_", "raw", "expected"),
    [
        ("url", "hxxp://evil[.]com/path?a=1", "http://evil.com/path?a=1"),
        ("url", "HTTPS://Evil.COM:443", "https://evil.com/"),
        ("url", "http://evil.com:8080/x", "http://evil.com:8080/x"),
        ("domain-name", "Evil[.]Example.ORG.", "evil.example.org"),
        ("domain-name", "bücher.example", "xn--bcher-kva.example"),
        ("ipv4-addr", "192.0.2[.]10", "192.0.2.10"),
        ("ipv4-addr", "192.0.2.77/24", "192.0.2.0/24"),
        ("ipv4-addr", "192.0.2.5/32", "192.0.2.5"),
        ("ipv6-addr", "2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("email-addr", "Phish[@]Evil[.]com", "phish@evil.com"),
        ("md5", "D41D8CD98F00B204E9800998ECF8427E", "d41d8cd98f00b204e9800998ecf8427e"),
        (
            "sha256",
            "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        ("cve", "cve-2024-3400", "CVE-2024-3400"),
        ("autonomous-system", "as64500", "AS64500"),
        ("autonomous-system", "64500", "AS64500"),
    ],
)
def test_observables_are_normalised_from_defanged_input(type_: str, raw: str, expected: str) -> None:
    assert normalise(type_, raw) == expected


@pytest.mark.parametrize(
    ("type_", "raw"),
    [
        ("ipv4-addr", "999.1.1.1"),
        ("ipv4-addr", "2001:db8::1"),
        ("ipv6-addr", "192.0.2.1"),
        ("url", "javascript:x"),
        ("domain-name", "localhost"),
        ("domain-name", "-bad-.example"),
        ("md5", "xyz"),
        ("sha1", "a" * 41),
        ("cve", "CVE-24-1"),
        ("autonomous-system", "AS0"),
        ("email-addr", "no-at-sign.example"),
        ("mac-addr", "x"),
    ],
)
def test_malformed_observables_are_refused_with_the_expected_form(type_: str, raw: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        normalise(type_, raw)
    assert "expected" in exc.value.detail or "valid:" in exc.value.detail


def test_nis2_clocks() -> None:
    assert deadlines.early_warning_due(T0) == datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
    assert deadlines.notification_due(T0, None) == datetime(2026, 2, 3, 9, 0, tzinfo=UTC)
    assert deadlines.notification_due(T0, "trust-service-provider") == datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
    # One month after the notification; 31 January + 1 month = 28 February.
    assert deadlines.final_due(notification_submitted_at=T0, progress_submitted_at=None, handled_at=None) == datetime(
        2026, 2, 28, 9, 0, tzinfo=UTC
    )
    assert deadlines.final_due(notification_submitted_at=None, progress_submitted_at=None, handled_at=None) is None
    # A progress report moves the final report to one month after the incident is handled.
    assert deadlines.final_due(notification_submitted_at=T0, progress_submitted_at=T0, handled_at=None) is None
    handled = datetime(2026, 3, 10, tzinfo=UTC)
    assert deadlines.final_due(notification_submitted_at=T0, progress_submitted_at=T0, handled_at=handled) == datetime(
        2026, 4, 10, tzinfo=UTC
    )
    assert deadlines.feedback_due(T0) == datetime(2026, 2, 1, 9, 0, tzinfo=UTC)


def test_taxonomy_values_come_from_pytaxonomies() -> None:
    assert "intrusions" in taxonomies.rsit_classes()
    assert "system-compromise" in taxonomies.rsit_types("intrusions")
    assert "energy" in taxonomies.nis2_sectors()
    names = {ns["namespace"] for ns in taxonomies.as_json()}
    assert names == {"rsit", "nis", "nis2", "tlp", "PAP"}
    tlp = next(ns for ns in taxonomies.as_json() if ns["namespace"] == "tlp")
    assert {p["predicate"] for p in tlp["predicates"]} == {"clear", "green", "amber", "amber+strict", "red"}


def test_unknown_machine_tag_value_lists_the_valid_ones() -> None:
    with pytest.raises(InvalidInput) as exc:
        taxonomies.parse_tag('nis:impact-severity="purple"')
    assert "valid: red, yellow, green, white" in exc.value.detail
