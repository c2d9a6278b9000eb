"""The `cybercrisis` command against the test database: in this process, and as a real process for a few smoke tests.

The smoke tests (`run_process`) start the installed command: its entry point, piped stdin, exit codes and the serve
start-up check; the other tests run the same commands in-process (`run`), which is what every other CLI test does.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.conftest import CLI


def test_operator_builds_a_directory_and_a_user_who_can_call_the_api(run, run_process, client: TestClient) -> None:  # type: ignore[no-untyped-def]
    run(
        "org",
        "create",
        "--name",
        "CERT Polska",
        "--short-name",
        "CERT-PL",
        "--type",
        "national-csirt",
        "--country",
        "PL",
        "--level",
        "technical",
    )
    orgs = json.loads(run("org", "list", "--json").stdout)
    assert [o["short_name"] for o in orgs] == ["CERT-PL"]
    assert set(orgs[0]) >= {"id", "name", "short_name", "type", "country", "levels", "communities"}
    # A real process, so that the password comes down a real pipe.
    created = run_process(
        "user",
        "create",
        "--org",
        "cert-pl",
        "--role",
        "analyst",
        "--email",
        "duty@cert-pl.example",
        stdin="a piped password of length\n",
    )
    assert "password (shown once)" not in created.stdout
    token = run("token", "create", "--user", "duty@cert-pl.example", "--expires-days", "3").stdout.split()[-1]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["organisation"]["short_name"] == "CERT-PL"


def test_user_create_without_stdin_prints_a_generated_password_once(run) -> None:  # type: ignore[no-untyped-def]
    run(
        "org",
        "create",
        "--name",
        "CERT.LV",
        "--short-name",
        "CERT.LV",
        "--type",
        "national-csirt",
        "--country",
        "LV",
    )
    out = run("user", "create", "--org", "CERT.LV", "--role", "viewer", "--email", "v@cert.lv.example", stdin="").stdout
    assert "password (shown once):" in out


def test_demo_load_is_idempotent_and_prints_the_logins(run, run_process) -> None:  # type: ignore[no-untyped-def]
    first = run_process("demo", "load").stdout  # the installed command, as `make run` and a new operator use it
    second = run("demo", "load").stdout
    assert "132 created" in first or "created" in first
    assert "0 created, 0 updated" in second
    assert "users created: 0" in second
    assert "admin@cert-fr.example" in second
    assert "password for all" in second
    csirts = json.loads(run("org", "list", "--json", "--type", "national-csirt").stdout)
    assert len({o["country"] for o in csirts}) == 27


def test_audit_verify_detects_a_changed_row(run, db: Session) -> None:  # type: ignore[no-untyped-def]
    run("org", "create", "--name", "A", "--short-name", "AA", "--type", "partner")
    run("org", "create", "--name", "B", "--short-name", "BB", "--type", "partner")
    assert "audit chain intact: 2 entries" in run("audit", "verify").stdout
    db.execute(text("UPDATE audit_events SET summary = '{}' WHERE seq = 1"))
    db.commit()
    broken = run("audit", "verify", ok=False)
    assert broken.returncode == 1
    assert "BROKEN at entry 1" in broken.stderr


def test_errors_are_one_clear_line_not_a_traceback(run) -> None:  # type: ignore[no-untyped-def]
    bad = run("org", "create", "--name", "X", "--short-name", "XX", "--type", "bank", ok=False)
    assert bad.returncode == 1
    assert "error:" in bad.stderr
    assert "valid: national-csirt" in bad.stderr
    assert "Traceback" not in bad.stderr
    missing = run("token", "create", "--user", "nobody@x.example", ok=False)
    assert missing.returncode == 1
    assert "no user" in missing.stderr


def test_serve_refuses_an_empty_database_and_names_the_command(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CYBERCRISIS_DATA_DIR": str(tmp_path),
        "CYBERCRISIS_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
    }
    proc = subprocess.run(
        [CLI, "serve", "--port", "1"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert proc.returncode == 2
    assert "cybercrisis db upgrade" in proc.stderr


def test_directory_export_and_import_from_the_command_line(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("demo", "load")
    out = tmp_path / "dir.csv"
    run("directory", "export", "--format", "csv", "--out", str(out))
    assert out.read_text().startswith("id,name,short_name,type,country")
    summary = run("directory", "import", str(out)).stdout
    assert "created: 0" in summary
    assert "updated: 0" in summary


def test_contacts_from_the_command_line_respect_tlp(run) -> None:  # type: ignore[no-untyped-def]
    run("demo", "load")
    bund = json.loads(run("org", "list", "--json", "--country", "DE", "--type", "national-csirt").stdout)[0]["id"]
    run(
        "contact",
        "add",
        "--org",
        "CERT-FR",
        "--kind",
        "secure-channel",
        "--label",
        "Bilateral line",
        "--value",
        "matrix:!room",
        "--tlp",
        "amber+strict",
        "--share-org",
        bund,
    )
    as_operator = json.loads(run("contact", "list", "--org", "CERT-FR", "--json").stdout)
    as_bund = json.loads(
        run("contact", "list", "--org", "CERT-FR", "--json", "--as", "analyst@cert-bund.example").stdout
    )
    as_ee = json.loads(run("contact", "list", "--org", "CERT-FR", "--json", "--as", "viewer@cert-ee.example").stdout)
    assert {c["tlp"] for c in as_operator} == {"clear"}
    assert "Bilateral line" in {c["label"] for c in as_bund}
    assert "Bilateral line" not in {c["label"] for c in as_ee}
