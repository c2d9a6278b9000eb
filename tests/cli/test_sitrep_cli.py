"""`cybercrisis sitrep build|list`, run in-process on the demo data (as the other CLI tests are)."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis import demo
from cybercrisis.cli.sitrep_cmd import parse_period
from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work

COORDINATOR = "coordinator@enisa.example"
FR = "analyst@cert-fr.example"
ISAA = "isaa@dg-connect.example"  # political reports are Commission services' and the EEAS's (C/2025/3445, recital 3)


@pytest.fixture
def loaded(session_factory: sessionmaker[Session], settings: Settings) -> None:
    """The demo, loaded in this process (`cybercrisis demo load` is tested in test_cli.py): it is quicker."""
    with unit_of_work(session_factory) as s:
        demo.load(s, data_dir=settings.data_dir)


def lines_of(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_build_writes_pdf_json_and_markdown_marked_for_the_reader(loaded: None, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    out.mkdir()

    pdf = out / "brief.pdf"
    done = run(
        "sitrep",
        "build",
        "--level",
        "political",
        "--period",
        "today",
        "--as",
        ISAA,
        "--format",
        "pdf",
        "--out",
        str(pdf),
    )
    # Today's contributions that link AMBER incidents are AMBER: the report is shown as strictly as its sources.
    assert done.stdout.startswith("wrote political report sitrep--")
    assert f"(TLP:AMBER) to {pdf}" in done.stdout
    assert pdf.read_bytes().startswith(b"%PDF")
    assert pdf.stat().st_mode & 0o777 == 0o600  # marked information: its owner's only

    as_json = out / "operational.json"
    run(
        "sitrep",
        "build",
        "--level",
        "operational",
        "--period",
        "today",
        "--as",
        COORDINATOR,
        "--format",
        "json",
        "--out",
        str(as_json),
        "--title",
        "Morning brief",
    )
    body = json.loads(as_json.read_text())
    assert body["level"] == "operational" and body["state"] == "draft" and body["title"] == "Morning brief"
    assert body["marking"] == "amber" and body["tlp"] == "green"  # its own marking, and the one to handle it under
    headline = {n["key"]: n["value"] for n in body["figures"]["headline"]}
    assert headline["contributions"] == 8 and headline["status-crisis"] == 1 and headline["assistance"] == 1
    assert {"id", "period_start", "period_end", "text", "sources", "share_with", "audience"} <= set(body)
    assert "withheld" not in body  # nothing is said of sources the reader may not see, not even how many

    # Markdown on stdout (the message goes to stderr): the marking first and last, then the title and figures.
    md = run(
        "sitrep",
        "build",
        "--level",
        "operational",
        "--period",
        "today",
        "--as",
        COORDINATOR,
        "--format",
        "md",
        "--out",
        "-",
        "--title",
        "Brief | <b>today</b>",
    )
    text = lines_of(md.stdout)
    assert text[0] == "**TLP:AMBER**" and text[-1] == "**TLP:AMBER**"
    assert "# Brief \\| &lt;b&gt;today&lt;/b&gt;" in text
    assert any(line.startswith("Period: ") and "00:00 UTC" in line for line in text)
    assert "| Member States reporting | 8 |" in text
    assert any(line.startswith("| FR | crisis | worsening |") for line in text)
    assert "(TLP:AMBER) to stdout" in md.stderr
    assert sorted(p.name for p in out.iterdir()) == ["brief.pdf", "operational.json"]  # no stray temporary file

    # The files are drafts of ENISA's like any other: listed for its users, not for a CSIRT.
    listed = json.loads(run("sitrep", "list", "--json", "--as", COORDINATOR).stdout)
    assert len([r for r in listed if r["state"] == "draft"]) == 3  # the demo's draft, and the two above
    assert [r["state"] for r in json.loads(run("sitrep", "list", "--json", "--as", FR).stdout)] == ["published"]


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils, make browser-deps) missing")
def test_every_page_of_the_pdf_carries_the_marking(loaded: None, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for level, author in (("political", ISAA), ("technical", COORDINATOR)):
        pdf = tmp_path / f"{level}.pdf"
        run("sitrep", "build", "--level", level, "--period", "today", "--as", author, "--out", str(pdf))
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        pages = [p for p in text.split("\f") if p.strip()]
        assert pages and all("TLP:AMBER" in p for p in pages), (level, pages)


def test_list_shows_what_the_reader_may_see(loaded: None, run) -> None:  # type: ignore[no-untyped-def]
    mine = json.loads(run("sitrep", "list", "--json", "--as", COORDINATOR).stdout)
    assert sorted((r["level"], r["state"]) for r in mine) == [("operational", "draft"), ("technical", "published")]
    assert {r["marking"] for r in mine} == {"amber"}
    assert [r["level"] for r in json.loads(run("sitrep", "list", "--json", "--as", FR).stdout)] == ["technical"]
    assert json.loads(run("sitrep", "list", "--json").stdout) == []  # the operator sees TLP:CLEAR only
    table = run("sitrep", "list", "--as", COORDINATOR).stdout
    assert "TLP:AMBER" in table and "2 reports visible" in table
    bad = run("sitrep", "list", "--level", "strategic", ok=False)
    assert bad.returncode == 1 and "'strategic' is not a level" in bad.stderr


ERRORS = [
    (["--as", "nobody@x.example"], "no user nobody@x.example"),
    (["--as", FR], "may not draft situation reports (needs situation:sitrep:write)"),
    (["--level", "strategic"], "'strategic' is not a level; valid: technical, operational, political"),
    (["--period", "2026-11-27T00:00/2026-11-28T00:00"], "has no time zone"),
    (["--period", "2026-11-28/2026-11-27"], "ends before it starts"),
    (["--period", "tomorrow"], "'tomorrow' is not a period"),
    (["--tlp", "white"], "TLP 2.0 calls it CLEAR"),
    (["--format", "docx"], "'docx' is not a format"),
    (["--as", COORDINATOR], "political-level reports (ISAA) are produced by Commission services and the EEAS"),
]


def test_errors_exit_1_with_one_line_and_write_nothing(loaded: None, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    out.mkdir()
    for args, message in ERRORS:
        options = {"--level": "political", "--period": "today", "--as": ISAA, "--format": "pdf"}
        options.update(dict(zip(args[::2], args[1::2], strict=True)))
        argv = [x for kv in options.items() for x in kv]
        done = run("sitrep", "build", *argv, "--out", str(out / "brief.pdf"), ok=False)
        assert done.returncode == 1, (args, done.stdout + done.stderr)
        assert message in done.stderr and len(lines_of(done.stderr)) == 1, (args, done.stderr)
        assert done.stdout == ""
    assert list(out.iterdir()) == []
    drafts = json.loads(run("sitrep", "list", "--json", "--as", COORDINATOR).stdout)
    assert len(drafts) == 2  # the demo's two reports: nothing was drafted


def test_an_unwritable_target_is_refused_before_anything_is_drafted(loaded: None, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base = ("sitrep", "build", "--level", "technical", "--period", "yesterday", "--as", COORDINATOR)
    out = tmp_path / "out"
    out.mkdir()
    missing = run(*base, "--out", str(out / "no" / "such" / "dir.pdf"), ok=False)
    assert missing.returncode == 1 and "no directory" in missing.stderr
    unknown = run(*base, "--out", str(out / "brief.txt"), ok=False)
    assert unknown.returncode == 1 and "give --format" in unknown.stderr
    directory = run(*base, "--out", str(out), "--format", "json", ok=False)
    assert directory.returncode == 1 and "is a directory" in directory.stderr
    assert list(out.iterdir()) == []
    assert len(json.loads(run("sitrep", "list", "--json", "--as", COORDINATOR).stdout)) == 2


def test_periods_in_iso_8601_dates_and_shorthands() -> None:
    now = datetime(2026, 11, 28, 9, 41, 17, tzinfo=UTC)
    day = datetime(2026, 11, 28, tzinfo=UTC)
    assert parse_period("today", now) == (day, day + timedelta(days=1))
    assert parse_period("yesterday", now) == (day - timedelta(days=1), day)
    minute = datetime(2026, 11, 28, 9, 41, tzinfo=UTC)
    assert parse_period("last-24h", now) == (minute - timedelta(hours=24), minute)
    assert parse_period("2026-11-27/2026-11-28", now) == (day - timedelta(days=1), day)
    assert parse_period("2026-11-27T00:00Z/2026-11-28T00:00Z", now) == (day - timedelta(days=1), day)
    start, end = parse_period("2026-11-27T08:00+01:00/2026-11-28T06:30:00Z", now)
    assert (start, end) == (datetime(2026, 11, 27, 7, tzinfo=UTC), datetime(2026, 11, 28, 6, 30, tzinfo=UTC))
    assert start.tzinfo == UTC
    for bad in (
        "2026-11-27",
        "2026-11-27T00:00/2026-11-28T00:00",
        "2026-11-28/2026-11-28",
        "x/y",
        "/2026-11-28",
        "2026-02-30/2026-03-01",
    ):
        with pytest.raises(ValueError, match=r"."):
            parse_period(bad, now)
