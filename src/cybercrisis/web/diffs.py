"""How a page shows what changed in a text between two versions (contributions, reports, statements): the two
versions side by side, word by word, removed words struck out on the left and added words marked on the right.

The API keeps serving a unified diff per field; this is for people reading a page.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

# Words, runs of white space (kept, so that line breaks survive) and single punctuation marks.
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")
# Beyond this many tokens a word-by-word comparison costs too much for a page: compare line by line instead.
_MAX_TOKENS = 20_000


@dataclass(frozen=True, slots=True)
class WordDiff:
    """Each side as pieces: ("same", text), ("del", text) on the left, ("ins", text) on the right."""

    before: list[tuple[str, str]]
    after: list[tuple[str, str]]


def _tokens(text: str, by_line: bool) -> list[str]:
    return text.splitlines(keepends=True) if by_line else _TOKEN.findall(text)


def word_diff(old: str | None, new: str | None) -> WordDiff:
    """The two texts side by side, word by word (line by line for very long texts)."""
    old, new = old or "", new or ""
    by_line = len(_TOKEN.findall(old)) + len(_TOKEN.findall(new)) > _MAX_TOKENS
    a, b = _tokens(old, by_line), _tokens(new, by_line)
    before: list[tuple[str, str]] = []
    after: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            before.append(("same", "".join(a[i1:i2])))
            after.append(("same", "".join(b[j1:j2])))
            continue
        if i2 > i1:
            before.append(("del", "".join(a[i1:i2])))
        if j2 > j1:
            after.append(("ins", "".join(b[j1:j2])))
    return WordDiff(before, after)
