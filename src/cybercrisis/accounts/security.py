"""Secrets: argon2 password hashes, random tokens and their SHA-256 digests."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
# A hash of a random string, verified against when the e-mail is unknown, so timing does not tell.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

TOKEN_PREFIX = "cc_"
MIN_PASSWORD_LENGTH = 12


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
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
