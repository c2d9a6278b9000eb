"""Opaque keyset cursors: base64 of the last row's sort key, so pages never skip or repeat rows."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from cybercrisis.errors import InvalidInput

T = TypeVar("T")


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, size: int) -> list[Any] | None:
    if not cursor:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != size or not all(isinstance(v, str) for v in values):
        raise InvalidInput(
            "the cursor is not one this server issued", errors=[{"field": "cursor", "message": "invalid"}]
        )
    return values


def cursor_time(value: str) -> datetime:
    """The time part of a (time, id) cursor; a forged one is a 422 like any bad cursor."""
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            "the cursor is not one this server issued", errors=[{"field": "cursor", "message": "invalid"}]
        ) from None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next: str | None
