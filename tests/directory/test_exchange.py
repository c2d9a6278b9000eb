"""Directory import and export, and the shipped demo directory."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis import demo
from cybercrisis.access.principal import ANONYMOUS, Principal
from cybercrisis.accounts.service import SYSTEM
from cybercrisis.audit import service as audit
from cybercrisis.db import unit_of_work
from cybercrisis.demo.users import DEMO_USERS
from cybercrisis.directory import exchange
from cybercrisis.directory.countries import EU_MEMBER_STATES
from cybercrisis.directory.models import Contact, Organisation
from cybercrisis.directory.reading import WITH_ROWS
from cybercrisis.errors import InvalidInput
from tests.conftest import count


@pytest.fixture
def loaded(session_factory: sessionmaker[Session], tmp_path: Path) -> demo.DemoResult:
    with unit_of_work(session_factory) as s:
        return demo.load(s, data_dir=tmp_path)


def test_demo_directory_has_four_bodies_per_member_state_and_the_eu_actors(
    loaded: demo.DemoResult, db: Session
) -> None:
    rows = db.execute(select(Organisation.country, Organisation.type)).all()
    for cc in EU_MEMBER_STATES:
        types = sorted(t for c, t in rows if c == cc)
        assert {"national-csirt", "spoc", "competent-authority", "crisis-authority"} <= set(types), cc
    names = {n for (n,) in db.execute(select(Organisation.short_name))}
    assert {"ENISA", "CERT-EU", "NATO NCIRC"} <= names
    assert loaded.password
    assert loaded.users_created == len(DEMO_USERS)


def test_loading_the_demo_twice_changes_nothing(
    loaded: demo.DemoResult, session_factory: sessionmaker[Session], tmp_path: Path, db: Session
) -> None:
    counts = (count(db, Organisation), count(db, Contact))
    head = audit.verify(db).head
    with unit_of_work(session_factory) as s:
        again = demo.load(s, data_dir=tmp_path)
    assert again.directory.created == again.directory.updated == again.directory.contacts_created == 0
    assert again.users_created == 0
    db.expire_all()
    assert (count(db, Organisation), count(db, Contact)) == counts
    assert audit.verify(db).head == head


def test_demo_ids_are_deterministic(loaded: demo.DemoResult, db: Session) -> None:
    org = db.scalars(select(Organisation).where(Organisation.short_name == "ENISA")).one()
    assert org.id == exchange.org_id_for_key("enisa")


def test_json_export_reimports_into_an_empty_node_unchanged(
    loaded: demo.DemoResult, db: Session, tmp_path: Path
) -> None:
    text = exchange.export_json(db, principal=ANONYMOUS)
    data = json.loads(text)
    assert len(data["organisations"]) == count(db, Organisation)
    # Anonymous export carries public contacts only.
    assert {c["tlp"] for o in data["organisations"] for c in o["contacts"]} == {"clear"}
    result = exchange.import_directory(db, actor=SYSTEM, text=text, fmt="json")
    assert result.created == result.updated == 0
    assert result.unchanged == len(data["organisations"])


def test_json_export_shows_a_reader_the_contacts_they_may_see(loaded: demo.DemoResult, db: Session) -> None:
    cert_fr = db.scalars(select(Organisation).where(Organisation.short_name == "CERT-FR").options(*WITH_ROWS)).one()
    analyst = Principal(user_id="user--x", org_id=cert_fr.id, communities=frozenset(cert_fr.communities))
    data = json.loads(exchange.export_json(db, principal=analyst))
    tlps = {c["tlp"] for o in data["organisations"] for c in o["contacts"]}
    assert "green" in tlps
    assert "red" not in tlps


def test_csv_round_trip(loaded: demo.DemoResult, db: Session) -> None:
    text = exchange.export_csv(db)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0].keys() == set(exchange.CSV_FIELDS)
    result = exchange.import_directory(db, actor=SYSTEM, text=text, fmt="csv")
    assert result.unchanged == len(rows)
    assert result.created == 0


def test_import_of_an_invalid_row_names_it_and_writes_nothing(session_factory: sessionmaker[Session]) -> None:
    bad = {
        "organisations": [
            {
                "key": "ok",
                "name": "Fine CSIRT",
                "short_name": "FINE",
                "type": "national-csirt",
                "country": "FI",
            },
            {
                "key": "bad",
                "name": "Bad CSIRT",
                "short_name": "BAD",
                "type": "national-csirt",
                "country": "ZZ",
            },
        ]
    }
    with (
        pytest.raises(InvalidInput, match="organisation BAD: 'ZZ' is not an ISO"),
        unit_of_work(session_factory) as s,
    ):
        exchange.import_directory(s, actor=SYSTEM, text=json.dumps(bad), fmt="json")
    with unit_of_work(session_factory, write=False) as s:
        assert count(s, Organisation) == 0


def test_import_needs_the_import_permission(db: Session) -> None:
    from cybercrisis.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        exchange.import_directory(db, actor=ANONYMOUS, text='{"organisations": []}', fmt="json")
