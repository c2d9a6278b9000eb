"""`cybercrisis crisis ...`, run in-process on the demo data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis import demo
from cybercrisis.config import Settings
from cybercrisis.crises.models import Crisis
from cybercrisis.db import unit_of_work
from cybercrisis.directory.models import Organisation
from tests.conftest import count


@pytest.fixture
def loaded(session_factory: sessionmaker[Session], settings: Settings) -> None:
    with unit_of_work(session_factory) as s:
        demo.load(s, data_dir=settings.data_dir)


def test_open_escalate_and_agree_from_the_command_line(loaded: None, run, db: Session) -> None:  # type: ignore[no-untyped-def]
    opened = run(
        "crisis",
        "open",
        "--as",
        "coordinator@enisa.example",
        "--title",
        "Wiper threat to telecoms",
        "--justification",
        "Expected impact in several Member States",
        "--stage",
        "eu-cyclone",
    )
    crisis_id = opened.stdout.strip()
    assert crisis_id.startswith("crisis--")
    listed = run("crisis", "list", "--as", "duty@bsi-crisis.example").stdout  # EU-CyCLONe member: sees it
    assert crisis_id in listed and "Wiper threat to telecoms" in listed
    # Not shared with the CSIRTs Network (EC3, an invited observer of EU-CyCLONe since issue 13, reads it).
    assert crisis_id not in run("crisis", "list", "--as", "analyst@cert-fr.example").stdout

    # IPCR information-sharing mode: the Presidency, the GSC, the Commission services or the EEAS activate it, the
    # last three in consultation with the Presidency (Council Implementing Decision (EU) 2018/1993). DG CONNECT and
    # the EEAS read the crisis through EU-CyCLONe, so the secretariat's proposal can be made; ENISA cannot agree.
    step = json.loads(
        run(
            "crisis",
            "escalate",
            crisis_id,
            "--to",
            "ipcr-information-sharing",
            "--rationale",
            "political attention",
            "--as",
            "coordinator@enisa.example",
        ).stdout
    )
    assert step["state"] == "pending"
    refused = run("crisis", "agree", crisis_id, step["id"], "--as", "coordinator@enisa.example", ok=False)
    assert refused.returncode == 1 and "not among those that must agree" in refused.stderr
    early = run("crisis", "agree", crisis_id, step["id"], "--as", "press@dg-connect.example", ok=False)
    assert early.returncode == 1 and "Council Presidency" in early.stderr
    presidency = db.scalar(select(Organisation.id).where(Organisation.short_name == "Council Presidency"))
    consulted = json.loads(
        run(
            "crisis",
            "consult",
            crisis_id,
            step["id"],
            "--consulted",
            str(presidency),
            "--view",
            "supports information sharing",
            "--as",
            "press@dg-connect.example",
        ).stdout
    )
    assert consulted["consulted"] == presidency
    done = json.loads(run("crisis", "agree", crisis_id, step["id"], "--as", "press@dg-connect.example").stdout)
    assert done["state"] == "done"
    # The Presidency reads it once the originator (ENISA) shares it: a step adds no reader beyond its community.
    run(
        "crisis",
        "share",
        crisis_id,
        "--tlp",
        "amber",
        "--community",
        "eu-cyclone",
        "--community",
        "ipcr",
        "--as",
        "coordinator@enisa.example",
    )
    shown = json.loads(run("crisis", "show", crisis_id, "--as", "duty@council-presidency.example").stdout)
    assert shown["level"] == "political" and shown["decisions"][0]["kind"] == "escalation"


def test_bad_input_and_a_broken_model_exit_1_with_the_reason(loaded: None, run, db: Session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    before = count(db, Crisis)
    analyst = run("crisis", "open", "--as", "analyst@cert-fr.example", "--title", "x", "--justification", "y", ok=False)
    assert analyst.returncode == 1 and "crises:crisis:write" in analyst.stderr
    empty = run("crisis", "open", "--as", "coordinator@enisa.example", "--title", "x", "--justification", "", ok=False)
    assert empty.returncode == 1 and "justification" in empty.stderr
    assert count(db, Crisis) == before
    model = run("crisis", "model").stdout
    assert "ipcr-information-sharing" in model and "deployment's own" in model
    broken = tmp_path / "model.json"
    broken.write_text(
        json.dumps(
            {
                "stages": [
                    {"key": "x", "label": "X", "level": "political"},
                    {"key": "y", "label": "Y", "level": "technical"},
                ]
            }
        )
    )
    checked = run("crisis", "model", "--check", str(broken), ok=False)
    assert checked.returncode == 1 and "escalation order" in checked.stderr
