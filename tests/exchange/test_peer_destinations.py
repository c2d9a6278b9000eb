"""Peers reach only what the outbound policy allows: `peer add` refuses an address inside, and every connection of a
sync round is checked, redirects included.

This module's node allows no network (CYBERCRISIS_OUTBOUND_ALLOW empty) unless a test says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work
from cybercrisis.exchange import federation, peer_client, peers
from cybercrisis.exchange import node as nodes
from cybercrisis.exchange.models import Peer
from tests.conftest import count
from tests.test_outbound import Recorder


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"outbound_allow": ""})


@pytest.fixture
def inside() -> Iterator[Recorder]:
    """A server on 127.0.0.2: loopback, and outside the one address (127.0.0.1) that some tests allow."""
    r = Recorder(host="127.0.0.2")
    yield r
    r.close()


@pytest.fixture
def front(inside: Recorder) -> Iterator[Recorder]:
    """A server on 127.0.0.1 that redirects every request (307) to the same path on `inside`."""

    def redirect(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(307)
        handler.send_header("Location", f"http://127.0.0.2:{inside.port}{handler.path}")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    r = Recorder(answer=redirect)
    yield r
    r.close()


def test_peer_add_refuses_a_loopback_url_before_connecting(run: Any, inside: Recorder, db: Session) -> None:
    url = f"http://127.0.0.2:{inside.port}/taxii2/"
    refused = run("peer", "add", url, "--token", "t", "--direction", "pull", ok=False)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "127.0.0.2 is a loopback address" in refused.stderr
    assert "CYBERCRISIS_OUTBOUND_ALLOW" in refused.stderr
    assert inside.requests == []
    assert count(db, Peer) == 0


def test_peer_add_refuses_a_peer_that_redirects_to_a_refused_address(
    run: Any, front: Recorder, inside: Recorder, db: Session
) -> None:
    url = f"http://127.0.0.1:{front.port}/taxii2/"
    refused = run(
        "peer",
        "add",
        url,
        "--token",
        "t",
        "--direction",
        "pull",
        ok=False,
        extra_env={"CYBERCRISIS_OUTBOUND_ALLOW": "127.0.0.1/32"},
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "the connection to 127.0.0.2 reached a loopback address" in refused.stderr
    assert "CYBERCRISIS_OUTBOUND_ALLOW" in refused.stderr
    assert front.requests == [("GET", "/taxii2/")]
    assert inside.requests == []
    assert count(db, Peer) == 0


def _stored_peer(factory: sessionmaker[Session], settings: Settings, tmp_path: Path, url: str) -> str:
    """A peer as `peer add` stores it (its discovery as learned then), whose URL now leads elsewhere."""
    other = nodes.load(tmp_path / "other")
    d = peer_client.Discovery(
        url=url,
        title="node",
        api_root=url + "cybercrisis/",
        node_id=other.id,
        name="node",
        organisation=None,
        keys=[dict(k) for k in other.keys],
    )
    with unit_of_work(factory) as s:
        peer = peers.add(
            s,
            actor=None,
            local_node="identity--local",
            probe=peer_client.Probe(d, {}),
            token="t",
            username=None,
            direction="pull",
            collections=[],
            timeout=5.0,
            settings=settings,
        )
        return peer.id


def test_a_sync_round_does_not_follow_a_redirect_to_a_refused_address(
    settings: Settings,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
    front: Recorder,
    inside: Recorder,
    db: Session,
) -> None:
    peer_id = _stored_peer(session_factory, settings, tmp_path, f"http://127.0.0.1:{front.port}/taxii2/")
    allowing_front = settings.model_copy(update={"outbound_allow": "127.0.0.1/32"})
    result = federation.sync_peer(session_factory, allowing_front, peer_id)
    assert not result.ok
    assert front.requests == [("GET", "/taxii2/")]
    assert inside.requests == []
    db.rollback()
    error = db.get_one(Peer, peer_id).last_error or ""
    assert error.startswith("the connection to 127.0.0.2 reached a loopback address"), error
    assert "CYBERCRISIS_OUTBOUND_ALLOW" in error


def test_a_sync_round_does_not_connect_once_the_peer_network_is_no_longer_allowed(
    settings: Settings, session_factory: sessionmaker[Session], tmp_path: Path, inside: Recorder, db: Session
) -> None:
    peer_id = _stored_peer(session_factory, settings, tmp_path, f"http://127.0.0.2:{inside.port}/taxii2/")
    result = federation.sync_peer(session_factory, settings, peer_id)
    assert not result.ok
    assert inside.requests == []
    db.rollback()
    assert "loopback address" in (db.get_one(Peer, peer_id).last_error or "")
