"""`cybercrisis sitrep build|list`: EU situation reports as a user (`--as`) drafts and reads them (ADR 0006)."""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table

from cybercrisis.access.permissions import Permission
from cybercrisis.access.tlp import TLP
from cybercrisis.cli.common import AS_HELP, actor_for, console, db, err, settings
from cybercrisis.db import utcnow
from cybercrisis.directory.models import Organisation
from cybercrisis.situation import aggregate, sitreps
from cybercrisis.situation.contributions import scale_of
from cybercrisis.situation.schemas import SitrepIn

app = typer.Typer(
    help="EU situation reports: draft one and write it as PDF, JSON or Markdown; list them.", no_args_is_help=True
)

FORMATS = ("pdf", "json", "md")
SUFFIXES = {".pdf": "pdf", ".json": "json", ".md": "md", ".markdown": "md"}
PERIOD_HELP = (
    "START/END in ISO 8601 with a time zone (2026-11-27T00:00Z/2026-11-28T00:00Z) or as dates "
    "(2026-11-27/2026-11-28: from 00:00 UTC of the first to 00:00 UTC of the second), "
    "or today, yesterday or last-24h (UTC)"
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _fail(message: str) -> typer.Exit:
    """Print a one-line error; the caller raises the returned exit (status 1, as every command's errors)."""
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(1)


# --- the period -----------------------------------------------------------------------------------------------


def _moment(text: str, what: str) -> datetime:
    text = text.strip()
    if _DATE.match(text):
        try:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
        except ValueError:
            raise ValueError(f"the {what} '{text}' is not a date") from None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"the {what} '{text}' is not an ISO 8601 date or time, e.g. 2026-11-28T00:00Z") from None
    if value.tzinfo is None:
        raise ValueError(f"the {what} '{text}' has no time zone: add Z for UTC, e.g. 2026-11-28T00:00Z")
    return value.astimezone(UTC)


def parse_period(value: str, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The period as [start, end) in UTC; ValueError with a message fit for the user."""
    now = (now or utcnow()).astimezone(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    key = value.strip().lower()
    if key == "today":
        return midnight, midnight + timedelta(days=1)
    if key == "yesterday":
        return midnight - timedelta(days=1), midnight
    if key == "last-24h":
        end = now.replace(second=0, microsecond=0)
        return end - timedelta(hours=24), end
    parts = value.split("/")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise ValueError(f"'{value}' is not a period: {PERIOD_HELP}")
    start, end = _moment(parts[0], "start"), _moment(parts[1], "end")
    if end <= start:
        raise ValueError(f"the period {value} ends before it starts")
    return start, end


# --- rendering --------------------------------------------------------------------------------------------------


def _when(value: datetime) -> str:
    v = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return v.strftime("%-d %B %Y %H:%M UTC")


def _text(value: str) -> str:
    """User text, kept readable but unable to open HTML in a Markdown viewer."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "\N{EN DASH}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value) if value else "\N{EN DASH}"
    one_line = " ".join(str(value).split())
    return _text(one_line).replace("|", "\\|")


