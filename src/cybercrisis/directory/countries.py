"""ISO 3166-1 alpha-2 country codes (from pycountry), the EU Member States, and Greece's EU code EL."""

from __future__ import annotations

import pycountry

from cybercrisis.errors import InvalidInput

COUNTRIES: dict[str, str] = {c.alpha_2: getattr(c, "common_name", c.name) for c in pycountry.countries}

EU_MEMBER_STATES: tuple[str, ...] = (
    "AT",
    "BE",
    "BG",
    "HR",
    "CY",
    "CZ",
    "DK",
    "EE",
    "FI",
    "FR",
    "DE",
    "GR",
    "HU",
    "IE",
    "IT",
    "LV",
    "LT",
    "LU",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SK",
    "SI",
    "ES",
    "SE",
)

# The EU's own country codes differ from ISO for Greece (EL); accept both, store ISO.
ALIASES = {"EL": "GR", "UK": "GB"}


def normalise_country(value: str, *, field: str) -> str:
    code = value.strip().upper()
    code = ALIASES.get(code, code)
    if code not in COUNTRIES:
        msg = f"'{value}' is not an ISO 3166-1 alpha-2 country code (e.g. FR, DE, GR or EL)"
        raise InvalidInput(msg, errors=[{"field": field, "message": msg}])
    return code
