"""Text every door accepts: valid Unicode without NUL, in JSON nested at most MAX_DEPTH deep.

Why: the stdlib JSON parser turns `"\\ud800"` into a lone surrogate, which is not a Unicode character: no UTF-8
encoder, PostgreSQL, RFC 8785 canonical JSON or JSON response can write it out again, so one such stored string
failed every later read of whatever held it. NUL (U+0000) is Unicode but not text, and PostgreSQL refuses it in
text columns (a 500 on write). Nesting deeper than the parser's recursion limit raises RecursionError, and every
recursive encoder after the parser (pydantic, rfc8785, json.dumps) would meet the same limit.

The API, the pages' forms, imports (API and CLI), TAXII and federation all use this module; docs/architecture.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from cybercrisis.errors import InvalidInput

# Containers inside containers, the outermost counting 1. STIX 2.1 needs under 10 (envelope > objects > object >
# extensions > extension > property > list > object), MISP events about 6, our own API bodies at most 4: 64 leaves
# room for any real custom property and stays far below Python's recursion limit (1,000).
MAX_DEPTH = 64

_BAD = re.compile("[\x00\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Control characters a person cannot type into a form field: C0 but TAB, LF and CR (textareas send CR LF).
_FORM_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
# In raw JSON: a \u escape of a surrogate or of NUL, or a surrogate encoded as if it were UTF-8 (json.loads decodes
# bytes with "surrogatepass"). The only ways a parsed string can hold either (a raw NUL is not allowed in a string).
_RAW_SUSPECT = re.compile(rb"\\u(?:[dD][89a-fA-F]|0000)")
_RAW_SURROGATE = re.compile(rb"\xed[\xa0-\xbf]")
_LOW_ESCAPE = re.compile(rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_PAIR = re.compile(rb"\[\]|\{\}")


@dataclass(frozen=True, slots=True)
class Problem:
    field: str  # where: `title`, `objects[3].name`, `body` for the whole input
    message: str

    def error(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}

    def refusal(self) -> InvalidInput:
        """The 422 that names the field."""
        return InvalidInput(f"{self.field}: {self.message}", errors=[self.error()])


def _describe(char: str, at: int) -> str:
    code = ord(char)
    if code == 0:
        return f"contains NUL (U+0000) at character {at}, which is not text"
    if 0xD800 <= code <= 0xDFFF:
        return f"is not valid Unicode: a lone surrogate (U+{code:04X}) at character {at}; send UTF-8 text"
    return f"contains the control character U+{code:04X} at character {at}"


def text_problem(value: str) -> str | None:
    """Why a string is not acceptable text (a lone surrogate or NUL), or None."""
    if value.isascii() and "\x00" not in value:
        return None
    found = _BAD.search(value)
    return _describe(found.group(), found.start()) if found else None


def form_text_problem(value: str) -> str | None:
    """Why a form field's text is refused: as `text_problem`, plus C0 control characters other than TAB, LF, CR."""
    found = _FORM_BAD.search(value)
    return _describe(found.group(), found.start()) if found else None


def printable(value: str) -> str:
    """`value` with lone surrogates and NUL written as \\uXXXX escapes: safe in any answer, log or row."""
    return _BAD.sub(lambda m: f"\\u{ord(m.group()):04x}", value)


