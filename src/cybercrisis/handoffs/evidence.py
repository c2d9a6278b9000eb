"""The evidence store: files kept under the data directory by their SHA-256, hashed while they arrive (ADR 0007).

A file is streamed in chunks to a temporary file next to the store, hashed on the way, and moved into place
(`<data_dir>/evidence/<sha256[:2]>/<sha256>`) only once it is complete, within the size limit and, when the
sender gave its digest, unchanged. Whatever goes wrong, the temporary file is removed: nothing half-written is
ever stored. The same content is stored once, whatever the number of hand-offs that carry it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from cybercrisis.errors import DomainError, InvalidInput

CHUNK = 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$")
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")
# Unicode categories refused in file names: controls (Cc, C0 and C1), format characters (Cf: the bidi embeddings,
# overrides, isolates and marks U+202A-U+202E, U+2066-U+2069, U+200E/U+200F, zero-width characters, U+FEFF), line
# and paragraph separators (Zl, Zp) and surrogates (Cs). `invoice<U+202E>gpj.exe` is shown as `invoiceexe.jpg`.
_REFUSED_IN_NAMES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


class TooLarge(DomainError):
    status = 413
    title = "Payload too large"


class EvidenceUnavailable(DomainError):
    """The stored file is missing or no longer matches its recorded size or digest: the store was tampered with."""

    status = 500
    title = "Evidence unavailable"


@dataclass(frozen=True, slots=True)
class StoredBlob:
    sha256: str
    size: int
    created: bool  # False when the same content was already in the store


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message}])


def store_root(data_dir: Path) -> Path:
    return data_dir / "evidence"


def path_for(data_dir: Path, sha256: str) -> Path:
    if not _SHA256.match(sha256):
        raise ValueError(f"not a SHA-256 digest: {sha256!r}")
    return store_root(data_dir) / sha256[:2] / sha256


def check_digest(value: str | None, *, field: str = "sha256") -> str | None:
    """A client-supplied digest: 64 hexadecimal characters (case ignored), or nothing."""
    if value is None or not value.strip():
        return None
    digest = value.strip().lower()
    if not _SHA256.match(digest):
        raise _bad(field, "a SHA-256 digest is 64 hexadecimal characters")
    return digest


def clean_name(name: str | None) -> str:
    """The file's own name without any directory part; at most 255 characters. A name holding a control, format or
    line-breaking character is refused (422, field `file`), never changed silently: the sender sees what is kept."""
    given = name or ""
    bad = next((c for c in given if unicodedata.category(c) in _REFUSED_IN_NAMES), None)
    if bad is not None:
        what = unicodedata.name(bad, "a control character")
        raise _bad(
            "file",
            f"the file name holds U+{ord(bad):04X} ({what}) at character {given.index(bad)}, "
            "which changes how it reads or is printed: rename the file",
        )
    base = given.replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE_NAME.sub("_", base).strip().lstrip(".") or "evidence"
    if len(base) > 255:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 254 - len(ext)] + dot + ext) if dot and len(ext) < 20 else base[:255]
    return base


def clean_media_type(value: str | None) -> str:
    """The declared media type when it is well formed, else application/octet-stream (never trusted for display)."""
    media = (value or "").split(";", 1)[0].strip().lower()
    return media if _MEDIA_TYPE.match(media) else "application/octet-stream"


def store(src: BinaryIO, *, data_dir: Path, max_bytes: int, expected_sha256: str | None = None) -> StoredBlob:
    """Copy `src` into the store in chunks, hashing on the way; refuse it whole if too large or changed."""
    root = store_root(data_dir)
    incoming = root / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=incoming, prefix="upload-", suffix=".part")  # mode 0600
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "wb") as out:
            while chunk := src.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(
                        f"an evidence file is at most {max_bytes} bytes; split it or hand it over out of band",
                        errors=[{"field": "file", "message": f"larger than {max_bytes} bytes"}],
                    )
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        sha = digest.hexdigest()
        if expected_sha256 is not None and sha != expected_sha256:
            raise InvalidInput(
                "the file changed in transit: its SHA-256 is not the one you gave; nothing was stored",
                errors=[{"field": "sha256", "message": "the file changed in transit", "received": sha}],
            )
        target = path_for(data_dir, sha)
        if target.exists():
            return StoredBlob(sha, size, created=False)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)  # atomic on one file system: a reader sees the whole file or none
        _fsync_dir(target.parent)
        return StoredBlob(sha, size, created=True)
    finally:
        tmp.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a directory be opened for fsync
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def discard(data_dir: Path, blob: StoredBlob) -> None:
    """Remove a blob this request created and will not reference after all."""
    if blob.created:
        path_for(data_dir, blob.sha256).unlink(missing_ok=True)


def stored_path(data_dir: Path, sha256: str, size: int) -> Path:
    """The stored file of a recorded digest; refuses one that is missing or whose size changed."""
    path = path_for(data_dir, sha256)
    try:
        actual = path.stat().st_size
    except FileNotFoundError:
        raise EvidenceUnavailable(f"the evidence file {sha256} is missing from the store") from None
    if actual != size:
        raise EvidenceUnavailable(f"the evidence file {sha256} no longer has its recorded size")
    return path


def repr_digest(sha256: str) -> str:
    """The RFC 9530 `Repr-Digest` header value of a hex SHA-256."""
    return "sha-256=:" + base64.b64encode(bytes.fromhex(sha256)).decode() + ":"


# --- the package as a zip, streamed -------------------------------------------------------------------------


class _Sink(io.RawIOBase):
    """A write-only, unseekable buffer that the zip writer fills and the response drains."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._written = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._buffer += data
        self._written += len(data)
        return len(data)

    def tell(self) -> int:
        return self._written

    def drain(self) -> bytes:
        out = bytes(self._buffer)
        self._buffer.clear()
        return out


@dataclass(frozen=True, slots=True)
class ZipMember:
    arcname: str
    path: Path
    sha256: str


def zip_stream(manifest: dict[str, Any], members: list[ZipMember]) -> Iterator[bytes]:
    """`manifest.json` and the files, chunk by chunk; never a whole file in memory.

    Each file is hashed again while it is read: if the store no longer holds what was handed over, the stream
    stops with an error, so the receiver never gets a complete archive with altered evidence.
    """
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False, default=str))
        yield sink.drain()
        for member in members:
            digest = hashlib.sha256()
            with member.path.open("rb") as src, archive.open(member.arcname, mode="w", force_zip64=True) as dst:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
                    yield sink.drain()
            if digest.hexdigest() != member.sha256:
                raise EvidenceUnavailable(f"the evidence file {member.sha256} changed in the store")
            yield sink.drain()
    yield sink.drain()
