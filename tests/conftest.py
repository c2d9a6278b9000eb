"""Fixtures: a fresh database per test on SQLite and, when CYBERCRISIS_TEST_DATABASE_URL is set, PostgreSQL.

Tests commit for real (the code under test owns its transactions); isolation comes from a fresh copy of a
migrated SQLite file per test, and from emptying every table (and restarting its sequences) on PostgreSQL.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis import migrate, wiring
from cybercrisis.accounts import security
from cybercrisis.config import Settings
from cybercrisis.db import Base, make_engine, make_sessionmaker, unit_of_work

# stix2-validator (the tests' STIX 2.1 validator) asks for jsonschema[format-nongpl], whose rfc3987-syntax compiles 38
# grammars when jsonschema is imported (about 2 s of CPU in each pytest worker) for the `iri` and `iri-reference`
# formats only. The STIX 2.1 schemas use `uri`, `email` and `idn-hostname` (checked by other packages), never an IRI
# format, so the validation the tests run is the same without it.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

PG_URL = os.environ.get("CYBERCRISIS_TEST_DATABASE_URL")
# Webhook receivers, peers and nodes of the tests listen on this machine's loopback, which outbound requests refuse
# unless allowed (tests/test_outbound.py and the refusal tests use an empty list).
TEST_OUTBOUND_ALLOW = "127.0.0.0/8,::1/128"
# The server key of the `settings` fixture, also given to CLI processes: what one seals (webhook secrets, peer
# tokens) the other opens.
TEST_SECRET_KEY = "test-secret-key-" + "x" * 32
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def pytest_configure(config: pytest.Config) -> None:
    """The composition root every entry point installs (tests call services without the app too); with a
    PostgreSQL URL given, an unreachable server fails the run at once instead of erroring per test."""
    wiring.install()
    # xdist workers start with COLUMNS=80 and LINES=24, and a rich Console made at import keeps a width it finds
    # there: without them the CLI's consoles read the width of each command's environment, as a new process would.
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)
    if not PG_URL:
        return
    engine = make_engine(make_url(PG_URL).set(drivername="postgresql+psycopg").render_as_string(False), pool=False)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect ends the run with its reason
        pytest.exit(f"CYBERCRISIS_TEST_DATABASE_URL is set but PostgreSQL is unreachable: {exc}", returncode=1)
    finally:
        engine.dispose()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest tests first (browsers, then real server processes), the rest in their order: xdist hands tests
    out in collection order, and a browser walk-through of two minutes handed out last left the other workers idle
    at the end of the run."""
    weight = {"browser": 0, "slow": 1}
    items.sort(key=lambda item: min((weight[m.name] for m in item.iter_markers() if m.name in weight), default=2))


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}", pool=False)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A PostgreSQL database of this run's own per xdist worker, migrated once and dropped at the end.

    The name carries the run's id, so two suites running at once on one server never share a database.
    """
    assert PG_URL, "CYBERCRISIS_TEST_DATABASE_URL is not set"
    base = make_url(PG_URL).set(drivername="postgresql+psycopg")
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", uuid.uuid4().hex)[:10]
    name = f"cc_test_{run}_{_worker()}"
    admin = make_engine(base.render_as_string(hide_password=False), pool=False)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url, pool=False)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "cybercrisis.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    engine = make_engine(url, pool=False)
    with engine.begin() as conn:
        conn.execute(text(_pg_empty_sql()))
    engine.dispose()
    return url


def _pg_empty_sql() -> str:
    """One statement that empties every table, children first, and restarts every sequence (as TRUNCATE ... RESTART
    IDENTITY would). DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE of every table (new files for
    each table and index) cost about ten times as much per test."""
    tables = reversed(Base.metadata.sorted_tables)
    deletes = " ".join(f'DELETE FROM "{t.name}";' for t in tables)  # noqa: S608 - our own table names
    return f"""DO $$ DECLARE r record; BEGIN {deletes}
        FOR r IN SELECT sequence_name AS name FROM information_schema.sequences
                 WHERE sequence_schema = current_schema() LOOP
            EXECUTE format('ALTER SEQUENCE %I RESTART', r.name);
        END LOOP;
    END $$"""  # noqa: S608 - our own table names


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # Cheap argon2 parameters keep user creation fast; the production defaults are tested in tests/accounts.
    s = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,
        max_body_bytes=65536,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        jobs_enabled=False,  # tests run jobs by hand, with a clock they control
        outbound_allow=TEST_OUTBOUND_ALLOW,
    )
    security.configure(time_cost=s.argon2_time_cost, memory_kib=s.argon2_memory_kib)
    return s


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = make_engine(settings.effective_database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for arranging and inspecting data; commit explicitly to make it visible to the app."""
    session = session_factory()
    yield session
    session.rollback()
    session.close()


