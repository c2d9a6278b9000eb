"""Form plumbing: what the user typed and what was wrong with it, for re-rendering a form with 422."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from cybercrisis.access.schemas import ShareWith
from cybercrisis.errors import DomainError, InvalidInput


@dataclass
class FormState:
    """The values to show back in a form, errors per field name, and a summary for the top of the form."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    message: str | None = None

    @classmethod
    def failed(cls, exc: DomainError, values: dict[str, Any]) -> FormState:
        errors: dict[str, str] = {}
        for err in exc.errors:
            name = str(err.get("field", "")).removeprefix("share_with.")
            if name:
                # Service messages per field are sometimes one word; the detail is the full, safe sentence.
                errors.setdefault(name, exc.detail if len(exc.errors) == 1 else str(err.get("message", "")))
        return cls(values=values, errors=errors, message=exc.detail)


def split_list(text: str) -> list[str]:
    """'a@x.example, b@y.example; c@z.example' -> three entries."""
    return [part for part in re.split(r"[\s,;]+", text or "") if part]


def share_with(organisations: list[str] | None, communities: list[str] | None, users: str) -> ShareWith:
    try:
        return ShareWith(organisations=organisations or [], communities=communities or [], users=split_list(users))
    except ValidationError:
        raise InvalidInput(
            "too many recipients in one form", errors=[{"field": "organisations", "message": "too many"}]
        ) from None
