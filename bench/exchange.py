"""Suite `exchange`: import speed of STIX 2.1 bundles into the STIX object store, and peak memory.

For each backend, a fresh database with the demo (its users import as CERT-FR's analyst):

1. *In process*: `exchange.importer.ingest` on objects already parsed, timed alone: objects/s for MITRE ATT&CK
   for ICS (../shared/data/attack/ics-attack.json, 1,826 objects, almost all custom `x-mitre-*` ones) and for a
   generated bundle of 100,000 TLP:GREEN indicators; then the same again (every version already stored:
   `unchanged`). The aim of issue 5 is over 20,000 objects/s.
2. *End to end*: `cybercrisis import stix FILE` as a process (reading, parsing, checking, storing, committing),
   wall time and peak RSS (from wait4), against a process that only parses the same file with `json.load`
   in the same run: the baseline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from bench.server import BenchServer

ATTACK = Path(__file__).resolve().parents[2] / "shared" / "data" / "attack" / "ics-attack.json"
GENERATED = 100_000
AIM_OBJECTS_PER_S = 20_000
GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
IMPORTER = "analyst@cert-fr.example"


def generated_bundle(n: int) -> dict[str, Any]:
    """n indicators, as a feed would send them: distinct ids, TLP:GREEN, an IPv4 pattern each."""
    base = uuid.UUID("6f0b2a52-8f3c-4d8e-9c1a-2b7d5e4f0a10")
    objects = [
        {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--{uuid.uuid5(base, str(i))}",
            "created": "2026-11-20T08:00:00.000Z",
            "modified": "2026-11-20T08:00:00.000Z",
            "name": f"C2 address {i}",
            "pattern": f"[ipv4-addr:value = '10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}']",
            "pattern_type": "stix",
            "valid_from": "2026-11-20T08:00:00Z",
            "indicator_types": ["malicious-activity"],
            "object_marking_refs": [GREEN],
        }
        for i in range(n)
    ]
    return {"type": "bundle", "id": f"bundle--{uuid.uuid5(base, 'bundle')}", "objects": objects}


def _in_process(database_url: str, objects: list[dict[str, Any]], origin: str) -> dict[str, Any]:
    from cybercrisis.accounts import service as accounts
    from cybercrisis.accounts.models import User
    from cybercrisis.db import make_engine, make_sessionmaker
    from cybercrisis.exchange import importer

    engine = make_engine(database_url, pool_size=2)
    session = make_sessionmaker(engine)()
    try:
        session.connection(execution_options={"cc_write": True})  # as a request or command: a write transaction
        actor = accounts.principal_for(session, session.scalars(select(User).where(User.email == IMPORTER)).one())
        t0 = time.perf_counter()
        result = importer.ingest(session, actor=actor, objects=objects, origin=origin, default_tlp="green")
        session.commit()  # committing is part of importing
        seconds = time.perf_counter() - t0
    finally:
        session.close()
        engine.dispose()
    return {
        "objects": len(objects),
        "imported": result.imported,
        "unchanged": result.unchanged,
        "rejected": len(result.rejected),
        "custom": result.custom,
        "seconds": round(seconds, 3),
        "objects_per_s": round(len(objects) / seconds) if seconds else 0,
    }


def _process(command: list[str], env: dict[str, str]) -> tuple[float, int, int]:
    """Wall seconds, peak RSS in KiB and exit status of one child process.

    The peak is the child's VmHWM (the high-water mark of its own address space, fresh at exec), read every 20 ms
    until it exits: rusage maxrss would count the RSS of this large bench process, from which the child forks.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    status = Path(f"/proc/{proc.pid}/status")
    while proc.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except (OSError, ValueError):
            break
        time.sleep(0.02)
    code = proc.wait()
    return time.perf_counter() - t0, peak, code