@pytest.fixture
def app(settings: Settings):  # type: ignore[no-untyped-def]
    from cybercrisis.app import create_app

    application = create_app(settings)
    yield application
    application.state.engine.dispose()
    # The domain routes are shared by every app of the process (app._included_routes) and do not see an app's
    # dependency_overrides: a test that set some would pass or fail for the wrong reason.
    assert not application.dependency_overrides, "dependency_overrides do not reach the shared domain routes"


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


# --- a small world of organisations and users ----------------------------------------------------------


@dataclass
class Actor:
    user_id: str
    org_id: str
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class World:
    """Builds organisations and users through the real services, committing each step."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory
        self.orgs: dict[str, str] = {}

    def community(self, slug: str, level: str = "technical") -> str:
        from cybercrisis.directory.models import Community

        with unit_of_work(self.factory) as s:
            if s.get(Community, slug) is None:
                s.add(Community(slug=slug, name=slug.replace("-", " ").title(), level=level, description=""))
        return slug

    def org(
        self,
        short: str,
        *,
        type_: str = "national-csirt",
        country: str | None = "FR",
        communities: tuple[str, ...] = (),
        parent: str | None = None,
        levels: tuple[str, ...] = ("technical",),
    ) -> str:
        from cybercrisis.accounts.service import SYSTEM
        from cybercrisis.directory import service

        for c in communities:
            self.community(c)
        with unit_of_work(self.factory) as s:
            org = service.create_organisation(
                s,
                actor=SYSTEM,
                name=f"{short} organisation",
                short_name=short,
                type_=type_,
                country=country,
                levels=list(levels),
                communities=list(communities),
                parent_id=self.orgs.get(parent or "", parent),
            )
            self.orgs[short] = org.id
            return org.id

    def user(
        self,
        org_short: str,
        *,
        roles: tuple[str, ...] = ("analyst",),
        email: str | None = None,
        password: str = "correct horse battery",
    ) -> Actor:
        from cybercrisis.accounts import service
        from cybercrisis.accounts.service import SYSTEM

        email = email or f"{'-'.join(roles)}.{len(self.orgs)}.{os.urandom(3).hex()}@{org_short.lower()}.example"
        with unit_of_work(self.factory) as s:
            user, _ = service.create_user(
                s,
                actor=SYSTEM,
                org_ref=self.orgs[org_short],
                email=email,
                roles=list(roles),
                password=password,
            )
            token, _ = service.create_token(s, actor=SYSTEM, user_ref=user.id, expires_days=30)
            return Actor(user.id, user.org_id, user.email, token)


@pytest.fixture
def world(session_factory: sessionmaker[Session]) -> World:
    return World(session_factory)


def count(db: Session, model: type, *where: object) -> int:
    """Rows of `model` as committed now: ends the session's transaction first, so no old snapshot is read."""
    from sqlalchemy import func, select

    db.rollback()
    return db.scalar(select(func.count()).select_from(model).where(*where)) or 0  # type: ignore[arg-type]


# --- the command line ------------------------------------------------------------------------------------

CLI = str(Path(sys.executable).parent / "cybercrisis")


@dataclass
class Ran:
    """What a command left behind, shaped like subprocess.CompletedProcess (returncode, stdout, stderr)."""

    returncode: int
    stdout: str
    stderr: str


