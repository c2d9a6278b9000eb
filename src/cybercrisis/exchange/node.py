"""This node's identity and Ed25519 signing keys, and the signatures that travel with federated objects (ADR 0008).

Files under `<data_dir>/node/`: `node.json` (the node id and every key's public half, rotation endorsements) and
one `<key id>.key` per private key (PKCS#8 PEM, mode 0600). Generated on first use; `cybercrisis node rotate-key`
adds a key, endorsed by the previous one, and retires the previous one (kept: what it signed still verifies).

A signature block `{"node", "key", "owner", "tlp", "copy", "signature"}` travels with an object as its
`x_cybercrisis_origin` property. It signs the RFC 8785 canonical JSON of the object with `x_cybercrisis_origin` set
to the block without its signature and `x_cybercrisis_shares` as sent (issue 12): so the owner organisation, the
TLP the origin node applies (from the markings, or the importer's choice for an unmarked object), the share list
and the copy are signed with the object, and a receiver can neither be given more recipients than the origin named
nor have another node's or a user's version passed off as the origin's. `copy` is an opaque tag of the origin's
share key: an observable held in two incidents is two copies with two share lists (exchange/copies.py), and the
receiver keeps them apart. A block without `copy` was made before share lists were signed: it is refused.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ORIGIN = "x_cybercrisis_origin"
SHARES = "x_cybercrisis_shares"
RELAYED = "x_cybercrisis_relayed_by"  # served by a relay with the versions it got relayed: never passed on again
ENVELOPE = (ORIGIN, SHARES, RELAYED)
SIGNED_FIELDS = ("node", "key", "owner", "tlp", "copy")
LEGACY_FIELDS = ("node", "key", "owner", "tlp")  # blocks made before the share list was signed
SHARE_KINDS = ("community", "organisation")
# Copy tags: uuid5 of this namespace and "<node id>|<share key>", so a tag says nothing about the key (an incident id).
COPY_NAMESPACE = uuid.UUID("0d4c7f5e-2b1a-4c8e-9f3d-7a6b5c4d3e21")

# A node's keys as peers know them: key id -> base64 raw public key.
PublicKeys = Mapping[str, str]
# Every node's known keys: node id -> its keys.
KeyRing = Mapping[str, PublicKeys]


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode(), validate=True)


def key_id_of(public: str) -> str:
    """The key id of a public key as published (base64url)."""
    return key_id(_unb64(public))


def key_id(public_raw: bytes) -> str:
    """The id of a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def _public_raw(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(_unb64(text))


def _endorsement_message(node_id: str, key: Mapping[str, Any]) -> bytes:
    return f"cybercrisis-node-key:{node_id}:{key['id']}:{key['public_key']}:{key['created']}".encode()


def canonical_shares(entries: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    """A share list as it travels and is signed: organisation and community entries, once each, sorted."""
    return [{"kind": k, "target": t} for k, t in sorted({(k, t) for k, t in entries if k in SHARE_KINDS})]


def copy_tag(node_id: str, share_key: str) -> str:
    """The opaque tag of one of this node's copies (its share key) as it travels in the signature block."""
    return str(uuid.uuid5(COPY_NAMESPACE, f"{node_id}|{share_key}"))


def signing_bytes(obj: Mapping[str, Any], block: Mapping[str, Any], *, legacy: bool = False) -> bytes:
    """What a signature block signs: the object without the envelope, with the block's signed fields as origin and
    the share list it travels with (`legacy`: what blocks without `copy` signed, the share list left out)."""
    body = {k: v for k, v in obj.items() if k not in ENVELOPE}
    body[ORIGIN] = {k: block[k] for k in (LEGACY_FIELDS if legacy else SIGNED_FIELDS)}
    if not legacy:
        body[SHARES] = obj.get(SHARES, [])
    return rfc8785.dumps(body)


def _valid(public: str, signature: str, message: Any) -> bool:
    try:
        public_key(public).verify(_unb64(signature), message())
    except (InvalidSignature, ValueError):
        return False
    return True


def verify(obj: Mapping[str, Any], block: Any, ring: KeyRing) -> str | None:
    """None when `block` is a valid signature of `obj` (its share list included) by a key of its node in `ring`;
    else the reason."""
    if not isinstance(block, Mapping) or not all(isinstance(block.get(k), str) for k in (*LEGACY_FIELDS, "signature")):
        return f"{ORIGIN} is not a signature block with node, key, owner, tlp, copy and signature"
    node, kid = block["node"], block["key"]
    keys = ring.get(node)
    if keys is None:
        return f"signed by node {node}, which this node does not know (add it as a peer to pin its key)"
    public = keys.get(kid)
    if public is None:
        return f"signed with key {kid}, which is not a known key of node {node}"
    changed = f"the signature of node {node} does not verify: the object or its share list changed after signing"
    if not isinstance(block.get("copy"), str):
        if _valid(public, block["signature"], lambda: signing_bytes(obj, block, legacy=True)):
            return f"signed by node {node} without its share list: the origin node must upgrade"
        return changed
    if not _valid(public, block["signature"], lambda: signing_bytes(obj, block)):
        return changed
    return None


def message_bytes(purpose: str, body: Mapping[str, Any], block: Mapping[str, Any]) -> bytes:
    """What a message signature signs: the RFC 8785 JSON of the purpose, the signer and the body, so that a
    signature made for one purpose or node is never valid for another. An answer's body also names the node it is
    addressed to (`to`): signed for one origin, it is no use at another."""
    return rfc8785.dumps({"purpose": purpose, "node": block["node"], "key": block["key"], "body": dict(body)})


def verify_message(purpose: str, body: Mapping[str, Any], block: Any, ring: KeyRing) -> str | None:
    """None when `block` is a valid signature of `body` for `purpose` by a key of its node in `ring`; else why."""
    if not isinstance(block, Mapping) or not all(isinstance(block.get(k), str) for k in ("node", "key", "signature")):
        return "the signature is not a block with node, key and signature"
    keys = ring.get(block["node"])
    if keys is None:
        return f"signed by node {block['node']}, which this node does not know (add it as a peer to pin its key)"
    public = keys.get(block["key"])
    if public is None:
        return f"signed with key {block['key']}, which is not a known key of node {block['node']}"
    if not _valid(public, block["signature"], lambda: message_bytes(purpose, body, block)):
        return f"the signature of node {block['node']} does not verify"
    return None


def endorsed_keys(node_id: str, pinned: PublicKeys, published: list[Mapping[str, Any]]) -> dict[str, str]:
    """The keys a peer publishes that chain to a pinned key by rotation endorsements, plus the pinned ones.

    A rotated key is accepted when it is endorsed by a key already accepted; anything else is ignored."""
    accepted = dict(pinned)
    progress = True
    while progress:
        progress = False
        for key in published:
            kid, by, endorsement = key.get("id"), key.get("endorsed_by"), key.get("endorsement")
            if not isinstance(kid, str) or kid in accepted or by not in accepted or not isinstance(endorsement, str):
                continue
            try:
                if key_id(_unb64(key["public_key"])) != kid:
                    continue
                public_key(accepted[by]).verify(_unb64(endorsement), _endorsement_message(node_id, key))
            except (InvalidSignature, ValueError, KeyError, TypeError):
                continue
            accepted[kid] = key["public_key"]
            progress = True
    return accepted


@dataclass(slots=True)
class Node:
    """This node: its id, its keys (public halves, newest last) and the private half of the current one."""

    id: str
    keys: list[dict[str, Any]]
    private: Ed25519PrivateKey
    path: Path
    mtime: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def key_id(self) -> str:
        return str(self.keys[-1]["id"])

    def public_keys(self) -> dict[str, str]:
        return {k["id"]: k["public_key"] for k in self.keys}

    def sign(
        self, obj: Mapping[str, Any], owner: str, *, tlp: str, shares: list[dict[str, str]], share_key: str
    ) -> dict[str, str]:
        """The signature block of `obj`, owned by organisation `owner` and marked `tlp` on this node (its markings
        may say nothing: the TLP it was imported with travels signed), sent with the share list `shares` (as
        `canonical_shares` makes it) from the copy `share_key`, signed with the current key."""
        block = {"node": self.id, "key": self.key_id, "owner": owner, "tlp": tlp, "copy": copy_tag(self.id, share_key)}
        body = {k: v for k, v in obj.items() if k not in ENVELOPE} | {SHARES: shares}
        block["signature"] = _b64(self.private.sign(signing_bytes(body, block)))
        return block

    def sign_message(self, purpose: str, body: Mapping[str, Any]) -> dict[str, str]:
        """A signature block `{node, key, signature}` over `body` for `purpose` (an answer sent to another node, the
        origin's reply): node-to-node messages that are not STIX objects (ADR 0013)."""
        block = {"node": self.id, "key": self.key_id}
        block["signature"] = _b64(self.private.sign(message_bytes(purpose, body, block)))
        return block

    def identity(self, *, name: str, organisation: str | None) -> dict[str, Any]:
        """What discovery publishes: the node id, its name, the organisation running it and its keys."""
        return {
            "id": self.id,
            "name": name,
            "organisation": organisation,
            "keys": [dict(k) for k in self.keys],
        }


_cache: dict[Path, Node] = {}
_cache_lock = threading.Lock()


def _node_dir(data_dir: Path) -> Path:
    return data_dir / "node"


def _write_private(path: Path, key: Ed25519PrivateKey) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)


def _new_key(folder: Path, *, previous: tuple[str, Ed25519PrivateKey] | None, node_id: str) -> dict[str, Any]:
    key = Ed25519PrivateKey.generate()
    raw = _public_raw(key)
    entry: dict[str, Any] = {
        "id": key_id(raw),
        "public_key": _b64(raw),
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "retired": None,
        "endorsed_by": None,
        "endorsement": None,
    }
    if previous is not None:
        entry["endorsed_by"] = previous[0]
        entry["endorsement"] = _b64(previous[1].sign(_endorsement_message(node_id, entry)))
    _write_private(folder / f"{entry['id']}.key", key)
    return entry


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def _read(path: Path) -> Node:
    data = json.loads(path.read_text())
    current = data["keys"][-1]
    pem = (path.parent / f"{current['id']}.key").read_bytes()
    private = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise ValueError(f"{path.parent}/{current['id']}.key is not an Ed25519 key")
    return Node(id=data["id"], keys=data["keys"], private=private, path=path, mtime=path.stat().st_mtime)


def load(data_dir: Path) -> Node:
    """This node, generated on first use (safe when several processes start at once); re-read after a rotation."""
    folder = _node_dir(data_dir)
    path = folder / "node.json"
    with _cache_lock:
        cached = _cache.get(path)
        if cached is not None and path.exists() and path.stat().st_mtime == cached.mtime:
            return cached
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            lock = folder / ".init"
            try:
                fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                fd = -1  # another process is creating it: wait for node.json below
            if fd >= 0:
                os.close(fd)
                node_id = f"identity--{uuid.uuid4()}"
                _write_json(path, {"id": node_id, "keys": [_new_key(folder, previous=None, node_id=node_id)]})
            else:
                import time

                deadline = time.monotonic() + 10
                while not path.exists() and time.monotonic() < deadline:
                    time.sleep(0.05)
        node = _read(path)
        _cache[path] = node
        return node


def rotate(data_dir: Path) -> Node:
    """Add a new current key endorsed by the current one, which is retired (kept for verifying)."""
    node = load(data_dir)
    folder = node.path.parent
    data = json.loads(node.path.read_text())
    previous = data["keys"][-1]
    previous["retired"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    data["keys"].append(_new_key(folder, previous=(previous["id"], node.private), node_id=node.id))
    _write_json(node.path, data)
    with _cache_lock:
        _cache.pop(node.path, None)
    return load(data_dir)


def key_ring(session: Any, node: Node) -> dict[str, dict[str, str]]:
    """Every node key this node trusts: its own, each peer's pinned and endorsed keys, and the keys of nodes its
    operator pinned out of band (`node pin`). Keys a peer merely lists for a third node are not trusted: an object
    is accepted only from its origin, or through the relay its origin was pinned with (ADR 0013)."""
    from sqlalchemy import select

    from cybercrisis.exchange.models import NodePin, Peer

    ring: dict[str, dict[str, str]] = {}
    for pin in session.scalars(select(NodePin)):
        ring[pin.node_id] = dict(pin.keys)
    for peer in session.scalars(select(Peer).order_by(Peer.created_at)):
        ring[peer.node_id] = {str(k["id"]): str(k["public_key"]) for k in peer.keys}
    ring[node.id] = node.public_keys()
    return ring
