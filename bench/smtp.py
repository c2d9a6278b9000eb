"""An SMTP sink on 127.0.0.1 for the early-warning benchmark (aiosmtpd, as the delivery tests use).

It keeps, per accepted message, the time it arrived and its delivery key (the `X-Cybercrisis-Delivery`
header, `<event>:<object id>:<route or contact id>`), so that the bench can wait until every message of
one alert has arrived.
"""

from __future__ import annotations

import socket
import threading
import time
from email.parser import BytesHeaderParser
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from aiosmtpd.smtp import Session as SmtpSession

HOST = "127.0.0.1"  # loopback only


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


class SmtpSink:
    def __init__(self) -> None:
        self.port = _free_port()
        self._received: list[tuple[float, str, int]] = []  # (perf_counter, delivery key, recipients)
        self._cond = threading.Condition()
        self._controller: Controller | None = None
        self._parser = BytesHeaderParser()

    async def handle_DATA(self, server: Any, session: SmtpSession, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook
        raw = envelope.original_content or envelope.content
        key = ""
        if isinstance(raw, bytes):
            key = str(self._parser.parsebytes(raw).get("X-Cybercrisis-Delivery", ""))
        with self._cond:
            self._received.append((time.perf_counter(), key, len(envelope.rcpt_tos)))
            self._cond.notify_all()
        return "250 Message accepted for delivery"

    def __enter__(self) -> SmtpSink:
        self._controller = Controller(self, hostname=HOST, port=self.port)
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def count(self, prefix: str = "") -> int:
        with self._cond:
            return sum(1 for _, key, _n in self._received if key.startswith(prefix))

    def wait_for(self, prefix: str, expected: int, timeout: float) -> tuple[int, float | None]:
        """Wait until `expected` messages whose key starts with `prefix` have arrived, or `timeout` seconds.

        Returns how many arrived and the perf_counter time of the last of them (None if none did).
        """
        deadline = time.perf_counter() + timeout
        with self._cond:
            while True:
                times = [t for t, key, _ in self._received if key.startswith(prefix)]
                left = deadline - time.perf_counter()
                if len(times) >= expected or left <= 0:
                    return len(times), max(times) if times else None
                self._cond.wait(min(left, 0.5))
