"""Secrets kept at rest that the server must use again (webhook signing secrets, our API tokens on peer nodes).

They cannot be stored hashed: the server signs with them or sends them. Each is sealed with AES-256-GCM under a
key derived from the server secret key (`Settings.effective_secret_key()`) by HKDF-SHA256 with the purpose as
label, so a copy of the database alone (a backup, a dump, a stolen disk image without the data directory) yields
no usable secret, and a value cannot be moved to a column of another purpose. Stored as
`enc1:<base64url(nonce | ciphertext | tag)>`; the version prefix leaves room for another scheme later.

Values stored in clear by a version before sealing existed are read as they are, and sealed by `seal_stored`
when a server (or a job runner) starts with its own key: the migration cannot know the server's key for sure,
and sealing with another one would make every secret unreadable.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select, update
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work

log = logging.getLogger(__name__)

PREFIX = "enc1:"
NONCE_BYTES = 12
# Purposes: labels of the key derivation, not secrets.
ROUTE_SECRET = "notify:route:secret"  # noqa: S105
PEER_TOKEN = "exchange:peer:token"  # noqa: S105
# What each purpose is, and what the operator does when it cannot be opened, for the error they will read.
_REMEDY = {
    ROUTE_SECRET: ("the webhook signing secret", "create the route again (the receiver needs the new secret)"),
    PEER_TOKEN: ("our API token on the peer", "remove the peer and add it again with a token"),
}


class Unreadable(Exception):
    """A sealed value this server's key cannot open: the message is safe to store and to show to the operator."""


@lru_cache(maxsize=16)
def _aead(server_key: str, purpose: str) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"cybercrisis secret at rest: {purpose}".encode())
    return AESGCM(hkdf.derive(server_key.encode()))


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


def seal(settings: Settings, purpose: str, plaintext: str) -> str:
    """The value to store for `plaintext`."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = _aead(settings.effective_secret_key(), purpose).encrypt(nonce, plaintext.encode(), purpose.encode())
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")


def reveal(settings: Settings, purpose: str, stored: str) -> str:
    """The secret behind a stored value; Unreadable when this server's key cannot open it."""
    if not is_sealed(stored):
        return stored  # stored in clear by an older version; sealed at the next start (seal_stored)
    what, remedy = _REMEDY.get(purpose, ("the stored secret", "set it again"))
    body = stored.removeprefix(PREFIX)
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        if len(raw) <= NONCE_BYTES:
            raise ValueError("too short")
        plain = _aead(settings.effective_secret_key(), purpose).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], purpose.encode()
        )
        return plain.decode()
    except (InvalidTag, ValueError, binascii.Error):  # UnicodeDecodeError is a ValueError
        raise Unreadable(
            f"{what} cannot be decrypted with this server's secret key (was CYBERCRISIS_SECRET_KEY or the data "
            f"directory's secret_key changed?): {remedy}"
        ) from None


def _seal_column(
    session: Session,
    settings: Settings,
    key: InstrumentedAttribute[Any],
    column: InstrumentedAttribute[Any],
    purpose: str,
) -> int:
    rows = session.execute(select(key, column).where(column.is_not(None), column.not_like(f"{PREFIX}%"))).all()
    done = 0
    for pk, value in rows:
        # Conditional: another process starting at the same time may have sealed it already.
        result = session.execute(
            update(column.class_).where(key == pk, column == value).values({column.key: seal(settings, purpose, value)})
        )
        done += result.rowcount  # type: ignore[attr-defined]
    return done


def seal_stored(factory: sessionmaker[Session], settings: Settings) -> int:
    """Seal every secret still stored in clear (by a version before this one); idempotent. The number sealed.

    The one list of what is sealed at rest: webhook route secrets and peer tokens."""
    from cybercrisis.exchange.models import Peer
    from cybercrisis.notify.models import NotificationRoute

    with unit_of_work(factory) as session:
        routes = _seal_column(session, settings, NotificationRoute.id, NotificationRoute.secret, ROUTE_SECRET)
        tokens = _seal_column(session, settings, Peer.id, Peer.token, PEER_TOKEN)
    if routes or tokens:
        log.warning("sealed %d webhook secret(s) and %d peer token(s) that were stored in clear", routes, tokens)
    return routes + tokens
