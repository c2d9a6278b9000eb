"""Form plumbing: what the user typed and what was wrong with it, for re-rendering a form with 422."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

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


M = TypeVar("M", bound=BaseModel)


def bad(field: str, message: str) -> InvalidInput:
    """One field's refusal, shown next to that field."""
    return InvalidInput(message, errors=[{"field": field, "message": message}])


def require_filled(**fields: tuple[str | bool, str]) -> None:
    """Refuse at once every required field left empty: {name: (value or presence, message)}."""
    errors = [
        {"field": name, "message": message}
        for name, (value, message) in fields.items()
        if not (value.strip() if isinstance(value, str) else value)
    ]
    if errors:
        raise InvalidInput("; ".join(e["message"] for e in errors), errors=errors)


def validated(model: type[M], data: dict[str, Any], *, depth: int | None = 1) -> M:
    """Build the service's input; its own complaints become field errors named like the form's fields.

    `depth` is how much of a complaint's location names the field (None: all of it, e.g. translations.fr.body).
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"][:depth]) or "form", "message": e["msg"]} for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field'].split('.')[-1].replace('_', ' ')}: {e['message']}" for e in errors[:3])
        raise InvalidInput(detail, errors=errors) from None
