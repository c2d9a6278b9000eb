"""`cybercrisis import stix|misp FILE`: a STIX 2.1 bundle or MISP events into the STIX object store, with a progress
bar.

One transaction per file: the file is imported completely or (on an error, or with --atomic and a rejection) not
at all. The rules are those of exchange/importer.py; docs/exchange.md ("Exchange: importing STIX 2.1").
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cybercrisis.cli.common import actor_for, console, db, err
from cybercrisis.errors import InvalidInput

if TYPE_CHECKING:
    from cybercrisis.exchange.importer import ImportResult

app = typer.Typer(help="Import exchange formats (STIX 2.1, MISP) into the store.", no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(1)


def _name(file: Path) -> str:
    """The file's name as text: bytes that are not UTF-8 (Python holds them as lone surrogates) become escapes."""
    from cybercrisis import textcheck

    return textcheck.printable(file.name)


def _read(file: Path) -> bytes:
    try:
        return file.expanduser().read_bytes()
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror or exc}") from None


def _ingest(
    objects: list[dict[str, Any]],
    *,
    as_user: str,
    origin: str,
    tlp: str,
    communities: list[str] | None,
    organisations: list[str] | None,
    atomic: bool,
) -> ImportResult:
    """Store the objects in one transaction, with a progress bar on stderr; an atomic refusal lists what it refused."""
    from cybercrisis.access.schemas import ShareWith
    from cybercrisis.exchange import importer

    share_with = ShareWith(communities=communities or [], organisations=organisations or [])
    with db() as session:
        actor = actor_for(session, as_user)
        with Progress(
            TextColumn("importing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        ) as bar:
            task = bar.add_task("import", total=len(objects))
            try:
                return importer.ingest(
                    session,
                    actor=actor,
                    objects=objects,
                    origin=origin,
                    default_tlp=tlp,
                    share_with=share_with,
                    atomic=atomic,
                    progress=lambda n: bar.update(task, advance=n),
                )
            except InvalidInput as exc:
                for e in exc.errors:
                    if "id" in e:  # an atomic refusal lists the rejected objects
                        console.print(f"{e.get('index', '-')} {e['id'] or '-'} {escape(e['message'])}", highlight=False)
                raise


def _summary(result: ImportResult, extra_rejected: int = 0) -> None:
    console.print(
        f"imported {result.imported}, unchanged {result.unchanged}, "
        f"rejected {extra_rejected + len(result.rejected)} (custom {result.custom})",
        highlight=False,
    )


# The options both commands take.
AsUser = Annotated[str, typer.Option("--as", help="the importing user (e-mail); their organisation owns it")]
Communities = Annotated[
    list[str] | None, typer.Option("--share-with-community", help="share with this community (repeatable)")
]
Organisations = Annotated[
    list[str] | None, typer.Option("--share-with-org", help="share with this organisation id (repeatable)")
]


@app.command("stix")
def import_stix(
    file: Annotated[Path, typer.Argument(help="a STIX 2.1 bundle (JSON)")],
    as_user: AsUser,
    tlp: Annotated[str, typer.Option(help="TLP of objects without a TLP marking")] = "amber",
    share_with_community: Communities = None,
    share_with_org: Organisations = None,
    atomic: Annotated[bool, typer.Option("--atomic", help="import nothing if any object is rejected")] = False,
) -> None:
    """Import a STIX 2.1 bundle. Prints `imported N, unchanged N, rejected N (custom N)` and one line per rejected
    object: `INDEX ID REASON`. Exit 1 when the file is unreadable or not STIX 2.1, the user is unknown, or with
    --atomic when something was rejected (then nothing is imported)."""
    from cybercrisis.exchange import importer

    raw = _read(file)
    try:
        objects = importer.bundle_objects(importer.loads(raw))
    except InvalidInput as exc:
        raise _fail(f"{file}: {exc.detail}") from None
    del raw
    result = _ingest(
        objects,
        as_user=as_user,
        origin=f"file:{_name(file)}",
        tlp=tlp,
        communities=share_with_community,
        organisations=share_with_org,
        atomic=atomic,
    )
    _summary(result)
    for r in result.rejected:
        console.print(f"{r.index} {r.id or '-'} {escape(r.reason)}", highlight=False)


@app.command("misp")
def import_misp(
    file: Annotated[Path, typer.Argument(help='MISP events (JSON): {"Event": ...}, a list, or {"response": [...]}')],
    as_user: AsUser,
    tlp: Annotated[str, typer.Option(help="TLP of events without a tlp:* tag")] = "amber",
    share_with_community: Communities = None,
    share_with_org: Organisations = None,
    atomic: Annotated[bool, typer.Option("--atomic", help="import nothing if anything is rejected")] = False,
) -> None:
    """Import MISP events (every event of a REST `{"response": [...]}` file), converted to STIX 2.1 with misp-stix.

    Prints `imported N, unchanged N, rejected N (custom N)` (STIX objects; rejected also counts the MISP events,
    attributes and objects that could not be converted), then one line per rejection naming the event and the
    attribute (or the STIX object: index, id, reason). Exit 1 when the file is unreadable, not JSON or holds no
    MISP event, the user is unknown, or with --atomic when anything was rejected (then nothing is imported)."""
    import logging

    from cybercrisis.exchange import misp_import

    logging.getLogger("pymisp").setLevel(logging.CRITICAL)  # its complaints are reported as rejections below
    raw = _read(file)
    try:
        conversion = misp_import.convert(raw)
    except InvalidInput as exc:
        raise _fail(f"{file}: {exc.detail}") from None
    del raw
    if atomic and conversion.rejected:
        for rejected in conversion.rejected:
            console.print(escape(str(rejected)), highlight=False)
        raise _fail(
            f"{file}: {len(conversion.rejected)} MISP record(s) rejected, so nothing was imported (atomic); "
            f"the first: {conversion.rejected[0]}"
        )
    for warning in conversion.warnings[:20]:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)
    result = _ingest(
        conversion.objects,
        as_user=as_user,
        origin=f"misp-file:{_name(file)}",
        tlp=tlp,
        communities=share_with_community,
        organisations=share_with_org,
        atomic=atomic,
    )
    _summary(result, len(conversion.rejected))
    for rejected in conversion.rejected:
        console.print(escape(str(rejected)), highlight=False)
    for r in result.rejected:
        console.print(f"{r.index} {r.id or '-'} {escape(r.reason)}", highlight=False)
