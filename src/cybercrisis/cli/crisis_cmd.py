"""`cybercrisis crisis ...`: crises from the command line, as a user (`--as`), and the escalation model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.markup import escape
from sqlalchemy import select

from cybercrisis.access.policy import read_filter
from cybercrisis.cli.common import AS_HELP, actor_for, console, db, err, settings
from cybercrisis.crises import escalation, escalations, governance, room, service
from cybercrisis.crises.models import Crisis
from cybercrisis.crises.schemas import ConsultationIn, CrisisIn

app = typer.Typer(
    help="Crises: open, escalate, agree, show the crisis room; check an escalation model.", no_args_is_help=True
)

As = Annotated[str | None, typer.Option("--as", help=AS_HELP)]


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(1)


@app.command("model")
def show_model(
    check: Annotated[Path | None, typer.Option(help="validate this model file instead of the configured one")] = None,
) -> None:
    """Print the escalation model in use (or validate a file before setting CYBERCRISIS_ESCALATION_MODEL)."""
    try:
        model = (
            escalation.parse(check.read_text(encoding="utf-8"), source=str(check))
            if check
            else escalation.model_for(settings())
        )
    except (OSError, ValueError) as exc:
        raise _fail(str(exc)) from None
    for s in model.stages:
        console.print(
            f"{s.rank + 1}. [bold]{escape(s.key)}[/bold]: {escape(s.label)} ({s.level} level, community "
            f"{s.community or '-'})",
            highlight=False,
        )
        console.print(f"   must agree to enter: {', '.join(s.approvers) or 'nobody else'}", highlight=False)
        console.print(f"   must agree to leave: {', '.join(s.exit_approvers) or 'nobody else'}", highlight=False)
        console.print(f"   told on entry: {', '.join(s.notify) or 'nobody'}", highlight=False)
    console.print(escape(model.note))
    if check:
        console.print(f"{check}: valid, {len(model.stages)} stages")


@app.command("list")
def list_crises(as_: As = None, all_: Annotated[bool, typer.Option("--all", help="closed ones too")] = False) -> None:
    """Crises the user may see, most recently changed first."""
    with db(write=False) as s:
        actor = actor_for(s, as_)
        q = select(Crisis).where(read_filter(actor, Crisis))
        if not all_:
            q = q.where(Crisis.status == "open")
        rows = list(s.scalars(q.order_by(Crisis.modified_at.desc()).limit(200)))
        # One line per crisis, the id first and whole, so that it can be copied or piped.
        for c in rows:
            console.print(
                f"{c.id}  {c.stage}  {c.phase}  {c.status}  TLP:{c.tlp.upper()}  {escape(c.title)}",
                highlight=False,
                soft_wrap=True,
            )
        if not rows:
            console.print("no crisis you may see")


@app.command("show")
def show(crisis_id: str, as_: As = None) -> None:
    """The crisis room as JSON: level, phase, incidents, decisions, actions, timeline (what the user may see)."""
    with db(write=False) as s:
        out = room.room(s, actor_for(s, as_), crisis_id, settings())
        console.print_json(out.model_dump_json())


@app.command("open")
def open_crisis(
    title: Annotated[str, typer.Option(help="what the crisis is")],
    justification: Annotated[str, typer.Option(help="why it is a crisis (exceeds national capacity, 2+ MS)")],
    as_: As = None,
    incident: Annotated[list[str] | None, typer.Option(help="a linked incident id (repeat)")] = None,
    criterion: Annotated[
        list[str] | None, typer.Option(help="exceeds-national-capacity or multi-member-state-impact (repeat)")
    ] = None,
    tlp: str = "amber",
    stage: Annotated[str | None, typer.Option(help="stage, level or mechanism to start at")] = None,
    description: str = "",
) -> None:
    """Open a crisis; prints its id."""
    try:
        data = CrisisIn(
            title=title,
            justification=justification,
            incidents=incident or [],
            criteria=criterion or [],
            tlp=tlp,
            stage=stage,
            description=description,
        )
    except ValidationError as exc:
        raise _fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
    with db() as s:
        crisis = service.open_crisis(s, actor=actor_for(s, as_), data=data, settings=settings())
        console.print(crisis.id)


@app.command("share")
def share(
    crisis_id: str,
    tlp: Annotated[str, typer.Option(help="the marking: clear, green, amber, amber+strict or red")],
    as_: As = None,
    organisation: Annotated[list[str] | None, typer.Option(help="an organisation id (repeat)")] = None,
    community: Annotated[list[str] | None, typer.Option(help="a community slug (repeat)")] = None,
    user: Annotated[list[str] | None, typer.Option(help="a user id or e-mail (repeat)")] = None,
) -> None:
    """Replace the crisis's marking and audience (its originator only), e.g. to let those who must agree to a step
    read it first; prints the new share list."""
    from cybercrisis.access.schemas import ShareWith

    with db() as s:
        crisis = service.set_sharing(
            s,
            actor=actor_for(s, as_),
            crisis_id=crisis_id,
            tlp=tlp,
            share_with=ShareWith(organisations=organisation or [], communities=community or [], users=user or []),
        )
        from cybercrisis.access import sharing

        console.print_json(sharing.share_list(sharing.shares_of(s, crisis.id)).model_dump_json())


@app.command("escalate")
def escalate(
    crisis_id: str,
    to: Annotated[str, typer.Option(help="stage key, level or mechanism, e.g. ipcr-information-sharing")],
    rationale: Annotated[str, typer.Option(help="why")],
    as_: As = None,
    share_with_approvers: Annotated[
        bool, typer.Option(help="the originator lets those who must agree read the crisis first")
    ] = False,
) -> None:
    """Propose moving the crisis to another stage; prints the escalation id and whether it waits for agreement."""
    with db() as s:
        esc = escalations.propose_escalation(
            s,
            actor=actor_for(s, as_),
            crisis_id=crisis_id,
            to=to,
            rationale=rationale,
            settings=settings(),
            share_with_approvers=share_with_approvers,
        )
        console.print(json.dumps({"id": esc.id, "state": esc.state, "to": esc.to_stage}))


@app.command("agree")
def agree(
    crisis_id: str,
    escalation_id: str,
    as_: As = None,
    reject: Annotated[bool, typer.Option(help="do not agree (give --comment)")] = False,
    comment: str = "",
) -> None:
    """Your organisation agrees (or, with --reject, does not agree) to a pending escalation step."""
    with db() as s:
        esc = escalations.answer_escalation(
            s,
            actor=actor_for(s, as_),
            crisis_id=crisis_id,
            escalation_id=escalation_id,
            agree=not reject,
            comment=comment,
            settings=settings(),
        )
        console.print(json.dumps({"id": esc.id, "state": esc.state, "to": esc.to_stage}))


@app.command("consult")
def consult(
    crisis_id: str,
    escalation_id: str,
    consulted: Annotated[str, typer.Option(help="id of the organisation consulted")],
    view: Annotated[str, typer.Option(help="its view, as given")],
    as_: As = None,
) -> None:
    """Record a consultation held before agreeing to a pending step (IPCR arrangements: e.g. the Presidency, before
    the GSC, the Commission services or the EEAS activate information-sharing mode)."""
    with db() as s:
        row = governance.record_consultation(
            s,
            actor=actor_for(s, as_),
            crisis_id=crisis_id,
            escalation_id=escalation_id,
            data=ConsultationIn(consulted=consulted, view=view),
        )
        console.print(
            json.dumps(
                {"escalation": row.escalation_id, "consulted": row.org_id, "consulted_at": row.consulted_at.isoformat()}
            )
        )


@app.command("commission-role")
def commission_role(
    crisis_id: str,
    role: Annotated[str, typer.Option(help="member or observer (NIS2 Art. 16(2))")],
    rationale: Annotated[str, typer.Option(help="why, e.g. the services within NIS2's scope affected")],
    as_: As = None,
) -> None:
    """Record whether the Commission takes part in EU-CyCLONe as a member or an observer in this crisis."""
    with db() as s:
        crisis = governance.set_commission_role(
            s, actor=actor_for(s, as_), crisis_id=crisis_id, role=role, rationale=rationale, settings=settings()
        )
        console.print(json.dumps({"id": crisis.id, "commission_role": crisis.commission_role}))
