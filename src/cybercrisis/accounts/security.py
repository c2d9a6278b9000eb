"""Secrets: argon2 password hashes, random tokens and their SHA-256 digests."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (t=3, m=64 MiB)
_dummy_hash: str | None = None


def configure(*, time_cost: int, memory_kib: int) -> None:
    """Set the argon2 cost (Settings.argon2_*); existing hashes keep verifying with their own parameters."""
    global _hasher, _dummy_hash  # noqa: PLW0603 - one process-wide hasher, set at start-up
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
    _dummy_hash = None


def _dummy() -> str:
    # A hash of a random string, verified against when the e-mail is unknown, so timing does not tell.
    global _dummy_hash  # noqa: PLW0603
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
    return _dummy_hash


TOKEN_PREFIX = "cc_"  # noqa: S105 - a public prefix that lets secret scanners recognise our tokens
MIN_PASSWORD_LENGTH = 12


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy(), password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def new_api_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def generate_password() -> str:
    return secrets.token_urlsafe(15)


def digest(secret: str) -> str:
    """Tokens and session ids have 256 bits of entropy: a fast hash is enough to store them safely."""
    return hashlib.sha256(secret.encode()).hexdigest()
