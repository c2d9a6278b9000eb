"""The `cybercrisis` command run as a real process against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cybercrisis.config import Settings

CLI = str(Path(sys.executable).parent / "cybercrisis")


@pytest.fixture
def run(settings: Settings):  # type: ignore[no-untyped-def]
    env = {
        **os.environ,
        "CYBERCRISIS_DATA_DIR": str(settings.data_dir),
        "CYBERCRISIS_DATABASE_URL": settings.effective_database_url,
        "CYBERCRISIS_ARGON2_TIME_COST": "1",
        "CYBERCRISIS_ARGON2_MEMORY_KIB": "1024",
        "COLUMNS": "200",
    }

    def _run(*args: str, stdin: str | None = None, ok: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [CLI, *args], input=stdin, capture_output=True, text=True, env=env, timeout=120, check=False
        )
        if ok:
            assert proc.returncode == 0, proc.stderr + proc.stdout
        return proc

    return _run
