"""`cybercrisis incident list|import` and `cybercrisis deadlines`: incidents as a reader (`--as`) may see them."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cybercrisis.access.permissions import Permission
from cybercrisis.cli.common import AS_HELP, actor_for, console, db, err, sessions
from cybercrisis.db import unit_of_work, utcnow
from cybercrisis.errors import DomainError, InvalidInput
from cybercrisis.incidents import recurrence, service
from cybercrisis.incidents.labels import REPORT_KIND_LABELS, clock
from cybercrisis.incidents.observable_input import parse_lines
from cybercrisis.incidents.schemas import IncidentIn

app = typer.Typer(help="Incidents: list the ones you may see, import them from CSV or JSON.", no_args_is_help=True)

CSV_COLUMNS = (
    "title",
    "description",
    "tlp",
    "pap",
    "aware_at",
    "countries",
    "sectors",
    "entity_name",
    "entity_type",
    "rsit_class",
    "rsit_type",
    "impact_severity",
    "root_cause",
    "observables",
    "share_communities",
)
_LISTS = ("countries", "sectors")


@app.command("list")
def list_(
    country: Annotated[str | None, typer.Option(help="ISO 3166 alpha-2, e.g. FR")] = None,
    status: Annotated[str | None, typer.Option(help="new, triage, ongoing, contained, resolved or closed")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="only incidents with an overdue report")] = False,
    as_user: Annotated[str | None, typer.Option("--as", help=AS_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON array on stdout")] = False,
) -> None:
    """List the incidents the reader may see, most recent awareness first."""
    filters = service.IncidentFilter(status=status, country=country, overdue=overdue)
    rows: list[dict[str, Any]] = []
    with db(write=False) as session:
        principal = actor_for(session, as_user)
        cursor = None
        while True:
            page, overdue_counts = service.list_incidents(
                session, principal=principal, filters=filters, cursor=cursor, limit=200
            )
            rows += [
                {
                    "id": i.id,
                    "title": i.title,
                    "status": i.status,
                    "tlp": i.tlp,
                    "owner": i.owner_org_id,
                    "countries": i.countries,
                    "sectors": i.sectors,
                    "rsit_class": i.rsit_class,
                    "impact_severity": i.impact_severity,
                    "aware_at": i.aware_at.isoformat(),
                    "significance": i.significance,
                    "overdue_reports": overdue_counts.get(i.id, 0),
                }
                for i in page.items
            ]
            if not page.next:
                break
            cursor = page.next
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if rows:
        table = _table("aware (UTC)", "status", "TLP", "countries", "impact", "overdue", "title")
        for r in rows:
            table.add_row(
                r["aware_at"][:16].replace("T", " "),
                r["status"],
                r["tlp"].upper(),
                ",".join(r["countries"]) or "—",
                r["impact_severity"] or "—",
                str(r["overdue_reports"] or ""),
                r["title"],
                r["id"],
            )
        console.print(table)
    console.print(f"{len(rows)} incidents visible")


def deadlines(
    status: Annotated[
        str, typer.Option(help="overdue, due-soon (within 24 h) or open (every report with a due time)")
    ] = "open",
    as_user: Annotated[str | None, typer.Option("--as", help=AS_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON array on stdout")] = False,
) -> None:
    """Open NIS2 reports of the incidents the reader may see, the most urgent first."""
    now = utcnow()
    with db(write=False) as session:
        principal = actor_for(session, as_user)
        found = service.deadlines_for(session, principal=principal, status=status)
        rows: list[dict[str, str | None]] = [
            {
                "incident": i.id,
                "incident_title": i.title,
                "owner": i.owner_org_id,
                "report": r.id,
                "kind": r.kind,
                "due_at": r.due_at.isoformat() if r.due_at else None,
                "status": r.status_at(now),
                "clock": clock(r, now).text,
            }
            for r, i in found
        ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if rows:
        table = _table("due (UTC)", "clock", "report", "incident")
        for (r, i), row in zip(found, rows, strict=True):
            due = r.due_at.strftime("%Y-%m-%d %H:%M") if r.due_at else ""
            table.add_row(due, row["clock"], REPORT_KIND_LABELS.get(r.kind, r.kind), i.title, i.id)
        console.print(table)
    console.print(f"{len(rows)} open reports")


@app.command("significance")
def significance_(
    incident_id: Annotated[str, typer.Argument(help="the incident's id, incident--...")],
    value: Annotated[str, typer.Option(help="significant, not-significant, near-miss or outside-nis2")],
    reason: Annotated[str, typer.Option(help="the rule, fact or judgement the decision rests on")],
    as_user: Annotated[str, typer.Option("--as", help="e-mail of a user of the recording organisation or entity")],
) -> None:
    """Decide an incident's NIS2 significance: `significant` starts the Art. 23(4) clocks from awareness, any other
    value stops the deadlines of reports not yet submitted. Recorded with the rules' suggestion and audited."""
    from cybercrisis.incidents import significance

    try:
        with db() as session:
            actor = actor_for(session, as_user)
            incident = service.get_incident(session, principal=actor, incident_id=incident_id)
            suggestion = recurrence.assess(session, incident, principal=actor).as_dict()
            significance.decide(
                session, actor=actor, incident_id=incident_id, value=value, reason=reason, suggestion=suggestion
            )
            clocks = significance.clocks_run(incident)
    except DomainError as exc:
        err.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(1) from None
    console.print(f"{incident_id} is now {value}; NIS2 clocks {'run' if clocks else 'do not run'}")


