"""Observables typed by people: `type value`, `type:value` or a bare value whose type is guessed.

Used by the incident form, the report forms and `cybercrisis incident import`. Defanged input (hxxp,
[.], [@]) is accepted: the guess looks at the refanged text, the service stores the canonical form.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from cybercrisis.errors import InvalidInput
from cybercrisis.incidents.observables import TYPES, normalise, refang
from cybercrisis.incidents.schemas import ObservableIn

# Short names people type for the STIX-style types.
ALIASES: dict[str, str] = {
    "ip": "ipv4-addr",
    "ipv4": "ipv4-addr",
    "ipv6": "ipv6-addr",
    "domain": "domain-name",
    "hostname": "domain-name",
    "fqdn": "domain-name",
    "email": "email-addr",
    "e-mail": "email-addr",
    "mail": "email-addr",
    "as": "autonomous-system",
    "asn": "autonomous-system",
    "uri": "url",
}
_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$", re.IGNORECASE)
_ASN = re.compile(r"^AS\d+$", re.IGNORECASE)
_HEX = re.compile(r"^[0-9a-fA-F]+$")
# Dotted digits are meant as an IPv4 address even when invalid (300.1.1.1), never as a domain name.
_DOTTED_QUAD = re.compile(r"^\d+(\.\d+){3}(/\d+)?$")
_HASH_BY_LENGTH = {32: "md5", 40: "sha1", 64: "sha256"}


def type_name(word: str) -> str | None:
    """The observable type a word names (`ipv4-addr`, `ip`, `domain`...), or None."""
    key = word.strip().lower()
    if key in TYPES:
        return key
    return ALIASES.get(key)


def detect(value: str) -> str:
    """The most likely type of a bare value; anything unrecognised is taken for a domain name."""
    text = refang(value)
    if _CVE.match(text):
        return "cve"
    if _ASN.match(text):
        return "autonomous-system"
    if _HEX.match(text) and len(text) in _HASH_BY_LENGTH:
        return _HASH_BY_LENGTH[len(text)]
    if "://" in text:
        return "url"
    if "@" in text:
        return "email-addr"
    if _DOTTED_QUAD.match(text):
        return "ipv4-addr"
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return "domain-name"
    return "ipv4-addr" if network.version == 4 else "ipv6-addr"


def parse_one(text: str) -> ObservableIn:
    """One entry: `type value`, `type:value` (a known type name before the colon) or a bare value."""
    entry = text.strip()
    head, sep, rest = entry.partition(" ")
    if sep and rest.strip() and type_name(head):
        return ObservableIn(type=type_name(head) or head, value=rest.strip())
    head, sep, rest = entry.partition(":")
    # "2001:db8::1" and "http://..." have a colon too; only a known type name before it counts.
    if sep and rest.strip() and type_name(head) and not rest.startswith("//"):
        return ObservableIn(type=type_name(head) or head, value=rest.strip())
    return ObservableIn(type=detect(entry), value=entry)


def search_term(text: str) -> str:
    """A search for one observable, pasted defanged or not, in the canonical form it is stored in."""
    term = text.strip()
    if not term or " " in term:
        return term
    item = parse_one(term)
    try:
        return normalise(item.type, item.value)
    except InvalidInput:
        return term


def parse_lines(lines: Iterable[str], *, field: str = "observables", what: str = "line") -> list[ObservableIn]:
    """Parse and check every entry; the first bad one is refused naming its position (`line 3: ...`)."""
    out: list[ObservableIn] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if len(line) > 2100:
            message = f"{what} {number} is longer than 2048 characters"
            raise InvalidInput(message, errors=[{"field": field, "message": message}])
        item = parse_one(line)
        try:
            normalise(item.type, item.value)
        except InvalidInput as exc:
            message = f"{what} {number}: {exc.detail}"
            raise InvalidInput(message, errors=[{"field": field, "message": message}]) from None
        out.append(item)
    return out


def parse_text(text: str, *, field: str = "observables") -> list[ObservableIn]:
    """A textarea: one observable per line; blank lines and `#` comments are skipped."""
    return parse_lines(text.splitlines(), field=field)
