"""`cybercrisis peer`: the other nodes this node syncs with (add, list, remove, sync, status)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cybercrisis.cli.common import console, db, err, sessions, settings

app = typer.Typer(help="Peer nodes: federation over TAXII 2.1 (docs/federation.md).", no_args_is_help=True)


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@app.command("add")
def add(
    url: Annotated[
        str,
        typer.Argument(help="the peer's TAXII discovery URL (https://node.example/taxii2/) or its address"),
    ],
    token: Annotated[str, typer.Option(help="an API token of our account on the peer")],
    direction: Annotated[str, typer.Option(help="pull | push | both")],
    username: Annotated[str | None, typer.Option(help="send the token with HTTP Basic as this e-mail")] = None,
    collections: Annotated[
        str | None, typer.Option(help="collection ids, comma-separated (default: all in common)")
    ] = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait for each answer of the peer")] = 30.0,
    fingerprint: Annotated[str | None, typer.Option(help="refuse unless the peer's current key id is this")] = None,
    relay: Annotated[
        bool,
        typer.Option(
            "--relay", help="pass other nodes' versions on to this peer, one hop (a hub to its national nodes)"
        ),
    ] = False,
) -> None:
    """Add a peer: reads its discovery, pins its keys and prints their ids to check with its operator."""
    from cybercrisis.exchange import node as nodes
    from cybercrisis.exchange import peer_client, peers

    s = settings()
    local = nodes.load(s.data_dir)
    try:
        probe = peer_client.probe(url=url, token=token, username=username, timeout=timeout, allow=s.outbound_networks)
    except peer_client.PeerError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    with db() as session:
        peer = peers.add(
            session,
            actor=None,
            local_node=local.id,
            probe=probe,
            token=token,
            username=username,
            direction=direction,
            collections=_split(collections),
            timeout=timeout,
            settings=s,
            fingerprint=fingerprint,
            relay=relay,
        )
        d = probe.discovery
        relaying = ", relaying other nodes' versions to it" if peer.relay else ""
        console.print(
            f"added peer {peer.id}: {d.title} ({d.node_id}) at {peer.url}, direction {peer.direction}{relaying}"
        )
        console.print(f"organisation: {peer.organisation_id or 'not in this directory (pull only)'}")
        console.print(f"pinned keys: {', '.join(k['id'] for k in peer.keys)}  (current: [bold]{d.current_key}[/bold])")
        if fingerprint is None:
            console.print("check the current key with the peer's operator (`cybercrisis node show` on the peer)")
        shown = [c for c in probe.collections.values() if not peer.collections or c.id in peer.collections]
        for c in sorted(shown, key=lambda c: c.title):
            rights = ("read" if c.can_read else "") + (" write" if c.can_write else "")
            console.print(f"  collection {c.id}  {c.title}  ({rights.strip() or 'no access'})")


@app.command("list")
def list_() -> None:
    """The peers: id, URL, node, direction, organisation, enabled."""
    from cybercrisis.exchange import peers

    with db(write=False) as session:
        rows = peers.list_peers(session)
        for p in rows:
            state = "" if p.enabled else "  (disabled)"
            cols = ",".join(p.collections) if p.collections else "all in common"
            console.print(
                f"{p.id}  {p.url}  node {p.node_id}  {p.direction}  org {p.organisation_id or '-'}  "
                f"collections {cols}  keys {','.join(k['id'] for k in p.keys)}{state}"
            )
        if not rows:
            console.print("no peers")


@app.command("remove")
def remove(peer: Annotated[str, typer.Argument(help="peer id, node id or URL")]) -> None:
    """Forget a peer (what came from it stays)."""
    from cybercrisis.exchange import peers

    with db() as session:
        row = peers.remove(session, actor=None, ref=peer)
        console.print(f"removed peer {row.id} ({row.url})")


@app.command("disable")
def disable(peer: Annotated[str, typer.Argument(help="peer id, node id or URL")]) -> None:
    """Leave a peer out of the sync rounds (its keys stay trusted)."""
    from cybercrisis.exchange import peers

    with db() as session:
        row = peers.set_enabled(session, actor=None, ref=peer, enabled=False)
        console.print(f"disabled peer {row.id} ({row.url})")


@app.command("enable")
def enable(peer: Annotated[str, typer.Argument(help="peer id, node id or URL")]) -> None:
    """Take a disabled peer back into the sync rounds."""
    from cybercrisis.exchange import peers

    with db() as session:
        row = peers.set_enabled(session, actor=None, ref=peer, enabled=True)
        console.print(f"enabled peer {row.id} ({row.url})")


@app.command("sync")
def sync(
    peer: Annotated[str | None, typer.Option(help="only this peer (id, node id or URL)")] = None,
    page_size: Annotated[int, typer.Option(min=1, max=1000, help="objects per pulled page")] = 500,
) -> None:
    """One sync round now; exits 1 when a peer failed."""
    from cybercrisis.exchange import federation, peers

    s = settings()
    with sessions() as factory:
        if peer:
            with db(write=False) as session:
                ids = [peers.get(session, peer).id]
        else:
            ids = federation.enabled_peers(factory)
        if not ids:
            console.print("no enabled peers")
            return
        results = federation.sync_peers(factory, s, ids, page_size=page_size)
    failed = False
    for r in results:
        more = "  (stopped by the round budget: run again)" if r.incomplete else ""
        console.print(
            f"{r.peer_id} {r.url}: pulled {r.pulled}, pushed {r.pushed}, unchanged {r.unchanged}, "
            f"rejected {r.rejected}{more}"
        )
        for reason in r.rejections:
            console.print(f"  rejected {reason}")
        for e in r.errors:
            err.print(f"  [red]error:[/red] {e}")
        failed = failed or not r.ok
    if failed:
        raise typer.Exit(1)


@app.command("status")
def status() -> None:
    """Per peer: direction, last success and error, totals, lag."""
    from cybercrisis.db import utcnow
    from cybercrisis.exchange import federation_cursors
    from cybercrisis.exchange.peers import age

    now = utcnow()
    with db(write=False) as session:
        rows = federation_cursors.status(session)
        for st in rows:
            p = st.peer
            console.print(f"[bold]{p.id}[/bold]  {p.url}  ({p.direction}{'' if p.enabled else ', disabled'})")
            line = f"  last success {age(p.last_success_at, now)} ago, last attempt {age(p.last_attempt_at, now)} ago"
            console.print(line.replace("never ago", "never"))
            if p.last_error and (p.last_error_at and (not p.last_success_at or p.last_error_at > p.last_success_at)):
                console.print(f"  [red]last error[/red] ({age(p.last_error_at, now)} ago): {p.last_error}")
            console.print(f"  totals: pulled {p.pulled}, pushed {p.pushed}, rejected {p.rejected}")
            lag = []
            if p.direction in ("pull", "both"):
                lag.append(
                    "pull: "
                    + (f"caught up {age(st.caught_up_at, now)} ago" if st.caught_up_at else "not caught up yet")
                )
            if p.direction in ("push", "both"):
                lag.append(
                    "push: " + (f"{st.waiting} version(s) waiting" if st.waiting is not None else "not synced yet")
                )
            console.print("  lag: " + "; ".join(lag))
            last = st.last_round
            if last:
                console.print(
                    f"  last round: pulled {last.get('pulled')}, pushed {last.get('pushed')}, "
                    f"unchanged {last.get('unchanged')}, rejected {last.get('rejected')}"
                )
                for reason in last.get("rejections") or []:
                    console.print(f"    rejected {reason}")
        if not rows:
            console.print("no peers")
        _answers(session, now)


def _answers(session: Any, now: Any) -> None:
    """Acts on replicas still on their way to their origin (ADR 0013), per origin node: the operator's view."""
    from sqlalchemy import func, select

    from cybercrisis.answers.models import QUEUED, Answer
    from cybercrisis.exchange.peers import age

    rows = session.execute(
        select(Answer.origin_node, func.count(), func.min(Answer.created_at), func.max(Answer.last_error))
        .where(Answer.state == QUEUED)
        .group_by(Answer.origin_node)
        .order_by(Answer.origin_node)
    ).all()
    for node, n, oldest, error in rows:
        waiting = f"answers waiting for node {node}: {n}, the oldest for {age(oldest, now)}"
        console.print(waiting + (f"; last error: {error}" if error else ""))
