"""Correlation at scale: find the cross-organisation matches of a batch of 10,000 observables among 1,000,000.

In the bench's own database (a SQLite file in its temp dir, or a PostgreSQL database created and dropped by
BenchServer), with the schema of `cybercrisis db upgrade`:

1. 200 organisations (through the directory service) and 50 incidents each (10,000 rows, bulk insert);
2. baseline: the lookup below against an empty observables table, on the same connection pool;
3. 100,000 observables with one sighting each (observable k is seen by one incident; incidents, hence
   organisations, spread evenly), then the lookup; then up to 1,000,000 and the lookup again.

The lookup is the query shape of the incidents service (`lookup_ids`, then `correlations`): the batch in
chunks of 500, one `type = ? AND value IN (...)` per type, joined to sightings and to incidents of another
organisation than the one adding the batch. Each batch has 5,000 values stored by incidents of other
organisations and 5,000 new ones, so every measured run must find exactly 5,000 matches. Three different
batches per size (fewer when they take over 5 s together); the median is compared with the aim (under 1 s)
and with the baseline.
For comparison only, the same lookup with a row-value `(type, value) IN (...)` is timed too (the JSON calls it
`lookup_by_type` for compatibility with earlier result files).

Storage is read after each size (SQLite: file size after a WAL checkpoint, and tables + indexes from
`dbstat`; PostgreSQL: `pg_database_size` and `pg_total_relation_size`): bytes per observable stay flat when
storage grows linearly, since a value is stored once and each sighting is one row (no pairwise table).
SQLite rows go in with SQLAlchemy Core `executemany`; PostgreSQL rows with COPY (a plain executemany runs at
about 55,000 rows/s there, which would triple the time of the whole benchmark). PostgreSQL gets an
ANALYZE after each load, as autovacuum would give it shortly after; SQLite gets none, as in production.
"""

from __future__ import annotations

import hashlib
import ipaddress
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, text, tuple_

from cybercrisis.accounts.service import SYSTEM
from cybercrisis.db import make_engine, make_sessionmaker, new_id, unit_of_work
from cybercrisis.directory import service as directory
from cybercrisis.directory.countries import EU_MEMBER_STATES
from cybercrisis.incidents.models import Incident, Observable, Sighting

ORGS = 200
INCIDENTS_PER_ORG = 50
INCIDENTS = ORGS * INCIDENTS_PER_ORG
SIZES = (100_000, 1_000_000)
BATCH = 10_000
KNOWN = BATCH // 2  # stored by other organisations' incidents; the rest are new values
CHUNK = 500  # the service's chunk size
REPEATS = 3
LOOKUP_BUDGET_S = 5.0  # fewer repetitions when a lookup is that slow: the figure is clear and time is bounded
PAGE = 50_000  # rows per executemany
NEW_BASE = 10_000_000  # numbers of values never stored (the stored ones are 1..1,000,000)
AIM_BATCH_S = 1.0
LINEAR_TOLERANCE = 0.5  # bytes per observable at the largest size within ±50 % of the smallest size's
ADDER = 0  # the organisation adding the batch: index in the organisation list


def value_of(k: int) -> tuple[str, str]:
    """The k-th observable in canonical form (as incidents.observables.normalise stores it); injective in k."""
    m = k % 10
    if m < 4:
        return "ipv4-addr", str(ipaddress.IPv4Address(0x0A000000 + k))
    if m < 7:
        return "domain-name", f"h{k}.bench.example"
    return "sha256", hashlib.sha256(k.to_bytes(8, "big")).hexdigest()


def incident_of(k: int) -> int:
    """The incident (index) that saw observable k: a bijection on each run of 10,000 numbers (7919 is prime)."""
    return (k * 7919) % INCIDENTS


def org_of(incident: int) -> int:
    return incident // INCIDENTS_PER_ORG


