"""Domain exceptions. They are mapped to HTTP responses in one place (app.py)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base class: `status` is the HTTP status, `title` a short human summary, `detail` safe to show."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


def in_batch(exc: DomainError, field: str, index: int, object_id: str) -> DomainError:
    """The refusal of one item of an all-or-none batch, named by its place in the list (`alerts[2]`), with the
    same status as when that item is asked alone."""
    where = f"{field}[{index}]"
    return type(exc)(f"{where} ({object_id}): {exc.detail}", errors=[{"field": where, "message": exc.detail}])


class NotAuthenticated(DomainError):
    status = 401
    title = "Authentication required"


class PermissionDenied(DomainError):
    status = 403
    title = "Forbidden"


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Conflict(DomainError):
    status = 409
    title = "Conflict"


class InvalidInput(DomainError):
    status = 422
    title = "Invalid input"


class SchemaOutOfDate(RuntimeError):
    """The database schema is not at the code's migration head."""
