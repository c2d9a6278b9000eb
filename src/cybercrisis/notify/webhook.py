"""Signed webhooks: a JSON POST with an HMAC-SHA256 signature of the raw body under the route's secret."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from cybercrisis import __version__, outbound
from cybercrisis.config import Settings

SIGNATURE_HEADER = "X-Cybercrisis-Signature"


class WebhookRefused(RuntimeError):
    """The receiver answered, but not with a 2xx status."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def sign(secret: str, body: bytes) -> str:
    """The signature header value: `sha256=<hex HMAC-SHA256 of the raw body>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """What a receiver does: recompute the signature over the raw body and compare in constant time."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


def body_of(*, event: str, object_id: str | None, payload: dict[str, Any], outbox_id: int, sent_at: datetime) -> bytes:
    document = {
        "event": event,
        "object_id": object_id,
        "payload": payload,
        "id": outbox_id,
        "sent_at": sent_at.isoformat(),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()


def post(settings: Settings, *, url: str, secret: str, event: str, delivery: str, body: bytes) -> None:
    """POST once; returns on 2xx, raises WebhookRefused, outbound.Refused or an httpx error otherwise.

    Redirects are not followed, and the address connected to is checked before anything is sent (`outbound`).
    """
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"cybercrisis/{__version__}",
        "X-Cybercrisis-Event": event,
        "X-Cybercrisis-Delivery": delivery,
        SIGNATURE_HEADER: sign(secret, body),
    }
    timeout = float(getattr(settings, "webhook_timeout_seconds", 5.0))
    with outbound.http_client(settings.outbound_networks, timeout=timeout) as client:
        response = client.post(url, content=body, headers=headers)
    if not 200 <= response.status_code < 300:
        raise WebhookRefused(response.status_code)