def batch(stored: int, rep: int) -> list[tuple[str, str]]:
    """5,000 values stored by other organisations' incidents, spread over the stored range, interleaved with
    5,000 new ones; a different batch for each repetition."""
    step = stored // (KNOWN + KNOWN // 50)
    known: list[int] = []
    k = 1 + rep
    while len(known) < KNOWN:
        if org_of(incident_of(k)) != ADDER:
            known.append(k)
        k += step
    new = [NEW_BASE + rep * BATCH + i for i in range(KNOWN)]
    out: list[tuple[str, str]] = []
    for a, b in zip(known, new, strict=True):
        out += [value_of(a), value_of(b)]
    return out


def _chunks(items: list[tuple[str, str]], size: int) -> Iterator[list[tuple[str, str]]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def lookup(conn: Connection, values: list[tuple[str, str]], adder_org: str) -> int:
    """The service's query shape (`incidents.correlation.lookup_ids`): one `type = ? AND value IN (...)` query
    per type and chunk; returns the (value, incident) matches of other organisations."""
    found = 0
    for chunk in _chunks(values, CHUNK):
        by_type: dict[str, list[str]] = {}
        for type_, value in chunk:
            by_type.setdefault(type_, []).append(value)
        for type_, vals in by_type.items():
            rows = conn.execute(
                select(Observable.value, Sighting.incident_id)
                .join(Sighting, Sighting.observable_id == Observable.id)
                .join(Incident, Incident.id == Sighting.incident_id)
                .where(Observable.type == type_, Observable.value.in_(vals), Incident.owner_org_id != adder_org)
            ).all()
            found += len(rows)
    return found


def lookup_row_values(conn: Connection, values: list[tuple[str, str]], adder_org: str) -> int:
    """For comparison only: the same matches with a row-value `(type, value) IN (...)`, which SQLite answers
    with a table scan (the shape the service used before this benchmark showed it)."""
    found = 0
    for chunk in _chunks(values, CHUNK):
        rows = conn.execute(
            select(Observable.type, Observable.value, Sighting.incident_id)
            .join(Sighting, Sighting.observable_id == Observable.id)
            .join(Incident, Incident.id == Sighting.incident_id)
            .where(tuple_(Observable.type, Observable.value).in_(chunk), Incident.owner_org_id != adder_org)
        ).all()
        found += len(rows)
    return found


def _timed_lookups(engine: Engine, stored: int, adder_org: str, *, by_type: bool = False) -> dict[str, Any]:
    times: list[float] = []
    matches: list[int] = []
    fn = lookup_row_values if by_type else lookup
    for rep in range(REPEATS):
        values = batch(max(stored, BATCH), rep)
        with engine.connect() as conn:  # pooled: an open connection, as in the server
            t0 = time.perf_counter()
            matches.append(fn(conn, values, adder_org))
            times.append(time.perf_counter() - t0)
        if sum(times) > LOOKUP_BUDGET_S:
            break
    return {"runs_s": times, "median_s": statistics.median(times), "first_s": times[0], "matches": matches}


def _select1(engine: Engine) -> float:
    """A trivial round trip, as many times as the batch has chunks (median of three)."""
    runs = []
    with engine.connect() as conn:
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            for _ in range(BATCH // CHUNK):
                conn.execute(text("SELECT 1")).scalar_one()
            runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


# --- data ---------------------------------------------------------------------------------------------------


def _organisations(engine: Engine) -> list[str]:
    factory = make_sessionmaker(engine)
    with unit_of_work(factory) as s:
        ids = []
        for i in range(ORGS):
            org = directory.create_organisation(
                s,
                actor=SYSTEM,
                name=f"Correlation bench organisation {i:03d}",
                short_name=f"CORR-{i:03d}",
                type_="national-csirt",
                country=EU_MEMBER_STATES[i % len(EU_MEMBER_STATES)],
                levels=["technical"],
                communities=[],
            )
            ids.append(org.id)
    return ids


def _incidents(engine: Engine, org_ids: list[str]) -> list[str]:
    now = datetime.now(UTC)
    aware = now - timedelta(days=1)
    ids = [new_id("incident") for _ in range(INCIDENTS)]
    rows = [
        {
            "id": ids[i],
            "owner_org_id": org_ids[org_of(i)],
            "tlp": "green",
            "title": f"Correlation bench {i}",
            "aware_at": aware,
            "status": "new",
            "pap": "amber",
            "tags": [],
            "facts": {},
            "version": 1,
            "exercise": False,
            "created_at": now,
            "modified_at": now,
        }
        for i in range(INCIDENTS)
    ]
    with engine.begin() as conn:
        conn.execute(insert(Incident), rows)
    return ids


def _observable_rows(start: int, stop: int) -> Iterator[tuple[int, str, str]]:
    for k in range(start, stop):
        yield (k, *value_of(k))


def _load(engine: Engine, incident_ids: list[str], start: int, stop: int) -> dict[str, float]:
    """Observables start..stop-1 (ids = k) and one sighting each; returns seconds per table."""
    created = datetime.now(UTC)
    if engine.dialect.name == "postgresql":
        return _copy(engine, incident_ids, start, stop, created)
    seconds = {"observables": 0.0, "sightings": 0.0}
    with engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA cache_size=-262144")  # 256 MiB for this connection while it loads
        for lo in range(start, stop, PAGE):
            hi = min(lo + PAGE, stop)
            t0 = time.perf_counter()
            conn.execute(
                insert(Observable),
                [{"id": k, "type": t, "value": v} for k, t, v in _observable_rows(lo, hi)],
            )
            t1 = time.perf_counter()
            conn.execute(
                insert(Sighting),
                [
                    {"observable_id": k, "incident_id": incident_ids[incident_of(k)], "raw": "", "created_at": created}
                    for k in range(lo, hi)
                ],
            )
            seconds["observables"] += t1 - t0
            seconds["sightings"] += time.perf_counter() - t1
        conn.exec_driver_sql("PRAGMA cache_size=-2000")  # back to the default before the pool keeps it
    return seconds


def _copy(engine: Engine, incident_ids: list[str], start: int, stop: int, created: datetime) -> dict[str, float]:
    seconds = {}
    with engine.begin() as conn:
        raw: Any = conn.connection.driver_connection  # psycopg 3
        with raw.cursor() as cur:
            t0 = time.perf_counter()
            with cur.copy("COPY observables (id, type, value) FROM STDIN") as copy:
                for row in _observable_rows(start, stop):
                    copy.write_row(row)
            t1 = time.perf_counter()
            with cur.copy("COPY sightings (observable_id, incident_id, raw, created_at) FROM STDIN") as copy:
                for k in range(start, stop):
                    copy.write_row((k, incident_ids[incident_of(k)], "", created))
            t2 = time.perf_counter()
        seconds = {"observables": t1 - t0, "sightings": t2 - t1}
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        t3 = time.perf_counter()
        conn.execute(text("ANALYZE observables"))
        conn.execute(text("ANALYZE sightings"))
        conn.execute(text("ANALYZE incidents"))
        # Ids were given explicitly: the service's next INSERT must not reuse one.
        conn.execute(text("SELECT setval(pg_get_serial_sequence('observables', 'id'), :n)"), {"n": stop - 1})
        seconds["analyze"] = time.perf_counter() - t3
    return seconds


def storage(engine: Engine) -> dict[str, int]:
    """Bytes of the whole database and of the observables and sightings tables with their indexes."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            db = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
            tables = conn.execute(
                text("SELECT pg_total_relation_size('observables') + pg_total_relation_size('sightings')")
            ).scalar_one()
            return {"database_bytes": int(db), "tables_bytes": int(tables)}
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        tables = conn.exec_driver_sql(
            "SELECT COALESCE(SUM(d.pgsize), 0) FROM dbstat d JOIN sqlite_schema m ON m.name = d.name "
            "WHERE m.tbl_name IN ('observables', 'sightings')"
        ).scalar_one()
        page = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
        return {"database_bytes": int(page) * int(pages), "tables_bytes": int(tables)}


def _count(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        obs = conn.execute(select(func.count()).select_from(Observable)).scalar_one()
        sightings = conn.execute(select(func.count()).select_from(Sighting)).scalar_one()
        return int(obs), int(sightings)


# --- the benchmark ------------------------------------------------------------------------------------------


def run(database_url: str, progress: Any = print) -> dict[str, Any]:
    engine = make_engine(database_url, pool_size=2)
    try:
        return _run(engine, progress)
    finally:
        engine.dispose()


def _run(engine: Engine, progress: Any) -> dict[str, Any]:
    t0 = time.perf_counter()
    org_ids = _organisations(engine)
    t1 = time.perf_counter()
    incident_ids = _incidents(engine, org_ids)
    t2 = time.perf_counter()
    generation: dict[str, Any] = {
        "organisations": {"rows": ORGS, "seconds": t1 - t0, "via": "directory service"},
        "incidents": {"rows": INCIDENTS, "seconds": t2 - t1, "via": "Core executemany"},
    }
    adder = org_ids[ADDER]
    progress(f"{ORGS} organisations, {INCIDENTS:,} incidents in {t2 - t0:.1f} s; baseline lookups ...")
    empty = _timed_lookups(engine, 0, adder)
    empty_by_type = _timed_lookups(engine, 0, adder, by_type=True)
    select1 = _select1(engine)
    baseline = storage(engine)

    sizes: list[dict[str, Any]] = []
    loaded = 0
    load_seconds = {"observables": 0.0, "sightings": 0.0, "analyze": 0.0}
    for size in SIZES:
        progress(f"loading observables {loaded + 1:,}..{size:,} ...")
        secs = _load(engine, incident_ids, loaded + 1, size + 1)
        for key, value in secs.items():
            load_seconds[key] = load_seconds.get(key, 0.0) + value
        added = size - loaded
        loaded = size
        obs, sightings = _count(engine)
        if obs != size or sightings != size:
            raise RuntimeError(f"expected {size} observables and sightings, found {obs} and {sightings}")
        store = storage(engine)
        progress(f"{size:,} stored; lookups ...")
        measured = _timed_lookups(engine, size, adder)
        by_type = _timed_lookups(engine, size, adder, by_type=True)
        grown = store["tables_bytes"] - baseline["tables_bytes"]
        sizes.append(
            {
                "observables": obs,
                "sightings": sightings,
                "load_s": secs,
                "load_rows_per_s": 2 * added / (secs["observables"] + secs["sightings"]),
                **store,
                "tables_bytes_per_observable": grown / size,
                "database_bytes_per_observable": (store["database_bytes"] - baseline["database_bytes"]) / size,
                "lookup": measured,
                "lookup_by_type": by_type,
                "ratio_to_baseline": measured["median_s"] / empty["median_s"] if empty["median_s"] else 0.0,
                "matches_ok": all(m == KNOWN for m in measured["matches"] + by_type["matches"]),
                "aim": {"max_s": AIM_BATCH_S, "pass": measured["median_s"] < AIM_BATCH_S},
            }
        )
    rows_total = 2 * loaded
    generation["observables+sightings"] = {
        "rows": rows_total,
        "seconds": load_seconds["observables"] + load_seconds["sightings"],
        "rows_per_s": rows_total / (load_seconds["observables"] + load_seconds["sightings"]),
        "observables_s": load_seconds["observables"],
        "sightings_s": load_seconds["sightings"],
        "analyze_s": load_seconds.get("analyze", 0.0),
        "via": "COPY" if engine.dialect.name == "postgresql" else "Core executemany",
    }
    first, last = sizes[0]["tables_bytes_per_observable"], sizes[-1]["tables_bytes_per_observable"]
    linear = abs(last / first - 1) <= LINEAR_TOLERANCE if first else False
    return {
        "organisations": ORGS,
        "incidents": INCIDENTS,
        "batch": BATCH,
        "batch_known_from_other_orgs": KNOWN,
        "chunk": CHUNK,
        "repeats": REPEATS,
        "generation": generation,
        "baseline": {
            "label": "same lookup, empty observables table",
            "lookup": empty,
            "lookup_by_type": empty_by_type,
            "select1_x_chunks_s": select1,
            **baseline,
        },
        "sizes": sizes,
        "storage_linear": {"tolerance": LINEAR_TOLERANCE, "growth": last / first if first else 0.0, "pass": linear},
        "elapsed_s": time.perf_counter() - t0,
    }
