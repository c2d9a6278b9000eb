"""textcheck: what is not text (lone surrogates, NUL; in forms also C0 controls) and nesting past the bound are found
with their path; the raw-text proof never calls bad input clean."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cybercrisis import textcheck
from cybercrisis.errors import InvalidInput


def test_finds_the_first_bad_string_key_or_value_with_its_path() -> None:
    data = {"type": "bundle", "objects": [{"name": "ok"}, {"x": [1, "fine", "b\ud800d"]}, {"name": "\x00"}]}
    problem = textcheck.find_problem(data)
    assert problem is not None and problem.field == "objects[1].x[2]"
    assert "lone surrogate (U+D800) at character 1" in problem.message
    key = textcheck.find_problem({"title": "t", "facts": {"a\udc00": 1}})
    assert key is not None and key.field == "facts.a\\udc00" and key.message.startswith("the property name")
    assert json.dumps(key.error(), ensure_ascii=False).encode()  # the path itself is writable text
    nul = textcheck.find_problem({"title": "a\x00b"})
    assert nul is not None and (nul.field, nul.message) == (
        "title",
        "contains NUL (U+0000) at character 1, which is not text",
    )
    assert textcheck.find_problem("\ud800") == textcheck.Problem("body", textcheck.text_problem("\ud800") or "")
    # Valid text of every plane, and control characters other than NUL, are JSON's to carry.
    assert textcheck.find_problem({"name": "Überwachung 观察 😀 \t\x1b[31m", "n": [1, 2.5, None, True]}) is None


def test_nesting_past_the_bound_is_found_at_any_depth_without_recursion() -> None:
    shallow: Any = "x"
    for _ in range(textcheck.MAX_DEPTH):
        shallow = [shallow]
    assert textcheck.find_problem(shallow) is None
    assert textcheck.find_problem({"a": shallow}) == textcheck.Problem(
        "a" + "[0]" * (textcheck.MAX_DEPTH - 1), f"is nested deeper than {textcheck.MAX_DEPTH} levels"
    )
    deep: Any = []
    for _ in range(100_000):  # far past the interpreter's recursion limit
        deep = [deep]
    problem = textcheck.find_problem(deep)
    assert problem is not None and "nested deeper" in problem.message


def test_parse_json_refuses_with_422_naming_the_field_and_survives_100000_levels() -> None:
    with pytest.raises(InvalidInput) as bad:
        textcheck.parse_json(b'{"objects": [{"name": "x\\ud800"}]}')
    assert bad.value.errors == [{"field": "objects[0].name", "message": textcheck.text_problem("x\ud800")}]
    with pytest.raises(InvalidInput) as deep:
        textcheck.parse_json(b"[" * 100_000 + b"]" * 100_000, field="file")
    assert deep.value.errors[0]["field"] == "file" and "nested deeper than 64" in deep.value.detail
    with pytest.raises(json.JSONDecodeError):
        textcheck.parse_json(b"{nope")
    # A pair of surrogate escapes is one character (an emoji), not a lone surrogate.
    assert textcheck.parse_json(b'{"a": "\\ud83d\\ude00", "b": "\\\\ud800"}') == {"a": "😀", "b": "\\ud800"}


# JSON documents of every shape, with strings drawn to hit the edge cases: surrogates, NUL, quotes, backslashes,
# brackets inside strings, escapes that look like surrogates.
_text = st.text(
    alphabet=st.sampled_from(
        ["a", "é", "😀", '"', "\\", "[", "]", "{", "}", "\x00", "\ud800", "\udc00", "\x1f", "u", "d", "8"]
    ),
    max_size=6,
)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(doc=_json, ascii_only=st.booleans(), bound=st.integers(min_value=1, max_value=6))
def test_the_raw_proof_never_calls_bad_json_clean_and_agrees_with_the_walk(
    doc: Any, ascii_only: bool, bound: int
) -> None:
    raw = json.dumps(doc, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    walked = textcheck.find_problem(json.loads(raw), max_depth=bound)
    proven = textcheck.surely_clean(raw, max_depth=bound)
    assert not (proven and walked is not None), (raw, walked)
    if walked is None and ascii_only:
        assert proven, raw  # escaped text carries nothing the proof cannot see: it is exact there


def test_forms_refuse_control_characters_but_tab_and_newlines_and_percent_decoding_yields_no_surrogate() -> None:
    assert textcheck.urlencoded_problem(b"title=Line+one%0D%0Aline%09two&body=") is None
    problem = textcheck.urlencoded_problem(b"csrf_token=x&title=a%00b")
    assert problem is not None and problem.field == "title" and "NUL" in problem.message
    esc = textcheck.urlencoded_problem(b"title=%1B%5B31mred")
    assert esc is not None and esc.message == "contains the control character U+001B at character 0"
    # The UTF-8 form of a surrogate is not UTF-8: decoding replaces it, as Starlette does, so none can come out.
    assert textcheck.urlencoded_problem(b"title=%ED%A0%80") is None
    from urllib.parse import parse_qsl

    assert parse_qsl("title=%ED%A0%80") == [("title", "\ufffd\ufffd\ufffd")]


def test_lossy_json_writes_what_the_strict_encoder_cannot() -> None:
    with pytest.raises(UnicodeEncodeError):
        json.dumps({"a": "x\ud800"}, ensure_ascii=False).encode()
    assert json.loads(textcheck.lossy_json({"a": "x\ud800", "b": "😀"})) == {"a": "x\ufffd", "b": "😀"}
