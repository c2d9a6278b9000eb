"""How a page shows a unified diff between two versions of a text (contributions, reports, statements)."""

from __future__ import annotations


def diff_line_class(line: str) -> str:
    """The CSS class of one line of a unified diff."""
    if line.startswith(("+++", "---")):
        return "diff-file"
    if line.startswith("@@"):
        return "diff-hunk"
    if line.startswith("+"):
        return "diff-add"
    if line.startswith("-"):
        return "diff-del"
    return "diff-same"
