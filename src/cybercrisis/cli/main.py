"""cybercrisis command line.

Each command group is imported when it is run, not when the program starts: a command pays for the modules it
uses (a STIX export for stix2, a report for typst, serve for the web app) and `--help` for none of them.
"""

from __future__ import annotations

import importlib
from difflib import get_close_matches

import typer
from typer import _click as click  # the click that Typer vendors and builds its commands with
from typer.core import TyperCommand, TyperGroup

# name: (module in cybercrisis.cli, its Typer app or command function, the one-line help `--help` lists).
# The help repeats the group's own (tests/cli/test_cli.py checks that they agree), so that listing the
# commands imports none of them.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "serve": ("serve_cmd", "serve", "Run the web service."),
    "db": ("db_cmd", "app", "Database schema."),
    "demo": ("demo_cmd", "app", "Demo data."),
    "org": ("org_cmd", "app", "Organisations of the directory."),
    "user": ("user_cmd", "app", "User accounts."),
    "token": ("token_cmd", "app", "API tokens."),
    "contact": ("contact_cmd", "app", "Contacts of organisations (TLP-marked, shared like any object)."),
    "audit": ("audit_cmd", "app", "The audit trail."),
    "jobs": ("jobs_cmd", "app", "Scheduled work: notification delivery, alert reminders, deadlines."),
    "directory": ("directory_cmd", "app", "Import and export the directory."),
    "incident": ("incident_cmd", "app", "Incidents: list the ones you may see, import them from CSV or JSON."),
    "sitrep": (
        "sitrep_cmd",
        "app",
        "EU situation reports: draft one and write it as PDF, JSON or Markdown; list them.",
    ),
    "crisis": ("crisis_cmd", "app", "Crises: open, escalate, agree, show the crisis room; check an escalation model."),
    "export": ("export_cmd", "app", "Export what you may see in exchange formats (STIX 2.1)."),
    "import": ("import_cmd", "app", "Import exchange formats (STIX 2.1, MISP) into the store."),
    "taxii": ("taxii_cmd", "app", "TAXII 2.1 collections: list, define, remove."),
    "peer": ("peer_cmd", "app", "Peer nodes: federation over TAXII 2.1 (docs/federation.md)."),
    "node": ("node_cmd", "app", "This node's identity and signing keys (federation)."),
    "deadlines": (
        "incident_cmd",
        "deadlines",
        "Open NIS2 reports of the incidents the reader may see, the most urgent first.",
    ),
}


def load_command(name: str) -> click.Command:
    """The click command of `name`, built as `add_typer`/`command` would have built it at start-up."""
    module, attr, _help = COMMANDS[name]
    target = getattr(importlib.import_module(f"cybercrisis.cli.{module}"), attr)
    holder = typer.Typer()
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
    else:
        holder.command(name)(target)
    return typer.main.get_group(holder).commands[name]


class _LazyGroup(TyperGroup):
    """Lists every command from the table above; imports one only to run it (or show its own help)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name not in COMMANDS:
            return None
        # A stand-in that carries the name and the help for listings; resolve_command swaps in the real one.
        return TyperCommand(cmd_name, help=COMMANDS[cmd_name][2])

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            name, cmd, rest = super().resolve_command(ctx, args)
        except click.exceptions.UsageError as exc:
            # Typer suggests among the commands built so far: none, here.
            matches = get_close_matches(args[0], list(COMMANDS)) if args else []
            if matches and "Did you mean" not in exc.message:
                exc.message = f"{exc.message.rstrip('.')}. Did you mean {', '.join(map(repr, matches))}?"
            raise
        if name is not None and name not in self.commands:
            cmd = self.commands[name] = load_command(name)
        return name, cmd, rest


app = typer.Typer(
    name="cybercrisis",
    cls=_LazyGroup,
    help="Coordinated response to large-scale cybersecurity incidents and crises.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _group() -> None:
    """Makes the app a group of commands: Typer needs a callback or registered commands, and ours load on demand.

    The composition root (wiring.install) is installed by cli/common.py before a command opens a session.
    """
