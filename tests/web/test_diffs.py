"""The word-by-word comparison the version pages show (web/diffs.py)."""

from __future__ import annotations

from cybercrisis.web.diffs import word_diff


def test_changed_words_are_marked_on_each_side_and_the_rest_reads_as_it_was() -> None:
    d = word_diff("Power supply is not affected.\nCall 112.", "Power supply is restored.\nCall 112.")
    assert d.before == [("same", "Power supply is "), ("del", "not affected"), ("same", ".\nCall 112.")]
    assert d.after == [("same", "Power supply is "), ("ins", "restored"), ("same", ".\nCall 112.")]
    # Each side put back together is its text: nothing lost, line breaks kept.
    assert "".join(t for _, t in d.before) == "Power supply is not affected.\nCall 112."
    assert "".join(t for _, t in d.after) == "Power supply is restored.\nCall 112."


def test_a_text_that_appears_or_goes_is_one_piece() -> None:
    assert word_diff(None, "Now stated.") == word_diff("", "Now stated.")
    assert word_diff("", "Now stated.").after == [("ins", "Now stated.")]
    assert word_diff("Was stated.", "").before == [("del", "Was stated.")]


def test_very_long_texts_are_compared_line_by_line() -> None:
    old = "\n".join(f"line {i} of the text" for i in range(6000))
    new = old.replace("line 3000 of the text", "line 3000 of the new text")
    d = word_diff(old, new)
    assert [t for k, t in d.before if k == "del"] == ["line 3000 of the text\n"]
    assert [t for k, t in d.after if k == "ins"] == ["line 3000 of the new text\n"]