@app.command("quarterly-summary")
def quarterly_summary(
    quarter: Annotated[str, typer.Option(help="the calendar quarter, YYYY-Qn, e.g. 2026-Q4")],
    as_user: Annotated[str | None, typer.Option("--as", help=AS_HELP + " (a user of a SPOC)")] = None,
) -> None:
    """Preview, as JSON, the anonymised quarterly summary a SPOC submits to ENISA (NIS2 Art. 23(9)); submitting is
    `POST /api/v1/nis2/quarterly-summaries`."""
    from cybercrisis.incidents import flows_summary

    with db(write=False) as session:
        try:
            figures = flows_summary.quarterly_figures(session, actor=actor_for(session, as_user), quarter=quarter)
        except DomainError as exc:
            err.print(f"[red]error:[/red] {exc.detail}")
            raise typer.Exit(1) from None
    typer.echo(json.dumps(figures, indent=2, default=str))


def _table(*columns: str) -> Table:
    """A time first and the incident id last, neither of them cut (people copy the id)."""
    table = Table()
    table.add_column(columns[0], no_wrap=True)
    for name in columns[1:]:
        table.add_column(name)
    table.add_column("incident id", no_wrap=True, min_width=46)
    return table


# --- import -------------------------------------------------------------------------------------------------


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(";") if part.strip()]


def _csv_record(row: dict[str, str | None]) -> dict[str, Any]:
    """One CSV row in the shape of the POST /api/v1/incidents body."""
    data: dict[str, Any] = {}
    for key in CSV_COLUMNS:
        value = (row.get(key) or "").strip()
        if not value:
            continue
        if key in _LISTS:
            data[key] = _split(value)
        elif key == "observables":
            items = parse_lines(_split(value), field="observables", what="observable")
            data[key] = [o.model_dump() for o in items]
        elif key == "share_communities":
            data["share_with"] = {"communities": _split(value)}
        else:
            data[key] = value
    return data


def _incident_in(record: object) -> IncidentIn:
    if not isinstance(record, dict):
        raise InvalidInput("not an object with the fields of an incident")
    try:
        return IncidentIn.model_validate(record)
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]} for e in exc.errors()]
        raise InvalidInput("; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]), errors=errors) from None


def _read(file: Path) -> list[Any]:
    """The records of the file: a JSON list, or the rows of a CSV with the documented columns."""
    text = file.read_text(encoding="utf-8-sig")
    if file.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        unknown = sorted(set(reader.fieldnames or []) - set(CSV_COLUMNS))
        if "title" not in (reader.fieldnames or []) or unknown:
            err.print(
                f"[red]error:[/red] the CSV header must name columns among: {', '.join(CSV_COLUMNS)}"
                + (f" (unknown: {', '.join(unknown)})" if unknown else "")
            )
            raise typer.Exit(1)
        return list(reader)
    try:
        data = json.loads(text)
    except ValueError:
        err.print(f"[red]error:[/red] {file} is not valid JSON")
        raise typer.Exit(1) from None
    if not isinstance(data, list):
        err.print("[red]error:[/red] the JSON file must hold a list of incidents (objects like the API's POST body)")
        raise typer.Exit(1)
    return data


IMPORT_HELP = "\n\n".join(
    [
        "Import incidents from CSV or JSON, each row in its own transaction.",
        "JSON: a list of objects shaped like the POST /api/v1/incidents body. "
        f"CSV: the columns {', '.join(CSV_COLUMNS)}; aware_at in ISO 8601 with a time zone; lists (countries, sectors, "
        "observables, share_communities) separated by ';'; an observable is 'type:value' or a value whose type is "
        "recognised. Rows are numbered from 1, the CSV header not counted.",
        "Valid rows are imported even when others are rejected. Exit status: 0 when every row was imported; "
        "1 when any row was rejected (the others are imported) or the file holds no row.",
    ]
)


@app.command("import", help=IMPORT_HELP)
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="a .csv or .json file")],
    as_user: Annotated[str, typer.Option("--as", help="record the incidents as this user (e-mail)")],
) -> None:
    """Import incidents from CSV or JSON, each row in its own transaction."""
    records = _read(file)
    imported = 0
    rejected: list[tuple[int, str, str]] = []
    with sessions() as factory:
        with unit_of_work(factory, write=False) as session:
            actor = actor_for(session, as_user)
        if not actor.has(Permission.INCIDENT_WRITE) or actor.org_id is None:
            err.print(f"[red]error:[/red] {as_user} may not record incidents (needs {Permission.INCIDENT_WRITE.value})")
            raise typer.Exit(1)
        columns = (TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=err) as progress:
            task = progress.add_task("import", total=len(records))
            for number, record in enumerate(records, start=1):
                title = str(record.get("title") or "")[:60] if isinstance(record, dict) else ""
                try:
                    data = _incident_in(_csv_record(record) if file.suffix.lower() == ".csv" else record)
                    with unit_of_work(factory) as session:
                        service.create_incident(session, actor=actor, data=data)
                    imported += 1
                except DomainError as exc:  # the row's transaction was rolled back; the next one starts afresh
                    rejected.append((number, title, exc.detail))
                progress.advance(task)
    console.print(f"imported {imported}, rejected {len(rejected)}")
    if rejected:
        table = Table("row", "title", "reason", title="Rejected rows")
        for number, title, reason in rejected:
            table.add_row(str(number), title, reason)
        console.print(table)
    if rejected or not imported:
        raise typer.Exit(1)
