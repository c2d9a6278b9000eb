"""Observable types and normalisation: defanged input accepted, one canonical form stored and correlated."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit, urlunsplit

from cybercrisis.errors import InvalidInput

TYPES = (
    "ipv4-addr",
    "ipv6-addr",
    "domain-name",
    "url",
    "email-addr",
    "md5",
    "sha1",
    "sha256",
    "cve",
    "autonomous-system",
)
_HEX = {"md5": 32, "sha1": 40, "sha256": 64}
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$")
_DEFANG = [
    (re.compile(r"^hxxp", re.I), "http"),
    (re.compile(r"^fxp", re.I), "ftp"),
    (re.compile(r"\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)", re.I), "."),
    (re.compile(r"\[:\]"), ":"),
    (re.compile(r"\[@\]|\[at\]|\(at\)", re.I), "@"),
    (re.compile(r"\[/\]"), "/"),
]
MAX_LENGTH = 2048


def refang(value: str) -> str:
    out = value.strip()
    for pattern, repl in _DEFANG:
        out = pattern.sub(repl, out)
    return out


class BadObservable(InvalidInput):
    """An observable that is not of its type's form; the message names the expected form."""


def _bad(type_: str, value: str, form: str) -> BadObservable:
    msg = f"'{value[:100]}' is not a valid {type_}; expected {form}"
    return BadObservable(msg, errors=[{"field": "observables", "message": msg}])


def _domain(value: str, type_: str = "domain-name") -> str:
    host = value.strip().rstrip(".").lower()
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise _bad(type_, value, "a domain name such as example.org") from None
    labels = host.split(".")
    if len(labels) < 2 or len(host) > 253 or not all(_LABEL.match(lbl) for lbl in labels):
        raise _bad(type_, value, "a domain name such as example.org")
    return host


def _ip(type_: str, value: str, raw: str) -> str:
    version = 4 if type_ == "ipv4-addr" else 6
    try:
        if "/" in value:
            net = ipaddress.ip_network(value, strict=False)
            if net.version != version:
                raise ValueError
            return str(net) if net.prefixlen < net.max_prefixlen else str(net.network_address)
        addr = ipaddress.ip_address(value)
        if addr.version != version:
            raise ValueError
        return str(addr)
    except ValueError:
        form = "an IPv4 address or CIDR (192.0.2.1, 192.0.2.0/24)" if version == 4 else "an IPv6 address or CIDR"
        raise _bad(type_, raw, form) from None


def _url(type_: str, value: str, raw: str) -> str:
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "ftp") or not parts.hostname:
        raise _bad(type_, raw, "an http, https or ftp URL")
    host = parts.hostname
    try:
        is_ip: int = ipaddress.ip_address(host).version
    except ValueError:
        is_ip = 0
        host = _domain(host, "url")
    try:
        port = parts.port
    except ValueError:
        raise _bad(type_, raw, "a URL with a valid port") from None
    if is_ip == 6:
        host = f"[{host}]"
    default = {"http": 80, "https": 443, "ftp": 21}[scheme]
    netloc = host if port in (None, default) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def _email(type_: str, value: str, raw: str) -> str:
    local, at, domain = value.rpartition("@")
    if not at or not local or " " in local:
        raise _bad(type_, raw, "an e-mail address such as soc@example.org")
    return f"{local.lower()}@{_domain(domain, type_)}"


def _digest(type_: str, value: str, raw: str) -> str:
    digest = value.lower()
    if len(digest) != _HEX[type_] or any(c not in "0123456789abcdef" for c in digest):
        raise _bad(type_, raw, f"{_HEX[type_]} hexadecimal characters")
    return digest


def _cve(type_: str, value: str, raw: str) -> str:
    cve = value.upper()
    if not _CVE.match(cve):
        raise _bad(type_, raw, "CVE-YYYY-NNNN")
    return cve


def _asn(type_: str, value: str, raw: str) -> str:
    digits = value.upper().removeprefix("AS")
    if not digits.isdigit() or not 0 < int(digits) < 2**32:
        raise _bad(type_, raw, "an AS number such as AS64500")
    return f"AS{int(digits)}"


_NORMALISERS = {
    "ipv4-addr": _ip,
    "ipv6-addr": _ip,
    "domain-name": lambda t, v, r: _domain(v),
    "url": _url,
    "email-addr": _email,
    "md5": _digest,
    "sha1": _digest,
    "sha256": _digest,
    "cve": _cve,
    "autonomous-system": _asn,
}


def normalise(type_: str, raw: str) -> str:
    """The canonical form of one observable, or BadObservable naming the expected form."""
    if type_ not in TYPES:
        msg = f"'{type_}' is not an observable type; valid: {', '.join(TYPES)}"
        raise BadObservable(msg, errors=[{"field": "observables.type", "message": msg}])
    if not raw or len(raw) > MAX_LENGTH:
        raise _bad(type_, raw or "", f"1 to {MAX_LENGTH} characters")
    return _NORMALISERS[type_](type_, refang(raw), raw)
