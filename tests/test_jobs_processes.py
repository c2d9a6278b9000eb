"""Two server processes (`serve --workers 2`) each start a job runner: the leases in the database, not anything
held in one process's memory, keep them from running the same job twice. tests/test_jobs.py covers the same with
two engines in one process; here the runners are real processes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from cybercrisis.config import Settings
from cybercrisis.db import utcnow
from tests.conftest import cli_env

JOBS = ("a", "b", "c")

# One runner process: it records each job it runs in a shared file (one line, appended), waits for the go file so
# that both runners claim at the same moment, and prints the names it ran.
RUNNER = """
import os, sys, time
from datetime import datetime
from pathlib import Path

from cybercrisis import jobs
from cybercrisis.config import get_settings
from cybercrisis.db import make_engine, make_sessionmaker

out, go, now = Path(sys.argv[1]), Path(sys.argv[2]), datetime.fromisoformat(sys.argv[3])


def record(name):
    def run(factory, settings, at):
        with out.open("a") as f:
            f.write(f"{name} {os.getpid()}\\n")
        time.sleep(0.3)  # still running while the other process looks at the job
    return run


settings = get_settings()
engine = make_engine(settings.effective_database_url)
factory = make_sessionmaker(engine)
todo = [jobs.Job(name, 60, record(name)) for name in sys.argv[4].split(",")]
(out.parent / f"ready-{os.getpid()}").touch()
while not go.exists():
    time.sleep(0.01)
print("ran:" + ",".join(jobs.run_due(factory, settings, f"process-{os.getpid()}", now, jobs=todo)))
engine.dispose()
"""


def test_two_runner_processes_run_each_due_job_once(settings: Settings, tmp_path: Path) -> None:
    out, go = tmp_path / "runs.txt", tmp_path / "go"
    now = utcnow().isoformat()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RUNNER, str(out), str(go), now, ",".join(JOBS)],
            env={**cli_env(settings), "PATH": "/usr/bin:/bin"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob("ready-*"))) < 2 and time.monotonic() < deadline:
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.05)
        go.touch()
        results = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0, 0], results
    ran = [name for stdout, _ in results for name in stdout.strip().rsplit("ran:", 1)[1].split(",") if name]
    assert sorted(ran) == sorted(JOBS)
    runs = [line.split()[0] for line in out.read_text().splitlines()]
    assert sorted(runs) == sorted(JOBS)