def bench_backend(args: Any, postgres_url: str | None, out: Console) -> dict[str, Any]:
    from cybercrisis.exchange.models import StixObject

    with BenchServer(postgres_url=postgres_url, data="demo") as srv:
        backend = srv.prepare()
        srv.cli("demo", "load")
        out.print(f"\n[bold]{backend.name}[/bold] (exchange suite): {backend.display_url}")
        tmp = Path(tempfile.mkdtemp(prefix="cybercrisis-bench-exchange-"))
        files: list[tuple[str, Path, list[dict[str, Any]]]] = []
        if ATTACK.exists():
            files.append(("ics-attack.json", ATTACK, json.loads(ATTACK.read_text())["objects"]))
        else:
            out.print(f"  [yellow]{ATTACK} is absent: the ATT&CK figures are left out[/yellow]")
        bundle = generated_bundle(GENERATED)
        path = tmp / "generated-100k.json"
        path.write_text(json.dumps(bundle))
        files.append((f"generated {GENERATED:,} indicators", path, bundle["objects"]))
        env = {**os.environ, **srv._env()}  # the server's environment: the same database
        cli = str(Path(sys.executable).with_name("cybercrisis"))
        rows = []
        for name, file_path, objects in files:
            first = _in_process(backend.database_url, objects, f"bench:{name}")
            again = _in_process(backend.database_url, objects, f"bench:{name}")
            parse = f"import json; json.load(open({str(file_path)!r}))"
            parse_wall, parse_rss, _ = _process([sys.executable, "-c", parse], env)
            # End to end, the re-import (everything read, parsed and checked, nothing written): a first import
            # would need new ids, and its in-process figure is above.
            cli_wall, cli_rss, code = _process([cli, "import", "stix", str(file_path), "--as", IMPORTER], env)
            rows.append(
                {
                    "name": name,
                    "size_mb": round(file_path.stat().st_size / 1e6, 1),
                    "first": first,
                    "again": again,
                    "parse_only_s": round(parse_wall, 2),
                    "parse_only_rss_mib": parse_rss // 1024,
                    "cli_reimport_s": round(cli_wall, 2),
                    "cli_reimport_rss_mib": cli_rss // 1024,
                    "cli_exit": code,
                }
            )
        from cybercrisis.db import make_engine

        engine = make_engine(backend.database_url, pool=False)
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(StixObject)).scalar_one()
        engine.dispose()
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()
        return {"backend": backend.name, "files": rows, "stored": stored}


def print_tables(res: dict[str, Any], out: Console) -> None:
    t = Table(
        title=f"{res['backend']}: STIX import into the object store ({res['stored']:,} object versions stored)",
        title_justify="left",
    )
    for col in (
        "bundle",
        "MB",
        "first import obj/s",
        "again (unchanged) obj/s",
        "aim >20k/s",
        "CLI re-import s / peak MiB",
        "json.load only s / peak MiB",
    ):
        t.add_column(col, justify="left" if col == "bundle" else "right")
    for r in res["files"]:
        first, again = r["first"], r["again"]
        ok = first["objects_per_s"] > AIM_OBJECTS_PER_S
        t.add_row(
            f"{r['name']} ({first['objects']:,}; imported {first['imported']:,}, custom {first['custom']:,}, "
            f"rejected {first['rejected']})",
            str(r["size_mb"]),
            f"{first['objects_per_s']:,} ({first['seconds']} s)",
            f"{again['objects_per_s']:,} ({again['seconds']} s)",
            "[green]met[/green]" if ok else "[red]MISS[/red]",
            f"{r['cli_reimport_s']} / {r['cli_reimport_rss_mib']}",
            f"{r['parse_only_s']} / {r['parse_only_rss_mib']}",
        )
    out.print(t)
    out.print(
        "  obj/s: `ingest` alone in process (checking, storing, share rows, one audit entry), commit included; "
        "the CLI re-imports (everything read, parsed and checked, nothing written) as a process, against a "
        "process that only parses the file: the baseline of the same run."
    )


def misses(res: dict[str, Any]) -> list[str]:
    return [
        f"{res['backend']}: import of {r['name']} under {AIM_OBJECTS_PER_S:,} objects/s"
        for r in res["files"]
        if r["first"]["objects_per_s"] <= AIM_OBJECTS_PER_S
    ]


def failures(res: dict[str, Any]) -> list[str]:
    out = []
    for r in res["files"]:
        if r["cli_exit"] != 0:
            out.append(f"{res['backend']}: `cybercrisis import stix` of {r['name']} exited {r['cli_exit']}")
        if r["first"]["rejected"] or r["again"]["imported"]:
            out.append(f"{res['backend']}: {r['name']}: rejected objects or a re-import that wrote something")
    return out
