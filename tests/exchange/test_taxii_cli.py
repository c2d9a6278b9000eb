"""`cybercrisis taxii`: list collections (all, or as a user), define and remove collections, audited."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from cybercrisis.audit.models import AuditEvent
from cybercrisis.exchange import taxii
from cybercrisis.exchange.models import TaxiiCollection
from tests.conftest import World, count


def test_operator_defines_lists_and_removes_collections(run: Any, world: World, db: Session) -> None:
    world.org("CERT-FR", communities=("csirts-network",))
    world.org("Outsider")
    fr = world.user("CERT-FR")
    out = world.user("Outsider")
    created = run(
        "taxii",
        "add-collection",
        "--title",
        "IoCs",
        "--community",
        "csirts-network",
        "--types",
        "indicator,malware",
        "--read-only",
    ).stdout
    cid = created.split("created collection ", 1)[1].split(":", 1)[0]
    row = db.get(TaxiiCollection, cid)
    assert row is not None and (row.types, row.can_write, row.audience_target) == (
        ["indicator", "malware"],
        False,
        "csirts-network",
    )
    everything = json.loads(run("taxii", "collections", "--json").stdout)
    assert {c["id"] for c in everything} == {
        taxii.collection_id("organisation", fr.org_id),
        taxii.collection_id("organisation", out.org_id),
        taxii.collection_id("community", "csirts-network"),
        cid,
    }
    mine = json.loads(run("taxii", "collections", "--as", fr.email, "--json").stdout)
    assert [c["id"] for c in mine][-1] == cid and len(mine) == 3
    theirs = json.loads(run("taxii", "collections", "--as", out.email, "--json").stdout)
    assert [c["id"] for c in theirs] == [taxii.collection_id("organisation", out.org_id)]
    assert "IoCs" in run("taxii", "collections").stdout
    bad = run("taxii", "add-collection", "--title", "X", "--community", "nope", ok=False)
    assert bad.returncode == 1 and "unknown community" in bad.stderr
    both = run("taxii", "add-collection", "--title", "X", "--community", "a", "--organisation", "b", ok=False)
    assert both.returncode != 0
    run("taxii", "remove-collection", cid)
    assert count(db, TaxiiCollection) == 0
    assert run("taxii", "remove-collection", cid, ok=False).returncode == 1
    events = count(
        db,
        AuditEvent,
        AuditEvent.tag.in_(["exchange:collection:create", "exchange:collection:delete"]),
        AuditEvent.actor_user_id.is_(None),
    )
    assert events == 2
