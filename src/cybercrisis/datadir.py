"""The data directory is the server user's alone: created 0700, its files 0600 from their first byte.

It holds the SQLite database (with its -wal and -shm files), the generated secret key, the demo credentials and
the node's signing keys. At start-up, what an older version (or a copy, or a restore) left readable by others is
tightened, with a log line naming it. Only what cybercrisis keeps there is touched: never a PostgreSQL server's
files, nor anything else an operator put in the directory.
"""

from __future__ import annotations

import logging
import os
import stat
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
# Files of ours directly in the data directory, and directories of ours whose whole (small) tree is ours.
# Evidence files are created 0600 (handoffs/evidence.py) and are not walked: there may be very many.
OUR_FILES = ("cybercrisis.db", "cybercrisis.db-wal", "cybercrisis.db-shm", "secret_key", "demo-credentials.json")
OUR_TREES = ("node",)


def _tighten(path: Path) -> bool:
    """Take group and other permissions away (never add any); True when the mode changed."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(st.st_mode):
        return False  # a link the operator made: its target is not ours to change
    mode = stat.S_IMODE(st.st_mode)
    if not mode & 0o077:
        return False
    path.chmod(mode & 0o700)
    log.warning("%s was readable by others (mode %03o): now %03o", path, mode, mode & 0o700)
    return True


def ensure_private_dir(path: Path) -> Path:
    """Create the directory 0700 (parents as the umask says), or tighten it when it exists."""
    try:
        path.mkdir(mode=PRIVATE_DIR, parents=True)
    except FileExistsError:
        _tighten(path)
    return path


def prepare(data_dir: Path) -> list[Path]:
    """At start-up: the data directory exists and is private, and so is what we keep in it. What was tightened."""
    ensure_private_dir(data_dir)
    changed = [data_dir / name for name in OUR_FILES if _tighten(data_dir / name)]
    for tree in OUR_TREES:
        root = data_dir / tree
        if not root.is_dir() or root.is_symlink():
            continue
        changed += [root] if _tighten(root) else []
        for folder, dirs, files in os.walk(root):
            changed += [p for p in (Path(folder) / name for name in (*dirs, *files)) if _tighten(p)]
    return changed


def create_private_file(path: Path) -> None:
    """Create an empty file 0600 unless it exists (SQLite then gives its -wal and -shm files the same mode)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return
    os.close(fd)


def write_private(path: Path, text: str, *, keep_existing: bool = False) -> bool:
    """Write `text` to `path` atomically, 0600 from its first byte; False when `keep_existing` and it existed.

    With `keep_existing`, processes starting at once all end up with the first one's file, never half a file."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if not keep_existing:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links: not atomic against a racing process, but complete
            if path.exists():
                return False
            os.replace(tmp, path)
        return True
    finally:
        tmp.unlink(missing_ok=True)
