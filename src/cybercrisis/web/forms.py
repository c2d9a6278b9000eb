"""Form plumbing: what the user typed and what was wrong with it, for re-rendering a form with 422."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cybercrisis.access.schemas import ShareWith
from cybercrisis.errors import Conflict, DomainError, InvalidInput, PermissionDenied


class PostedForm(BaseModel):
    """What every page form posts besides its fields: the CSRF token (checked by the `CSRF` router dependency);
    fields the form does not know are ignored."""

    model_config = ConfigDict(extra="ignore")

    csrf_token: str = Field(default="", max_length=100)

    def entered(self) -> dict[str, Any]:
        """What the user entered, to show back in the form when it is refused (the token is the page's own)."""
        return self.model_dump(exclude={"csrf_token"})


# The refusals a form shows next to its fields and re-renders with 422; anything else is the app's error page.
FORM_REFUSALS = (InvalidInput, Conflict, PermissionDenied)


@dataclass
class FormState:
    """The values to show back in a form, errors per field name, and a summary for the top of the form."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    message: str | None = None

    @classmethod
    def failed(
        cls,
        exc: DomainError,
        values: dict[str, Any],
        *,
        aliases: Mapping[str, str] | None = None,
        fallback: str = "",
        nested: bool = False,
    ) -> FormState:
        """The form again, each of the service's complaints next to the field it is about.

        A service names fields as its input model does (`share_with.organisations`, `observables[3].value`,
        `facts.rsit_class`); a form has one control per top-level name. `aliases` maps a service name to the
        form's (to "" to show it only in the summary), `nested` keeps dotted names, and `fallback` names the field
        that shows the detail when no complaint names a field of the form.
        """
        errors: dict[str, str] = {}
        for err in exc.errors:
            name = str(err.get("field", ""))
            for prefix in _CONTAINERS:
                name = name.removeprefix(prefix)
            name = name.split("[", 1)[0]
            if not nested:
                name = name.split(".", 1)[0]
            name = (aliases or {}).get(name, name)
            if name:
                # Service messages per field are sometimes one word; the detail is the full, safe sentence.
                errors.setdefault(name, exc.detail if len(exc.errors) == 1 else str(err.get("message", "")))
        if not errors and fallback:
            errors[fallback] = exc.detail
        return cls(values=values, errors=errors, message=exc.detail)


# Input models that wrap a form's fields: their name is not a control of the form.
_CONTAINERS = ("share_with.", "recipients.", "facts.")


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


def plain(error: Mapping[str, Any]) -> str:
    """A validation error of the input model in plain words, instead of the framework's own text ("Input should
    be greater than or equal to 1")."""
    ctx = error.get("ctx") or {}
    kind = str(error.get("type", ""))
    words = {
        "missing": "this is required",
        "greater_than_equal": f"must be at least {ctx.get('ge')}",
        "greater_than": f"must be more than {ctx.get('gt')}",
        "less_than_equal": f"must be at most {ctx.get('le')}",
        "less_than": f"must be less than {ctx.get('lt')}",
        "string_too_short": "this is required"
        if ctx.get("min_length") == 1
        else f"must be at least {ctx.get('min_length')} characters long",
        "string_too_long": f"must be at most {ctx.get('max_length')} characters long",
        "too_short": f"choose at least {ctx.get('min_length')}",
        "too_long": f"at most {ctx.get('max_length')} may be given",
        "int_parsing": "must be a whole number",
        "int_from_float": "must be a whole number",
        "float_parsing": "must be a number",
        "bool_parsing": "must be yes or no",
        "datetime_parsing": "must be a date and time, e.g. 2026-12-08 14:30",
        "datetime_from_date_parsing": "must be a date and time, e.g. 2026-12-08 14:30",
        "extra_forbidden": "is not a field of this form",
    }
    return words.get(kind) or str(error.get("msg", "is not valid"))


def validated(model: type[M], data: dict[str, Any], *, depth: int | None = 1) -> M:
    """Build the service's input; its own complaints become field errors named like the form's fields.

    `depth` is how much of a complaint's location names the field (None: all of it, e.g. translations.fr.body).
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"][:depth]) or "form", "message": plain(e)} for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field'].split('.')[-1].replace('_', ' ')}: {e['message']}" for e in errors[:3])
        raise InvalidInput(detail, errors=errors) from None


LOCAL_MINUTES = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends


def local_minutes(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(LOCAL_MINUTES)


def parse_utc(value: str, *, field: str, required: bool = False) -> datetime | None:
    """A datetime-local value (no zone) read as UTC, as the form's label says; an explicit zone is honoured."""
    text = value.strip()
    if not text:
        if required:
            raise bad(field, "give the date and time (UTC)")
        return None
    try:
        moment = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        raise bad(field, f"'{text[:40]}' is not a date and time; use the form 2026-11-28T09:30 (UTC)") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def required_utc(value: str, *, field: str) -> datetime:
    moment = parse_utc(value, field=field, required=True)
    if moment is None:  # pragma: no cover - parse_utc refuses an empty required value
        raise bad(field, "give the date and time (UTC)")
    return moment
