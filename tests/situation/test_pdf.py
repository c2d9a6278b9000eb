"""The briefing PDF: two pages for the political level, the TLP label on every page, user text printed literally."""

from __future__ import annotations

import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cybercrisis.situation.aggregate import ContributionInput, IncidentInput, Inputs, Picture, build
from cybercrisis.situation.pdf import page_count, render_pdf

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="pdftotext (Debian poppler-utils, make browser-deps) is not installed"
)

SCALE = ("normal", "elevated", "degraded", "crisis")
START = datetime(2025, 3, 1, 8, tzinfo=UTC)
END = START + timedelta(days=1)
INJECTION = r"#strong[x] *bold* $x^2$ [link] \ <script>alert(1)</script> #import " + '"x.typ"'
COUNTRIES = [
    ("FR", "crisis", "worsening"),
    ("DE", "degraded", "stable"),
    ("BE", "elevated", "improving"),
    ("NL", "normal", "stable"),
    ("IT", "crisis", "worsening"),
    ("SE", "degraded", "improving"),
]


def contribution(n: int, country: str, status: str, outlook: str, *, needs: str = "") -> ContributionInput:
    return ContributionInput(
        id=f"contribution--{n}",
        tlp="amber",
        country=country,
        period_start=START,
        period_end=END,
        status=status,
        outlook=outlook,
        submitted_at=END,
        sectors=(("energy", "red" if status == "crisis" else "yellow"), ("health", "green")),
        services_disrupted=("electricity distribution",) if status != "normal" else (),
        needs=needs,
        assistance_requested=status == "crisis",
    )


def picture(level: str = "political", *, needs: str = "Generators and incident responders") -> Picture:
    contributions = tuple(contribution(n, *row, needs=needs) for n, row in enumerate(COUNTRIES))
    incidents = tuple(
        IncidentInput(
            id=f"incident--{n}",
            tlp="green",
            title=f"Incident {n}",
            status="ongoing",
            aware_at=START,
            countries=("FR", "DE") if n % 2 else ("IT",),
            sectors=("energy",),
            rsit_class=("availability", "malicious-code", "fraud")[n % 3],
            impact_severity="red",
        )
        for n in range(5)
    )
    return build(level, Inputs(contributions=contributions, incidents=incidents), SCALE)


def view(level: str = "political", **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "sitrep--0b8f7a4e-52a9-4f37-9d0e-6c1a2b3c4d5e",
        "level": level,
        "period_start": START,
        "period_end": END,
        "state": "draft",
        "version": 2,
        "published_at": None,
        "owner_name": "Ana Owner",
        "marking": "amber",
        "title": "Power grid attacks across the Union",
        "text": {
            "summary": "Attacks on distribution operators continue.\n\nFrance and Italy report a crisis.",
            "decisions_needed": "Whether to activate the IPCR.",
            "notes": "",
        },
        "picture": picture(level),
    }
    return base | changes


def pages(pdf: bytes, tmp_path: Path) -> list[str]:
    """The text of each page, as pdftotext extracts it (it ends each page with a form feed)."""
    path = tmp_path / "briefing.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True).stdout
    return out.split("\f")[:-1]


def flat(text: str) -> str:
    return " ".join(text.split())


def test_political_briefing_is_a_pdf_of_at_most_two_pages() -> None:
    pdf = render_pdf(view(), scale=SCALE)
    assert pdf.startswith(b"%PDF-")
    assert 1 <= page_count(pdf) <= 2


@needs_poppler
@pytest.mark.parametrize(
    ("marking", "label"),
    [
        ("clear", "TLP:CLEAR"),
        ("green", "TLP:GREEN"),
        ("amber", "TLP:AMBER"),
        ("amber+strict", "TLP:AMBER+STRICT"),
        ("red", "TLP:RED"),
    ],
)
@pytest.mark.parametrize("level", ["political", "operational", "technical"])
def test_every_page_carries_the_tlp_label_in_header_and_footer(
    marking: str, label: str, level: str, tmp_path: Path
) -> None:
    pdf = render_pdf(view(level, marking=marking), scale=SCALE)
    texts = pages(pdf, tmp_path)
    assert len(texts) == page_count(pdf) >= 2
    for n, text in enumerate(texts, start=1):
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        assert lines[0].endswith(label), f"page {n} header: {lines[0]!r}"
        assert lines[-1].endswith(label), f"page {n} footer: {lines[-1]!r}"
        if label == "TLP:AMBER":
            assert "TLP:AMBER+STRICT" not in text


