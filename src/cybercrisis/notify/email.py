"""Notification e-mail over SMTP, PGP/MIME-encrypted when the route has a key and the PGP library is present."""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from email import policy
from email.message import EmailMessage, Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.utils import formatdate
from typing import Any

from cybercrisis.config import Settings
from cybercrisis.notify import pgp

log = logging.getLogger(__name__)
SMTP_TIMEOUT_SECONDS = 30
# Header lines up to RFC 5322's hard limit: a folded delivery key or Message-ID is read back differently by
# different parsers, and these values have no spaces to fold at anyway.
POLICY = policy.SMTP.clone(max_line_length=998)
_NOT_ATOM = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")


class SmtpNotConfigured(RuntimeError):
    """No SMTP server is set (CYBERCRISIS_SMTP_HOST)."""


def message_id(dedupe_key: str, sender: str) -> str:
    """A Message-ID derived from the outbox dedupe key: a resent copy carries the same one."""
    local = ".".join(p for p in _NOT_ATOM.sub(".", dedupe_key).split(".") if p) or "message"
    domain = sender.rpartition("@")[2] or "localhost"
    return f"<{local}@{domain}>"


def build(
    *,
    sender: str,
    to: str,
    subject: str,
    body: str,
    event: str,
    dedupe_key: str,
    pgp_public_key: str | None = None,
) -> Message:
    """The message to send. With a usable PGP key, subject and body travel inside the encrypted part."""
    headers = {
        "From": sender,
        "To": to,
        "Date": formatdate(usegmt=True),
        "Message-ID": message_id(dedupe_key, sender),
        "X-Cybercrisis-Event": event,
        "X-Cybercrisis-Delivery": dedupe_key,
        "Auto-Submitted": "auto-generated",
    }
    if pgp_public_key:
        try:
            armored = pgp.encrypt(pgp_public_key, f"Subject: {subject}\n\n{body}")
        except pgp.PGPUnavailable:
            log.warning("route has a PGP key but the 'pgpy' package is not installed: sending %s in clear", event)
        else:
            return _pgp_mime(headers, armored)
    msg = EmailMessage(policy=POLICY)
    for name, value in headers.items():
        msg[name] = value
    msg["Subject"] = subject
    msg.set_content(body)
    return msg


def _pgp_mime(headers: dict[str, str], armored: str) -> Message:
    """RFC 3156 multipart/encrypted; the outer subject says nothing about the content."""
    outer = MIMEMultipart("encrypted", policy=POLICY, protocol="application/pgp-encrypted")
    for name, value in headers.items():
        outer[name] = value
    outer["Subject"] = "cybercrisis notification (encrypted)"
    control = MIMEApplication("Version: 1\n", _subtype="pgp-encrypted", _encoder=_noop)
    control["Content-Description"] = "PGP/MIME version identification"
    payload = MIMEApplication(armored, _subtype="octet-stream", _encoder=_noop, name="encrypted.asc")
    payload["Content-Description"] = "OpenPGP encrypted message"
    payload.add_header("Content-Disposition", "inline", filename="encrypted.asc")
    outer.attach(control)
    outer.attach(payload)
    return outer


def _noop(_part: Any) -> None:
    """Armored PGP is already 7-bit text: no transfer encoding."""


def send(settings: Settings, message: Message) -> None:
    """Send one message through the configured SMTP server; raises on any refusal."""
    host: str | None = getattr(settings, "smtp_host", None)
    if not host:
        raise SmtpNotConfigured("no SMTP server configured: set CYBERCRISIS_SMTP_HOST")
    port: int = getattr(settings, "smtp_port", 25)
    with smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
        if getattr(settings, "smtp_starttls", False):
            smtp.starttls(context=ssl.create_default_context())
        username: str | None = getattr(settings, "smtp_username", None)
        if username:
            password = getattr(settings, "smtp_password", None)
            if password is not None and hasattr(password, "get_secret_value"):
                password = password.get_secret_value()
            smtp.login(username, password or "")
        smtp.send_message(message)


def sender_of(settings: Settings) -> str:
    return str(getattr(settings, "smtp_from", "cybercrisis@localhost"))
