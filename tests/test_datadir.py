"""The data directory and what the server keeps in it are readable by the server's own user only (issue 12)."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
from pathlib import Path

import pytest

from cybercrisis import migrate
from cybercrisis.config import Settings
from cybercrisis.db import make_engine
from cybercrisis.exchange import node as nodes
from tests.conftest import CLI


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def _usual_umask() -> object:
    """The modes must not depend on a careful umask: run these tests under the common, permissive one."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_db_upgrade_creates_a_private_data_directory_and_database(tmp_path: Path) -> None:
    data = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CYBERCRISIS_")}
    env["CYBERCRISIS_DATA_DIR"] = str(data)
    proc = subprocess.run([CLI, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert _mode(data) == 0o700
    assert _mode(data / "cybercrisis.db") == 0o600


def test_sqlite_write_ahead_log_and_shared_memory_are_private_while_in_use(tmp_path: Path) -> None:
    path = tmp_path / "private.db"
    engine = make_engine(f"sqlite:///{path}", pool=False)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
            conn.commit()
            modes = {p.name: _mode(p) for p in tmp_path.iterdir()}
    finally:
        engine.dispose()
    assert modes == {"private.db": 0o600, "private.db-wal": 0o600, "private.db-shm": 0o600}


def test_a_generated_secret_key_is_private_and_so_is_its_directory(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var", secret_key=None)
    key = settings.effective_secret_key()
    assert len(key) >= 32
    assert _mode(tmp_path / "var") == 0o700
    assert _mode(tmp_path / "var" / "secret_key") == 0o600
    assert Settings(data_dir=tmp_path / "var", secret_key=None).effective_secret_key() == key


def test_start_up_tightens_what_an_older_version_left_readable_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from cybercrisis.app import create_app

    data = tmp_path / "var"
    data.mkdir()
    data.chmod(0o755)
    (data / "secret_key").write_text("k" * 48)
    (data / "demo-credentials.json").write_text("{}")
    engine = make_engine(f"sqlite:///{data / 'cybercrisis.db'}", pool=False)
    migrate.upgrade(engine)
    engine.dispose()
    node = nodes.load(data)
    for path in (data / "secret_key", data / "demo-credentials.json", data / "cybercrisis.db", node.path):
        path.chmod(0o644)
    node.path.parent.chmod(0o755)

    with caplog.at_level(logging.WARNING, logger="cybercrisis"):
        app = create_app(
            Settings(
                data_dir=data, database_url=f"sqlite:///{data / 'cybercrisis.db'}", secret_key=None, jobs_enabled=False
            )
        )
    app.state.engine.dispose()

    assert _mode(data) == 0o700
    assert _mode(node.path.parent) == 0o700
    for path in (data / "secret_key", data / "demo-credentials.json", data / "cybercrisis.db", node.path):
        assert _mode(path) == 0o600, path
    assert "readable by others" in caplog.text
    assert "secret_key" in caplog.text
