"""Our API token on a peer node is stored encrypted with the server key; sync opens it to authenticate (issue 12)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work
from cybercrisis.exchange import federation, peer_client, peers
from cybercrisis.exchange import node as nodes
from cybercrisis.exchange.models import Peer
from tests.conftest import World
from tests.exchange.conftest import Serve


def test_the_peer_token_is_never_stored_in_clear_and_sync_still_authenticates(
    serve: Serve,
    settings: Settings,
    world: World,
    session_factory: sessionmaker[Session],
    db: Session,
    tmp_path: Path,
) -> None:
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    token = world.user("CERT-FR").token
    discovery = serve(settings) + "/taxii2/"  # the peer; this node has its own data directory and node keys
    here = settings.model_copy(update={"data_dir": tmp_path / "here"})
    probe = peer_client.probe(url=discovery, token=token, username=None, timeout=10, allow=settings.outbound_networks)
    with unit_of_work(session_factory) as s:
        peer_id = peers.add(
            s,
            settings=here,
            actor=None,
            local_node=nodes.load(here.data_dir).id,
            probe=probe,
            token=token,
            username=None,
            direction="pull",
            collections=[],
            timeout=10,
        ).id

    [raw] = db.execute(text("SELECT token FROM peers")).scalars()
    assert raw.startswith("enc1:")
    assert token not in raw

    result = federation.sync_peer(session_factory, here, peer_id)
    assert result.ok, result.errors

    rekeyed = here.model_copy(update={"secret_key": "a-new-server-key-" + "z" * 32})
    failed = federation.sync_peer(session_factory, rekeyed, peer_id)
    assert not failed.ok
    db.rollback()
    error = db.get_one(Peer, peer_id).last_error or ""
    assert "cannot be decrypted" in error
    assert "remove the peer and add it again" in error