@needs_poppler
def test_page_one_has_title_period_figures_and_map_page_two_the_story(tmp_path: Path) -> None:
    texts = pages(render_pdf(view(), scale=SCALE), tmp_path)
    assert len(texts) == 2
    one, two = flat(texts[0]), flat(texts[1])
    assert "Power grid attacks across the Union" in one
    assert "1 March 2025 08:00 UTC to 2 March 2025 08:00 UTC" in one
    assert "Version 2" in one and "DRAFT" in one
    assert "Member States affected" in one and "Requests for assistance" in one
    assert "Member States by reported status" in one
    assert "FR" in one and "crisis" in one  # the tile map's labels are text, not outlines
    assert "France and Italy report a crisis." in two
    assert "Whether to activate the IPCR." in two
    assert "Where it is going: national outlooks" in two
    assert "Needs that may call for decisions" in two and "Generators and incident responders" in two
    # Every reader reads the same sentence: nothing says how many sources they may not see.
    assert "Figures are computed from the sources you may see." in two and "withheld" not in two


@needs_poppler
def test_published_report_has_no_draft_line(tmp_path: Path) -> None:
    published = view(state="published", published_at=END + timedelta(hours=2), version=4)
    text = flat("\n".join(pages(render_pdf(published, scale=SCALE), tmp_path)))
    assert "DRAFT" not in text and "NOT PUBLISHED" not in text
    assert "published 2 March 2025 10:00 UTC" in text
    assert "withheld" not in text


@needs_poppler
def test_user_text_is_printed_literally_not_run_as_typst(tmp_path: Path) -> None:
    hostile = view(
        title="Title " + INJECTION,
        owner_name="Owner " + INJECTION,
        text={"summary": "Summary " + INJECTION, "decisions_needed": "Decide " + INJECTION, "notes": ""},
        picture=picture(needs="Needs " + INJECTION),
    )
    text = flat("\n".join(pages(render_pdf(hostile, scale=SCALE), tmp_path)))
    for where in ("Title", "Summary", "Decide", "Needs"):
        assert f"{where} {INJECTION}" in text, where


@needs_poppler
def test_long_text_and_many_rows_still_fit_two_pages(tmp_path: Path) -> None:
    words = "The operators report sustained denial of service against control rooms. "
    long = view(
        title="A very long title that goes on " * 8,
        text={"summary": words * 400, "decisions_needed": words * 80, "notes": words * 50},
        picture=picture(needs=words * 10),
    )
    texts = pages(render_pdf(long, scale=SCALE), tmp_path)
    assert len(texts) <= 2
    both = flat("\n".join(texts))
    assert "the full text is in the platform" in both
    assert "Figures are computed from the sources you may see." in both


@needs_poppler
def test_a_word_too_long_for_the_line_wraps_and_stays_whole(tmp_path: Path) -> None:
    digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    texts = pages(render_pdf(view(title=digest, text={"summary": "Seen: " + digest}), scale=SCALE), tmp_path)
    text = "".join("\n".join(texts).replace("\u200b", "").split())
    assert text.count(digest) == 2


def test_operational_and_technical_briefings_render() -> None:
    for level in ("operational", "technical"):
        pdf = render_pdf(view(level), scale=SCALE)
        assert pdf.startswith(b"%PDF-") and page_count(pdf) >= 1


def test_same_view_same_bytes_and_fast() -> None:
    render_pdf(view(), scale=SCALE)  # the first run loads the embedded fonts
    started = time.perf_counter()
    first = render_pdf(view(), scale=SCALE)
    elapsed = time.perf_counter() - started
    assert first == render_pdf(view(), scale=SCALE)
    assert elapsed < 2.0


def test_an_unknown_marking_is_refused() -> None:
    with pytest.raises(ValueError, match=r"TLP:WHITE is TLP 1\.0"):
        render_pdf(view(marking="white"), scale=SCALE)
