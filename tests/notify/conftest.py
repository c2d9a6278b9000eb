"""Delivery fixtures: real receivers and settings that point at them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cybercrisis.config import Settings
from tests.notify.servers import HttpReceiver, SmtpSink


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    r = HttpReceiver()
    yield r
    r.close()


@pytest.fixture
def delivery_settings(settings: Settings, smtp: SmtpSink) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "smtp_from": "cybercrisis@node.example",
            "webhook_timeout_seconds": 2.0,
        }
    )
