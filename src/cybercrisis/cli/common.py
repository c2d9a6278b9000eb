"""What every command needs: settings, a database session per command, clean error output.

Imports of the domain happen inside the functions: every command imports this module, few need all of it.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from cybercrisis.config import Settings, get_settings
from cybercrisis.errors import DomainError, SchemaOutOfDate

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from cybercrisis.access.principal import Principal

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
AS_HELP = "act as this user (e-mail): what they may see and do; default: the operator, who sees TLP:CLEAR only"


def settings() -> Settings:
    s = get_settings()
    from cybercrisis.accounts import security

    security.configure(time_cost=s.argon2_time_cost, memory_kib=s.argon2_memory_kib)
    return s


@contextmanager
def db(*, write: bool = True, check: bool = True) -> Iterator[Session]:
    """One transaction for the command; domain errors become a message and exit code 1."""
    from cybercrisis import wiring
    from cybercrisis.audit.service import request_id_var
    from cybercrisis.db import make_engine, make_sessionmaker, unit_of_work
    from cybercrisis.migrate import check_schema

    # The composition root the app and the job runner install too, before the first session that may write.
    wiring.install()
    engine = make_engine(settings().effective_database_url, pool=False)
    token = request_id_var.set(f"cli-{uuid.uuid4().hex[:12]}")
    try:
        if check:
            check_schema(engine)
        with unit_of_work(make_sessionmaker(engine), write=write) as session:
            yield session
    except SchemaOutOfDate as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    except DomainError as exc:
        err.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(1) from None
    finally:
        request_id_var.reset(token)
        engine.dispose()


@contextmanager
def sessions(*, check: bool = True) -> Iterator[sessionmaker[Session]]:
    """A session factory for commands that need several transactions (an import: one per row)."""
    from cybercrisis import wiring
    from cybercrisis.audit.service import request_id_var
    from cybercrisis.db import make_engine, make_sessionmaker
    from cybercrisis.migrate import check_schema

    wiring.install()
    engine = make_engine(settings().effective_database_url, pool=False)
    token = request_id_var.set(f"cli-{uuid.uuid4().hex[:12]}")
    try:
        if check:
            check_schema(engine)
        yield make_sessionmaker(engine)
    except SchemaOutOfDate as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    finally:
        request_id_var.reset(token)
        engine.dispose()


def actor_for(session: Session, email: str | None) -> Principal:
    """The user named by `--as`, as a principal; without it, the operator (sees TLP:CLEAR only)."""
    from sqlalchemy import select

    from cybercrisis.accounts import service as accounts
    from cybercrisis.accounts.models import User

    if not email:
        return accounts.SYSTEM
    user = session.scalars(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        err.print(f"[red]error:[/red] no user {email}")
        raise typer.Exit(1)
    return accounts.principal_for(session, user)


def read_secret_from_stdin() -> str | None:
    """A password piped on stdin (first line); None when stdin is a terminal or empty."""
    if sys.stdin is None or sys.stdin.isatty():
        return None
    line = sys.stdin.readline().rstrip("\r\n")
    return line or None
