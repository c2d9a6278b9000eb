"""`cybercrisis incident list|import` and `cybercrisis deadlines`, run in-process on the demo data."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

FR = "analyst@cert-fr.example"
DE = "analyst@cert-bund.example"
NOW = datetime.now(UTC).replace(microsecond=0)


def titles(run, *args: str) -> set[str]:  # type: ignore[no-untyped-def]
    return {i["title"] for i in json.loads(run("incident", "list", "--json", *args).stdout)}


def test_incident_list_shows_what_the_reader_may_see_and_the_operator_only_clear(  # type: ignore[no-untyped-def]
    run, tmp_path: Path
) -> None:
    run("demo", "load")
    public = tmp_path / "public.json"
    public.write_text(json.dumps([{"title": "Public advisory incident", "tlp": "clear", "aware_at": NOW.isoformat()}]))
    run("incident", "import", str(public), "--as", FR)

    assert titles(run) == {"Public advisory incident"}  # the operator: TLP:CLEAR only
    as_fr = titles(run, "--as", FR)
    as_de = titles(run, "--as", DE)
    assert len(as_fr) >= 6 and "Public advisory incident" in as_fr
    strict = "Data exfiltration from the engineering network at Rheinwasser"
    assert strict in as_de and strict not in as_fr
    assert titles(run, "--as", FR, "--country", "DE") == {
        "VPN gateways compromised via CVE-2024-3400 at Nordlicht Energie"
    }
    assert titles(run, "--as", FR, "--status", "contained") == {
        "Unauthorised access to internal systems at Tulpbank through a VPN appliance"
    }
    overdue = json.loads(run("incident", "list", "--json", "--overdue", "--as", FR).stdout)
    assert overdue and all(i["overdue_reports"] >= 1 for i in overdue)
    table = run("incident", "list", "--as", FR).stdout
    assert "Ransomware at CH Bellerive" in table and "incidents visible" in table


def test_deadlines_lists_open_reports_by_urgency_for_the_reader(run) -> None:  # type: ignore[no-untyped-def]
    run("demo", "load")
    overdue = json.loads(run("deadlines", "--status", "overdue", "--json", "--as", FR).stdout)
    assert {(d["kind"], d["status"]) for d in overdue} >= {("early-warning", "overdue"), ("notification", "overdue")}
    assert all(d["clock"].startswith("overdue by") for d in overdue)
    opened = json.loads(run("deadlines", "--status", "open", "--json", "--as", FR).stdout)
    assert any(
        d["incident_title"].startswith("VPN gateways")
        and d["kind"] == "notification"
        and d["clock"].startswith("due in")
        for d in opened
    )
    # The phishing wave is outside NIS2 (no NIS2 entity affected): none of its reports has a deadline.
    assert not any(d["incident_title"].startswith("Phishing wave") for d in opened)
    soon = json.loads(run("deadlines", "--status", "due-soon", "--json", "--as", FR).stdout)
    assert all(d["clock"].startswith("due in") for d in soon)
    assert json.loads(run("deadlines", "--json").stdout) == []  # the operator sees no marked incident
    assert "overdue by" in run("deadlines", "--as", FR).stdout
    bad = run("deadlines", "--status", "late", ok=False)
    assert bad.returncode == 1 and "status is overdue, due-soon or open" in bad.stderr


def csv_file(tmp_path: Path, rows: list[dict[str, str]]) -> Path:
    columns = [
        "title",
        "tlp",
        "aware_at",
        "countries",
        "sectors",
        "observables",
        "share_communities",
        "rsit_class",
        "rsit_type",
        "impact_severity",
        "entity_type",
    ]
    lines = [",".join(columns)] + [",".join(row.get(c, "") for c in columns) for row in rows]
    path = tmp_path / "incidents.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_csv_import_keeps_valid_rows_reports_the_rejected_ones_and_exits_1(  # type: ignore[no-untyped-def]
    run, tmp_path: Path
) -> None:
    run("demo", "load")
    aware = (NOW - timedelta(hours=3)).isoformat()
    path = csv_file(
        tmp_path,
        [
            {
                "title": "Imported wiper",
                "tlp": "amber",
                "aware_at": aware,
                "countries": "FR;DE",
                "sectors": "energy",
                "observables": "198.51.100[.]9;domain-name:wiper.example;CVE-2024-3400",
                "share_communities": "csirts-network",
                "rsit_class": "intrusions",
                "rsit_type": "system-compromise",
                "impact_severity": "yellow",
            },
            {"title": "Bad sector", "tlp": "amber", "aware_at": aware, "sectors": "casinos"},
            {"title": "Imported DNS outage", "tlp": "green", "aware_at": aware, "entity_type": "dns-service-provider"},
            {"title": "Bad address", "tlp": "amber", "aware_at": aware, "observables": "300.1.1.1"},
        ],
    )
    result = run("incident", "import", str(path), "--as", FR, ok=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "imported 2, rejected 2" in result.stdout
    assert "Rejected rows" in result.stdout
    assert "'casinos' is not valid for sectors" in result.stdout
    assert "observable 1: '300.1.1.1' is not a valid ipv4-addr" in result.stdout
    rejected_rows = [line.split("│")[1].strip() for line in result.stdout.splitlines() if line.startswith("│ ")]
    assert [r for r in rejected_rows if r] == ["2", "4"]
    listed = json.loads(run("incident", "list", "--json", "--as", DE).stdout)
    wiper = next(i for i in listed if i["title"] == "Imported wiper")
    assert wiper["countries"] == ["DE", "FR"] and wiper["rsit_class"] == "intrusions"
    assert "Bad sector" not in {i["title"] for i in listed}


def test_json_import_of_valid_incidents_exits_0(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("demo", "load")
    body: list[dict[str, Any]] = [
        {
            "title": "JSON incident one",
            "tlp": "amber",
            "aware_at": NOW.isoformat(),
            "countries": ["NL"],
            "observables": [{"type": "domain-name", "value": "one.example"}],
            "share_with": {"communities": ["csirts-network"]},
        },
        {"title": "JSON incident two", "tlp": "amber+strict", "aware_at": NOW.isoformat()},
    ]
    path = tmp_path / "incidents.json"
    path.write_text(json.dumps(body))
    result = run("incident", "import", str(path), "--as", FR)
    assert "imported 2, rejected 0" in result.stdout
    assert {"JSON incident one", "JSON incident two"} <= titles(run, "--as", FR)
    assert "JSON incident two" not in titles(run, "--as", DE)


def test_import_refuses_unknown_users_viewers_and_files_of_the_wrong_shape(  # type: ignore[no-untyped-def]
    run, tmp_path: Path
) -> None:
    run("demo", "load")
    good = tmp_path / "one.json"
    good.write_text(json.dumps([{"title": "Anything", "tlp": "amber", "aware_at": NOW.isoformat()}]))
    nobody = run("incident", "import", str(good), "--as", "nobody@x.example", ok=False)
    assert nobody.returncode == 1 and "no user nobody@x.example" in nobody.stderr
    viewer = run("incident", "import", str(good), "--as", "viewer@cert-ee.example", ok=False)
    assert viewer.returncode == 1 and "may not record incidents" in viewer.stderr
    not_a_list = tmp_path / "object.json"
    not_a_list.write_text(json.dumps({"title": "x"}))
    assert run("incident", "import", str(not_a_list), "--as", FR, ok=False).returncode == 1
    typo = tmp_path / "typo.csv"
    typo.write_text("title,countrys\nX,FR\n")
    bad_header = run("incident", "import", str(typo), "--as", FR, ok=False)
    assert bad_header.returncode == 1 and "unknown: countrys" in bad_header.stderr
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    assert "imported 0, rejected 0" in run("incident", "import", str(empty), "--as", FR, ok=False).stdout
    assert "1 when any row was rejected" in run("incident", "import", "--help").stdout
    assert "Anything" not in titles(run, "--as", FR)
