"""Secrets at rest: sealed with a key derived from the server key, per purpose, and opened only with that key."""

from __future__ import annotations

import pytest

from cybercrisis import secretbox
from cybercrisis.config import Settings

KEY = Settings(secret_key="server-key-" + "a" * 40)
OTHER = Settings(secret_key="server-key-" + "b" * 40)


def test_a_sealed_secret_is_versioned_hides_the_secret_and_opens_again() -> None:
    sealed = secretbox.seal(KEY, secretbox.ROUTE_SECRET, "hunter2-hunter2-hunter2")
    assert sealed.startswith("enc1:")
    assert "hunter2" not in sealed
    assert secretbox.reveal(KEY, secretbox.ROUTE_SECRET, sealed) == "hunter2-hunter2-hunter2"
    # a fresh nonce each time: equal secrets do not give equal columns
    assert sealed != secretbox.seal(KEY, secretbox.ROUTE_SECRET, "hunter2-hunter2-hunter2")


def test_another_server_key_or_purpose_cannot_open_it_and_says_why() -> None:
    sealed = secretbox.seal(KEY, secretbox.PEER_TOKEN, "cc_token")
    with pytest.raises(secretbox.Unreadable, match="secret key"):
        secretbox.reveal(OTHER, secretbox.PEER_TOKEN, sealed)
    with pytest.raises(secretbox.Unreadable):
        secretbox.reveal(KEY, secretbox.ROUTE_SECRET, sealed)
    with pytest.raises(secretbox.Unreadable):
        secretbox.reveal(KEY, secretbox.PEER_TOKEN, sealed[:-4] + "AAAA")
    with pytest.raises(secretbox.Unreadable):
        secretbox.reveal(KEY, secretbox.PEER_TOKEN, "enc1:not base64!")


def test_a_value_stored_in_clear_before_sealing_existed_is_read_as_it_is() -> None:
    # Until the start-up step seals it (see secretbox.seal_stored), a job must still be able to use it.
    assert secretbox.reveal(KEY, secretbox.ROUTE_SECRET, "legacy-secret-in-clear") == "legacy-secret-in-clear"
    assert not secretbox.is_sealed("legacy-secret-in-clear")
