"""The common taxonomies (RSIT, NIS, NIS2, TLP 2.0, PAP), loaded offline from the `pytaxonomies` package.

Values are validated against what the package ships; error messages list the valid values. Machine tags use the
MISP form `namespace:predicate="value"`.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from cybercrisis.errors import InvalidInput

NAMESPACES = ("rsit", "nis", "nis2", "tlp", "PAP")
# TLP 2.0 only: the package also carries TLP 1.0's white and a few extensions we do not use.
TLP2 = ("clear", "green", "amber", "amber+strict", "red")
PAP_VALUES = ("clear", "green", "amber", "red")
_TAG = re.compile(r'^(?P<ns>[A-Za-z0-9_.-]+):(?P<pred>[^=\s"]+)(?:="(?P<value>[^"]*)")?$')


@dataclass(frozen=True)
class Value:
    value: str
    label: str
    description: str = ""


@dataclass(frozen=True)
class Predicate:
    name: str
    label: str
    description: str
    values: tuple[Value, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Namespace:
    name: str
    description: str
    version: int
    predicates: dict[str, Predicate]


def _taxonomy_module() -> Any:
    """`pytaxonomies.api`, imported without jsonschema, which it needs only for its optional
    `validate_with_schema` (never called here). With rfc3987-syntax installed (stix2-validator's
    `jsonschema[format-nongpl]` brings it), importing jsonschema compiles 38 grammars: about 2 s of CPU in every
    process that reads a taxonomy (measured: `python -X importtime`), a server's start and each CLI command among
    them. pytaxonomies then only records that jsonschema is absent; a later `import jsonschema` works as usual."""
    blocked = "jsonschema" not in sys.modules
    if blocked:
        sys.modules["jsonschema"] = None  # type: ignore[assignment]
    try:
        from pytaxonomies import api
    finally:
        if blocked and sys.modules.get("jsonschema", 0) is None:
            del sys.modules["jsonschema"]
    return api


@lru_cache(maxsize=1)
def catalogue() -> dict[str, Namespace]:
    """The namespaces we use, each read from its `machinetag.json` in the pytaxonomies package (the package's
    `Taxonomies()` reads all of its ~170 taxonomies)."""
    api = _taxonomy_module()
    root = Path(api.__file__).parent / "data" / "misp-taxonomies"
    taxonomies = {
        ns: api.Taxonomy(json.loads((root / ns / "machinetag.json").read_text(encoding="utf-8"))) for ns in NAMESPACES
    }
    out: dict[str, Namespace] = {}
    for ns, tx in taxonomies.items():
        preds: dict[str, Predicate] = {}
        for name, pred in tx.predicates.items():
            if ns == "tlp" and name not in TLP2:
                continue
            if ns == "PAP" and name.lower() not in PAP_VALUES:
                continue
            values = tuple(
                Value(v.value, v.expanded or v.value, v.description or "") for v in (pred.entries or {}).values()
            )
            preds[name] = Predicate(name, pred.expanded or name, pred.description or "", values)
        out[ns] = Namespace(ns, tx.description or "", int(tx.version or 0), preds)
    return out


def predicate_values(ns: str, predicate: str) -> list[str]:
    return [v.value for v in catalogue()[ns].predicates[predicate].values]


def rsit_classes() -> list[str]:
    return list(catalogue()["rsit"].predicates)


def rsit_types(cls: str) -> list[str]:
    return predicate_values("rsit", cls)


def nis2_sectors() -> list[str]:
    return predicate_values("nis2", "impact-sectors-impacted")


def _bad(field_name: str, value: object, valid: list[str], *, what: str | None = None) -> InvalidInput:
    msg = f"'{value}' is not valid for {what or field_name}; valid: {', '.join(valid) or 'no value'}"
    return InvalidInput(msg, errors=[{"field": field_name, "message": msg, "valid": valid}])


def check(field_name: str, value: str | None, valid: list[str]) -> str | None:
    if value is None or value == "":
        return None
    if value not in valid:
        raise _bad(field_name, value, valid)
    return value


def check_rsit(cls: str | None, type_: str | None) -> tuple[str | None, str | None]:
    cls = check("rsit_class", cls, rsit_classes())
    if type_:
        if cls is None:
            raise InvalidInput("rsit_type needs rsit_class", errors=[{"field": "rsit_type", "message": "needs class"}])
        check("rsit_type", type_, rsit_types(cls))
    return cls, type_ or None


def parse_tag(tag: str) -> tuple[str, str, str | None]:
    """Split and validate one machine tag; unknown namespaces, predicates or values are refused."""
    m = _TAG.match(tag.strip())
    if not m:
        raise InvalidInput(
            f"'{tag}' is not a machine tag; the form is namespace:predicate=\"value\"",
            errors=[{"field": "tags", "message": "malformed machine tag"}],
        )
    ns, pred, value = m["ns"], m["pred"], m["value"]
    cat = catalogue()
    if ns not in cat:
        raise _bad("tags", ns, list(cat))
    if pred not in cat[ns].predicates:
        raise _bad("tags", pred, list(cat[ns].predicates), what=f"the {ns} namespace")
    values = predicate_values(ns, pred)
    if (values and value not in values) or (not values and value is not None):
        raise _bad("tags", value, values, what=f"{ns}:{pred}")
    return ns, pred, value


def machine_tag(ns: str, pred: str, value: str | None) -> str:
    return f'{ns}:{pred}="{value}"' if value is not None else f"{ns}:{pred}"


def as_json() -> list[dict[str, Any]]:
    """What `GET /api/v1/taxonomies` shows: every namespace in use with its predicates and values."""
    return [
        {
            "namespace": ns.name,
            "description": ns.description,
            "version": ns.version,
            "predicates": [
                {
                    "predicate": p.name,
                    "label": p.label,
                    "description": p.description,
                    "values": [{"value": v.value, "label": v.label, "description": v.description} for v in p.values],
                }
                for p in ns.predicates.values()
            ],
        }
        for ns in catalogue().values()
    ]
