"""cybercrisis command line."""

from __future__ import annotations

import typer

from cybercrisis.cli import (
    audit_cmd,
    contact_cmd,
    crisis_cmd,
    db_cmd,
    demo_cmd,
    directory_cmd,
    export_cmd,
    import_cmd,
    incident_cmd,
    jobs_cmd,
    node_cmd,
    org_cmd,
    peer_cmd,
    serve_cmd,
    sitrep_cmd,
    taxii_cmd,
    token_cmd,
    user_cmd,
)

app = typer.Typer(
    name="cybercrisis",
    help="Coordinated response to large-scale cybersecurity incidents and crises.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve_cmd.serve)
app.add_typer(db_cmd.app, name="db")
app.add_typer(demo_cmd.app, name="demo")
app.add_typer(org_cmd.app, name="org")
app.add_typer(user_cmd.app, name="user")
app.add_typer(token_cmd.app, name="token")
app.add_typer(contact_cmd.app, name="contact")
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(jobs_cmd.app, name="jobs")
app.add_typer(directory_cmd.app, name="directory")
app.add_typer(incident_cmd.app, name="incident")
app.add_typer(sitrep_cmd.app, name="sitrep")
app.add_typer(crisis_cmd.app, name="crisis")
app.add_typer(export_cmd.app, name="export")
app.add_typer(import_cmd.app, name="import")
app.add_typer(taxii_cmd.app, name="taxii")
app.add_typer(peer_cmd.app, name="peer")
app.add_typer(node_cmd.app, name="node")
app.command("deadlines")(incident_cmd.deadlines)