def _md_table(columns: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(_cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def _prose(value: str) -> list[str]:
    paragraphs = [p.strip() for p in value.replace("\r\n", "\n").split("\n\n") if p.strip()]
    out: list[str] = []
    for p in paragraphs:
        out += [_text(line) for line in p.splitlines()] + [""]
    return out


def markdown(view: sitreps.SitrepView, *, owner_name: str, scale: list[str]) -> str:
    """A readable Markdown rendering of the report as this reader sees it; the marking comes first and last."""
    s, v, picture = view.sitrep, view.version, view.picture
    marking = f"**{TLP(view.marking).label}**"
    state = v.state
    meta = [f"EU situation report, {s.level} level", f"version {v.number} ({state})"]
    if s.published_at is not None and state == "published":
        meta.append("published " + _when(s.published_at))
    if owner_name:
        meta.append("prepared by " + _text(owner_name))
    lines = [marking, "", f"# {_cell(view.title)}", "", " · ".join(meta), ""]
    from cybercrisis.situation.pdf import STATE_LINES  # Typst: loaded by the commands that need it only

    status_line = STATE_LINES.get(state, (None, None))[0]
    if status_line:
        lines += [f"> {status_line}", ""]
    lines += [f"Period: {_when(s.period_start)} to {_when(s.period_end)}", "", f"Report id: `{s.id}`", ""]

    lines += ["## Key figures", ""]
    lines += [*_md_table(["Figure", "Value"], [[n.label, n.value] for n in picture.headline]), ""]
    if picture.countries:
        lines += ["## Member States by reported status", ""]
        cells = sorted(picture.countries.items())
        rows = [[code, c.status, c.outlook, c.impact, c.open_incidents] for code, c in cells]
        columns = ["Member State", "Status", "Outlook", "Worst impact", "Open incidents"]
        lines += [*_md_table(columns, rows), ""]

    text = v.text
    lines += ["## Summary", ""]
    lines += _prose(text.get("summary", "")) or ["_No summary was written._", ""]
    if text.get("decisions_needed", "").strip():
        lines += ["## Decisions needed", "", *_prose(text["decisions_needed"])]
    for table in picture.tables:
        lines += [f"## {table.title}", ""]
        if table.rows:
            keys = [k for k, _ in table.columns]
            lines += _md_table(
                [label for _, label in table.columns], [[r.cells.get(k) for k in keys] for r in table.rows]
            )
        else:
            lines.append("_Nothing to show._")
        lines.append("")
    if text.get("notes", "").strip():
        lines += ["## Notes", "", *_prose(text["notes"])]
    lines += [f"_{aggregate.SOURCES_NOTE}_", ""]
    if scale:
        lines += [
            f"_Status scale, least to most severe: {', '.join(scale)}. It is this deployment's own; "
            "the EU publishes no official alert scale._",
            "",
        ]
    lines.append(marking)
    return "\n".join(lines) + "\n"


# --- build ------------------------------------------------------------------------------------------------------


def _format_of(fmt: str | None, out: str) -> str:
    if fmt is not None:
        if fmt.lower() not in FORMATS:
            raise _fail(f"'{fmt}' is not a format; valid: {', '.join(FORMATS)}")
        return fmt.lower()
    found = SUFFIXES.get(Path(out).suffix.lower()) if out != "-" else None
    if found is None:
        raise _fail(f"give --format ({', '.join(FORMATS)}): it cannot be told from '{out}'")
    return found


def _check_target(out: str, fmt: str) -> Path | None:
    """The file to write, or None for stdout; refused before anything is drafted if it cannot be written."""
    if out == "-":
        if fmt == "pdf" and sys.stdout.isatty():
            raise _fail("a PDF is not written to a terminal: give --out FILE, or pipe the output")
        return None
    path = Path(out)
    if path.is_dir():
        raise _fail(f"{out} is a directory: give a file name")
    if not path.parent.is_dir():
        raise _fail(f"no directory {path.parent} to write {path.name} in")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise _fail(f"{out} cannot be written")
    return path


def _stage(path: Path, data: bytes) -> Path:
    """Write next to the target, so that the file appears whole and only once the draft is committed."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return Path(name)


@app.command("build")
def build(
    level: Annotated[str, typer.Option(help="technical, operational or political")],
    period: Annotated[str, typer.Option(help=PERIOD_HELP)],
    as_user: Annotated[str, typer.Option("--as", help="draft as this user (e-mail); needs situation:sitrep:write")],
    out: Annotated[str, typer.Option("--out", help="the file to write; - for stdout")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="pdf, json (the API's shape) or md; default: from --out's suffix")
    ] = None,
    title: Annotated[str | None, typer.Option(help="default: the title of the level")] = None,
    tlp: Annotated[str, typer.Option(help="the report's own marking; shown stricter if its sources are")] = "green",
) -> None:
    """Draft a situation report from what the user may see, and write it as that user reads it.

    The draft is stored like one made in the platform (only the drafting organisation reads it until it is
    approved and published there). The marking written is the strictest of the report's and its sources'; the
    file is readable by its owner only (mode 0600), as it holds marked information. Errors exit with status 1
    and write nothing.
    """
    if level not in aggregate.LEVELS:
        raise _fail(f"'{level}' is not a level; valid: {', '.join(aggregate.LEVELS)}")
    try:
        start, end = parse_period(period)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    kind = _format_of(fmt, out)
    target = _check_target(out, kind)
    try:
        data_in = SitrepIn(level=level, period_start=start, period_end=end, title=title, tlp=tlp)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise _fail(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None

    from cybercrisis.situation import sitreps_api as api  # the API's renderings; not loaded for every command

    s = settings()
    staged: Path | None = None
    try:
        with db() as session:
            actor = actor_for(session, as_user)
            if not actor.has(Permission.SITREP_WRITE) or actor.org_id is None:
                raise _fail(f"{as_user} may not draft situation reports (needs {Permission.SITREP_WRITE.value})")
            sitrep = sitreps.draft(session, actor=actor, data=data_in, settings=s)
            view = sitreps.view(session, reader=actor, sitrep_id=sitrep.id, settings=s)
            if kind == "pdf":
                data = api.pdf_of(session, view, s)
            elif kind == "json":
                data = (api.sitrep_out(session, view, actor).model_dump_json(indent=2) + "\n").encode()
            else:
                owner = session.get(Organisation, sitrep.owner_org_id)
                data = markdown(view, owner_name=owner.name if owner else "", scale=scale_of(s)).encode()
            if target is not None:
                try:
                    staged = _stage(target, data)
                except OSError as exc:
                    raise _fail(f"{out} cannot be written: {exc.strerror or exc}") from None
            report_id, marking = sitrep.id, TLP(view.marking).label
    except BaseException:
        if staged is not None:
            staged.unlink(missing_ok=True)
        raise
    message = f"wrote {level} report {report_id} ({marking}) to {out if target else 'stdout'}"
    if target is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        err.print(message, markup=False, highlight=False)
        return
    assert staged is not None
    os.replace(staged, target)
    console.print(message, markup=False, highlight=False)


# --- list -------------------------------------------------------------------------------------------------------


def _period_text(start: datetime, end: datetime) -> str:
    """Whole UTC days as dates (the usual daily period as one date), anything else to the minute."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    midnight = datetime.min.time()
    if start.time() == midnight and end.time() == midnight:
        last = (end - timedelta(days=1)).date()
        return f"{start:%Y-%m-%d}" if last == start.date() else f"{start:%Y-%m-%d} to {last:%Y-%m-%d}"
    return f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}"


@app.command("list")
def list_(
    level: Annotated[str | None, typer.Option(help="technical, operational or political")] = None,
    as_user: Annotated[str | None, typer.Option("--as", help=AS_HELP)] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="JSON array on stdout: the API's list items, and the reader's marking")
    ] = False,
) -> None:
    """The situation reports the reader may see, the latest period first: drafts of their own organisation, and
    the published versions of others'."""
    if level is not None and level not in aggregate.LEVELS:
        raise _fail(f"'{level}' is not a level; valid: {', '.join(aggregate.LEVELS)}")
    from cybercrisis.situation import sitreps_api as api

    items: list[dict[str, Any]] = []
    s = settings()
    with db(write=False) as session:
        principal = actor_for(session, as_user)
        cursor = None
        while True:
            page = api.list_sitreps(session, principal, level=level, cursor=cursor, limit=200)
            for summary in page.items:
                # The marking this reader must handle it under: the report's own TLP or its visible sources'.
                shown = sitreps.view(session, reader=principal, sitrep_id=summary.id, settings=s)
                items.append({**summary.model_dump(mode="json"), "marking": shown.marking})
            if not page.next:
                break
            cursor = page.next
    if as_json:
        typer.echo(json.dumps(items, indent=2, ensure_ascii=False))
        return
    if items:
        table = Table()
        table.add_column("period (UTC)", no_wrap=True)
        for name in ("level", "state", "version", "marking", "title"):
            table.add_column(name)
        table.add_column("report id", no_wrap=True, min_width=44)
        for i in items:
            period = _period_text(datetime.fromisoformat(i["period_start"]), datetime.fromisoformat(i["period_end"]))
            marking = TLP(i["marking"]).label
            table.add_row(period, i["level"], i["state"], str(i["current_version"]), marking, i["title"], i["id"])
        console.print(table)
    console.print(f"{len(items)} reports visible")
