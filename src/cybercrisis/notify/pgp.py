"""Optional PGP encryption of notification e-mails, with the `pgpy` package when it is installed."""

from __future__ import annotations

import warnings
from types import ModuleType
from typing import Any


class PGPUnavailable(RuntimeError):
    """The optional PGP library is not installed."""


def _pgpy() -> ModuleType:
    try:
        # pgpy 0.6 imports modules that Python and `cryptography` have deprecated; that is not our warning to raise.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgpy  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise PGPUnavailable("install the 'pgpy' package to encrypt notification e-mails") from None
    return pgpy  # type: ignore[no-any-return,unused-ignore]


def load_public_key(armored: str) -> Any:
    """Parse an armored public key; ValueError when it is not one, PGPUnavailable without the library."""
    pgpy = _pgpy()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            key, _ = pgpy.PGPKey.from_blob(armored)
    except Exception as exc:  # pgpy raises many unrelated types on malformed input
        raise ValueError("not a PGP public key") from exc
    if not key.is_public:
        raise ValueError("a private key was given where a public key is expected")
    return key


def encrypt(armored_key: str, plaintext: str) -> str:
    """The ASCII-armored PGP message of `plaintext` for the key's holder."""
    pgpy = _pgpy()
    key = load_public_key(armored_key)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # pgpy picks the key's encryption subkey itself when the primary key only signs.
        return str(key.encrypt(pgpy.PGPMessage.new(plaintext)))
