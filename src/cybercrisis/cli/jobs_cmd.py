"""`cybercrisis jobs`: run the scheduled work (notifications, alert reminders, deadlines) and see its state."""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any

import typer
from sqlalchemy import select

from cybercrisis import jobs
from cybercrisis.cli.common import console, err, settings
from cybercrisis.db import make_engine, make_sessionmaker, unit_of_work
from cybercrisis.errors import SchemaOutOfDate
from cybercrisis.migrate import check_schema

app = typer.Typer(help="Scheduled work: notification delivery, alert reminders, deadlines.", no_args_is_help=True)


@app.command("run")
def run(
    once: Annotated[bool, typer.Option("--once", help="run every due job once, then exit")] = False,
    poll: Annotated[float, typer.Option(help="seconds between passes")] = 1.0,
) -> None:
    """Run the job runner in the foreground (several may run at once on PostgreSQL)."""
    s = settings()
    engine = make_engine(s.effective_database_url)
    try:
        check_schema(engine)
    except SchemaOutOfDate as exc:
        err.print(f"[red]refusing to start:[/red] {exc}")
        raise typer.Exit(2) from None
    factory = make_sessionmaker(engine)
    worker = jobs.default_worker_id()
    try:
        if once:
            ran = jobs.run_due(factory, s, worker)
            console.print("ran: " + (", ".join(ran) if ran else "nothing was due"))
            return
        stop = threading.Event()

        def _stop(_signum: int, _frame: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        console.print(f"job runner {worker}: Ctrl-C or SIGTERM stops it")
        jobs.run_forever(factory, s, stop=stop, worker_id=worker, poll_seconds=poll)
    finally:
        engine.dispose()


@app.command("status")
def status() -> None:
    """Each job's next run, lease and last error, and the outbox by status."""
    from cybercrisis.notify.deliver import outbox_counts
    from cybercrisis.notify.models import JobLease

    s = settings()
    engine = make_engine(s.effective_database_url, pool=False)
    try:
        with unit_of_work(make_sessionmaker(engine), write=False) as session:
            for lease in session.scalars(select(JobLease).order_by(JobLease.name)):
                line = f"{lease.name:<20} next {lease.next_run_at:%Y-%m-%d %H:%M:%S}Z"
                if lease.locked_by and lease.locked_until:
                    line += f"  held by {lease.locked_by} until {lease.locked_until:%H:%M:%S}Z"
                if lease.last_error:
                    line += f"  last error: {lease.last_error}"
                console.print(line)
            counts = outbox_counts(session)
        summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        console.print(f"outbox: {summary or 'empty'}")
    finally:
        engine.dispose()