def _step(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def find_problem(data: Any, *, root: str = "", whole: str = "body", max_depth: int = MAX_DEPTH) -> Problem | None:
    """The first string (key or value, in document order) that is not acceptable text, or the first container
    nested deeper than `max_depth`, with its path (`objects[3].name`); None when the data is clean.

    Iterative, so any depth is safe. `root` prefixes the paths; `whole` names the input itself (the empty path)."""
    if isinstance(data, str):
        reason = text_problem(data)
        return Problem(root or whole, reason) if reason else None
    if not isinstance(data, dict | list):
        return None
    stack: list[tuple[Any, int, str]] = [(data, 1, root)]
    while stack:
        node, depth, path = stack.pop()
        if depth > max_depth:
            return Problem(path or whole, f"is nested deeper than {max_depth} levels")
        found = _children(node, depth, path)
        if isinstance(found, Problem):
            return found
        stack.extend(reversed(found))  # popped in document order
    return None


def _children(node: dict[Any, Any] | list[Any], depth: int, path: str) -> Problem | list[tuple[Any, int, str]]:
    """The containers in `node`, to walk next, or the first string among its keys and values that is not text.
    Paths are built only for those: most values are plain ASCII strings and numbers."""
    inner: list[tuple[Any, int, str]] = []
    is_dict = isinstance(node, dict)
    for key, value in node.items() if is_dict else enumerate(node):  # type: ignore[union-attr]
        if is_dict and isinstance(key, str) and not (key.isascii() and "\x00" not in key):
            reason = text_problem(key)
            if reason:
                return Problem(_step(path, printable(key)), f"the property name {reason}")
        if isinstance(value, str):
            if not (value.isascii() and "\x00" not in value) and (reason := text_problem(value)):
                return Problem(_step(path, str(key)) if is_dict else f"{path}[{key}]", reason)
        elif isinstance(value, dict | list):
            inner.append((value, depth + 1, _step(path, str(key)) if is_dict else f"{path}[{key}]"))
    return inner


def require_clean(data: Any, *, root: str = "") -> None:
    """Refuse (422, naming the field) data holding text that is not valid Unicode, NUL, or nesting too deep."""
    problem = find_problem(data, root=root)
    if problem is not None:
        raise problem.refusal()


def too_deep(field: str = "body") -> Problem:
    return Problem(field, f"is nested deeper than {MAX_DEPTH} levels")


def parse_json(raw: bytes | str, *, field: str = "body") -> Any:
    """json.loads, then the checks of `find_problem`: a 422 naming the field (paths start at the document's root;
    `field` names the whole input, as for nesting too deep for the parser itself). Malformed JSON raises json's own
    errors (JSONDecodeError, UnicodeDecodeError) for the caller to word. Text that `surely_clean` proves clean is
    parsed once and not walked."""
    clean = surely_clean(raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass"))
    try:
        data = json.loads(raw)
    except RecursionError:
        raise too_deep(field).refusal() from None
    if not clean:
        problem = find_problem(data, whole=field)
        if problem is not None:
            raise problem.refusal()
    return data


def _escapes_clean(raw: bytes) -> bool:
    """No \\u escape in the JSON text that decodes to NUL or to a surrogate outside a high-low pair.

    Looked at only where the pattern matches: an escape is real when an odd run of backslashes leads to its `u`
    (`\\\\ud800` is a backslash and text); in valid JSON, backslashes occur only inside strings."""
    if _RAW_SURROGATE.search(raw):
        return False
    paired = -1  # the position of a low surrogate escape already taken by the pair before it
    for found in _RAW_SUSPECT.finditer(raw):
        at = found.start()
        if at == paired:
            continue
        run = 0
        while at - run >= 0 and raw[at - run] == 0x5C:  # backslashes ending at this one
            run += 1
        if run % 2 == 0:
            continue  # an escaped backslash followed by text
        escape = raw[at : at + 6]
        if len(escape) < 6 or escape[2:] == b"0000":
            return False
        high = escape[3:4] in b"89abAB"
        after = raw[at + 6 : at + 12]
        if not high or not _LOW_ESCAPE.fullmatch(after):
            return False  # a low surrogate without its high one, or a high one without its low one
        paired = at + 6
    return True


def _structure(raw: bytes) -> bytes:
    """The brackets of JSON text that are not inside strings, in order, by whole-buffer C-speed operations.

    Escaped backslashes and escaped quotes go first (outside strings, valid JSON has no backslash); then only
    brackets and quotes are kept; `""` pairs go (an empty string, or the end of one string next to the start of
    the next: either way quotes still alternate open/close); what is left between quotes is string content."""
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    kept = raw.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    return b"".join(kept.split(b'"')[::2]) if b'"' in kept else kept


def _depth_at_most(raw: bytes, bound: int) -> bool:
    """Whether the brackets of UTF-8 JSON text nest at most `bound` deep: each pass removes the innermost pairs,
    so the passes that empty them are the depth. False also for brackets that do not pair (not JSON)."""
    if raw.count(b"[") + raw.count(b"{") <= bound:
        return True
    brackets = _structure(raw)
    for _ in range(bound):
        if not brackets:
            return True
        inner = _PAIR.sub(b"", brackets)
        if inner == brackets:
            return False
        brackets = inner
    return not brackets


def surely_clean(raw: bytes, max_depth: int = MAX_DEPTH) -> bool:
    """A proof from the raw UTF-8 JSON text, without parsing it, that it holds no lone surrogate, no NUL and no
    nesting deeper than `max_depth` (C-speed scans: ~30 ms for a 10 MiB STIX envelope). False means "parse and
    check": the text may be bad, malformed or not UTF-8."""
    if raw[:1] == b"\x00" or raw[1:2] == b"\x00" or raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return False  # UTF-16/32, which json.loads also reads: its escapes do not look like these patterns
    return _escapes_clean(raw) and _depth_at_most(raw, max_depth)


def lossy_json(content: Any) -> bytes:
    """Compact UTF-8 JSON (as JSONResponse writes it) with lone surrogates written as U+FFFD: the last resort of an
    answer that holds stored text from before these checks, so that it does not fail for everyone."""
    text = json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
    return _SURROGATE.sub("\ufffd", text).encode("utf-8")


def json_problem(raw: bytes) -> Problem | None:
    """What is wrong with the text or nesting of a JSON body; None when it is clean, or not JSON at all (for the
    route to say). Parses only what `surely_clean` cannot prove clean."""
    if surely_clean(raw):
        return None
    try:
        data = json.loads(raw)
    except RecursionError:
        return too_deep()
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        return None
    return find_problem(data)


# A C0 control other than TAB, LF, CR in a urlencoded body, raw or percent-encoded: the only way one reaches a
# decoded field (UTF-8 decoding with replacement never yields C0 from a multi-byte sequence, nor a surrogate).
_RAW_FORM_SUSPECT = re.compile(rb"%(?:0[0-8bBcCeEfF]|1[0-9a-fA-F])|[\x00-\x08\x0b\x0c\x0e-\x1f]")


def form_problem(fields: Iterable[tuple[str, str]]) -> Problem | None:
    """The first form field (name or value) that `form_text_problem` refuses."""
    for name, value in fields:
        reason = form_text_problem(name)
        if reason:
            return Problem(printable(name), f"the field name {reason}")
        reason = form_text_problem(value)
        if reason:
            return Problem(name, reason)
    return None


def urlencoded_problem(raw: bytes) -> Problem | None:
    """`form_problem` of an application/x-www-form-urlencoded body, decoded as Starlette decodes it; a body without
    any control character (most) is not parsed."""
    if _RAW_FORM_SUSPECT.search(raw) is None:
        return None
    fields = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="replace")
    return form_problem(fields) or Problem("form", "contains a control character")