class _StderrAtEmit(logging.Handler):
    """What Python's last-resort handler does in a real process: WARNING and above, bare, on the stderr of now."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(self.format(record) + "\n")


def cli_env(settings: Settings) -> dict[str, str]:
    """The environment a command of the test's own database and server key runs with."""
    return {
        "CYBERCRISIS_DATA_DIR": str(settings.data_dir),
        "CYBERCRISIS_DATABASE_URL": settings.effective_database_url,
        "CYBERCRISIS_ARGON2_TIME_COST": "1",
        "CYBERCRISIS_ARGON2_MEMORY_KIB": "1024",
        "CYBERCRISIS_OUTBOUND_ALLOW": settings.outbound_allow,
        "CYBERCRISIS_SECRET_KEY": settings.effective_secret_key(),
        "COLUMNS": "200",
    }


def invoke_cli(*args: str, env: dict[str, str], stdin: str | None = None) -> Ran:
    """`cybercrisis ARGS` run in this process through Typer's runner, with `env` set for its duration.

    The same commands as the installed one without a Python start-up each (about a second); tests/cli/test_cli.py
    keeps a few real processes of the installed command."""
    from typer.testing import CliRunner

    from cybercrisis.cli.main import app as cli
    from cybercrisis.config import get_settings

    handler = _StderrAtEmit(logging.WARNING)
    logging.getLogger().addHandler(handler)
    get_settings.cache_clear()  # a process reads its settings from the environment once: so does each command
    try:
        result = CliRunner().invoke(cli, list(args), input=stdin, env=env, prog_name="cybercrisis")
    finally:
        get_settings.cache_clear()
        logging.getLogger().removeHandler(handler)
    stderr = result.stderr
    if result.exc_info is not None and not isinstance(result.exception, SystemExit):
        # What the process would have printed before exiting 1: tests assert that no command ends this way.
        stderr += "".join(traceback.format_exception(*result.exc_info))
    return Ran(result.exit_code, result.stdout, stderr)


@pytest.fixture
def run(settings: Settings):  # type: ignore[no-untyped-def]
    """Runs `cybercrisis ARGS` in this process against the test's database and data directory."""
    env = cli_env(settings)

    def _run(*args: str, stdin: str | None = None, ok: bool = True, extra_env: dict[str, str] | None = None) -> Ran:
        ran = invoke_cli(*args, env={**env, **(extra_env or {})}, stdin=stdin)
        if ok:
            assert ran.returncode == 0, ran.stderr + ran.stdout
        return ran

    return _run


@pytest.fixture
def run_process(settings: Settings):  # type: ignore[no-untyped-def]
    """Runs the installed `cybercrisis` command as a real process: the smoke tests of tests/cli/test_cli.py."""

    def _run(*args: str, stdin: str | None = None, ok: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [CLI, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env={**os.environ, **cli_env(settings)},
            timeout=120,
            check=False,
        )
        if ok:
            assert proc.returncode == 0, proc.stderr + proc.stdout
        return proc

    return _run


# --- reference data beside the checkout -------------------------------------------------------------------------


def shared_data(*parts: str) -> Path:
    """A path in the public reference data (../shared/data beside the checkout, or CYBERCRISIS_SHARED_DATA)."""
    base = os.environ.get("CYBERCRISIS_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
    return Path(base).joinpath(*parts)


def require_shared(path: Path) -> Path:
    """The path, or a skip saying where the data was expected: it is public material the project does not ship."""
    if not path.exists():
        pytest.skip(
            f"reference data absent: {path} (../shared/data beside the checkout, or set CYBERCRISIS_SHARED_DATA)"
        )
    return path


def bearer_of(session_factory: sessionmaker[Session], email: str) -> dict[str, str]:
    """The Authorization header of a new API token of the user with this e-mail (a demo user, say)."""
    from sqlalchemy import select

    from cybercrisis.accounts import service as accounts
    from cybercrisis.accounts.models import User
    from cybercrisis.accounts.service import SYSTEM

    with unit_of_work(session_factory) as s:
        user = s.scalars(select(User).where(User.email == email)).one()
        token, _ = accounts.create_token(s, actor=SYSTEM, user_ref=user.id, expires_days=1)
    return {"Authorization": f"Bearer {token}"}
