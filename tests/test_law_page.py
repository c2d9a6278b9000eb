"""docs/law.md maps legal provisions to code and tests: every test and every function it names must exist, so that
the page cannot quietly point at something renamed or removed."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "law.md"
SRC = ROOT / "src" / "cybercrisis"

_ABBREVIATION = re.compile(r"\b([A-Z]{1,2}) = `(tests/[\w/]+\.py)`")
_TEST = re.compile(r"(?:(tests/[\w/]+\.py)|\b([A-Z]{1,2}))::(test_\w+)")


def _rows() -> list[tuple[dict[str, str], list[str]]]:
    """(abbreviations in force, cells) for each table row of the page."""
    abbreviations: dict[str, str] = {}
    rows = []
    for line in PAGE.read_text().splitlines():
        if line.startswith("## "):
            abbreviations = {}
        abbreviations.update(dict(_ABBREVIATION.findall(line)))
        if line.startswith("| ") and not line.startswith("|---"):
            rows.append((dict(abbreviations), [c.strip() for c in line.strip("|").split("|")]))
    return rows


def test_every_test_the_law_page_names_exists() -> None:
    named = 0
    for abbreviations, cells in _rows():
        if len(cells) < 4:
            continue
        context: str | None = None
        for path, abbreviation, name in _TEST.findall(cells[3]):
            file = path or abbreviations.get(abbreviation, "")
            if path or abbreviation:
                context = file
            file = file or context or ""
            assert file, f"{name}: no file given in {cells[3]!r}"
            source = (ROOT / file).read_text()
            assert re.search(rf"def {name}\(", source), f"docs/law.md names {file}::{name}, which does not exist"
            named += 1
    assert named >= 40  # the page maps dozens of provisions; an empty or unparsed page fails here


def _module_file(module: str) -> Path:
    return SRC / (module.replace(".", "/") + ".py")


def _defines(source: str, symbol: str) -> bool:
    return re.search(rf"^(?:def|class) {symbol}\b|^{symbol}\b.*=|^    {symbol}\b", source, re.M) is not None


def test_every_function_the_law_page_names_exists() -> None:
    """Code cells list `module:function` items; a bare name continues the previous module; a path names a file."""
    named = 0
    for _, cells in _rows():
        if len(cells) < 4 or cells[2] in ("Code", ""):
            continue
        module = ""
        for item in (i.strip(" `") for i in re.split(r"[,;]\s*", cells[2])):
            symbol = ""
            if ":" in item:
                module, symbol = item.split(":", 1)
            elif "/" in item:
                assert (SRC / item).exists(), f"docs/law.md names {item}, which does not exist"
                named += 1
                continue
            elif "." in item:
                module = item
            else:
                symbol = item
            assert module and _module_file(module).exists(), f"docs/law.md names module {module!r} ({cells[2]})"
            if symbol:
                symbol = symbol.split("[", 1)[0]
                assert _defines(_module_file(module).read_text(), symbol), (
                    f"docs/law.md names {module}:{symbol}, which is not defined there"
                )
            named += 1
    assert named >= 30
