"""Directory import and export (JSON and CSV). The demo directory is loaded through the same import.

Import is an upsert keyed by organisation id (or a `key` that maps to a deterministic id), so loading
the same file twice changes nothing. Exported contacts pass the access layer like every other read.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis import textcheck
from cybercrisis.access import sharing
from cybercrisis.access.permissions import Permission
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.schemas import ShareWith
from cybercrisis.access.tlp import TLP
from cybercrisis.audit import service as audit
from cybercrisis.directory import service
from cybercrisis.directory.models import Community, Contact, MembershipRole, Organisation
from cybercrisis.directory.reading import WITH_ROWS
from cybercrisis.errors import InvalidInput

# Namespace for deterministic organisation ids: the same directory key gives the same identity on every node.
DIRECTORY_NAMESPACE = uuid.UUID("5d1f3c1e-2b7a-4f0e-9a57-1d3c0c7e2f10")
CSV_FIELDS = [
    "id",
    "name",
    "short_name",
    "type",
    "country",
    "levels",
    "communities",
    "parent_id",
    "website",
    "description",
]


MEMBER = MembershipRole.MEMBER.value


def org_id_for_key(key: str) -> str:
    return f"identity--{uuid.uuid5(DIRECTORY_NAMESPACE, key)}"


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    contacts_created: int = 0
    communities_created: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "contacts_created": self.contacts_created,
            "communities_created": self.communities_created,
        }


def _org_dict(org: Organisation) -> dict[str, Any]:
    return {
        "id": org.id,
        "name": org.name,
        "short_name": org.short_name,
        "type": org.type,
        "country": org.country,
        "levels": org.levels,
        "communities": org.communities,
        "roles": org.roles,
        "parent_id": org.parent_id,
        "website": org.website,
        "description": org.description,
    }


def export_json(session: Session, *, principal: Principal) -> str:
    orgs = list(session.scalars(select(Organisation).order_by(Organisation.name).options(*WITH_ROWS)))
    contacts: dict[str, list[dict[str, Any]]] = {}
    for c in session.scalars(select(Contact).where(read_filter(principal, Contact)).order_by(Contact.label)):
        contacts.setdefault(c.owner_org_id, []).append(
            {
                "kind": c.kind,
                "label": c.label,
                "value": c.value,
                "tlp": c.tlp,
                "pgp_fingerprint": c.pgp_fingerprint,
            }
        )
    doc = {
        "communities": [
            {"slug": c.slug, "name": c.name, "level": c.level, "description": c.description, "basis": c.basis}
            for c in service.list_communities(session)
        ],
        "organisations": [{**_org_dict(o), "contacts": contacts.get(o.id, [])} for o in orgs],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)


def export_csv(session: Session) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for org in session.scalars(select(Organisation).order_by(Organisation.name).options(*WITH_ROWS)):
        row = _org_dict(org)
        row["levels"] = ";".join(org.levels)
        # A role other than member travels as `slug:role` (e.g. `eu-cyclone:observer`).
        row["communities"] = ";".join(c if r == MEMBER else f"{c}:{r}" for c, r in org.roles.items())
        writer.writerow({k: row[k] or "" for k in CSV_FIELDS})
    return out.getvalue()


def _parse(text: str, fmt: str) -> dict[str, Any]:
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        missing = [f for f in ("name", "short_name", "type") if rows and f not in rows[0]]
        if missing:
            raise InvalidInput(f"the CSV lacks the column(s) {', '.join(missing)}; expected {', '.join(CSV_FIELDS)}")
        for row in rows:
            row["levels"] = [v for v in (row.get("levels") or "").split(";") if v]
            entries = [v.strip() for v in (row.get("communities") or "").split(";") if v.strip()]
            row["communities"] = [v.split(":", 1)[0] for v in entries]
            row["roles"] = {v.split(":", 1)[0]: v.split(":", 1)[1] for v in entries if ":" in v}
        textcheck.require_clean({"organisations": rows})  # NUL: PostgreSQL cannot store it
        return {"organisations": rows}
    try:
        data = textcheck.parse_json(text, field="file")  # text that is not valid Unicode, nesting too deep: 422
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"the file is not JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict) or not isinstance(data.get("organisations"), list):
        raise InvalidInput('a directory file is an object with an "organisations" list')
    return data


def import_directory(session: Session, *, actor: Principal, text: str, fmt: str) -> ImportResult:
    """Upsert communities, organisations and contacts. Any invalid row refuses the whole file."""
    actor.require(Permission.DIRECTORY_IMPORT)
    data = _parse(text, fmt)
    result = ImportResult()
    for c in data.get("communities") or []:
        existing = session.get(Community, c["slug"])
        if existing is None:
            session.add(
                Community(
                    slug=c["slug"],
                    name=c["name"],
                    level=c.get("level", "technical"),
                    description=c.get("description", ""),
                    basis=c.get("basis", ""),
                )
            )
            result.communities_created += 1
        elif not existing.basis and c.get("basis"):
            existing.basis = c["basis"]  # a community created before roles had a basis gains it
    session.flush()

    entries = data["organisations"]
    ids: dict[str, str] = {}
    for i, raw in enumerate(entries):
        if not isinstance(raw, dict):
            raise InvalidInput(f"organisation #{i + 1} is not an object")
        ids[raw.get("key") or raw.get("short_name") or ""] = raw.get("id") or org_id_for_key(
            raw.get("key") or raw.get("short_name") or ""
        )
    by_short = {o.short_name.lower(): o.id for o in session.scalars(select(Organisation))}

    def parent_ref(raw: dict[str, Any]) -> str | None:
        ref = raw.get("parent_id") or raw.get("parent")
        if not ref:
            return None
        return ids.get(ref) or by_short.get(str(ref).lower()) or str(ref)

    # Parents first, so that foreign keys resolve whatever the file's order.
    pending = list(enumerate(entries))
    pending.sort(key=lambda item: parent_ref(item[1]) is not None)
    for i, raw in pending:
        try:
            _upsert(
                session,
                actor=actor,
                raw=raw,
                org_id=ids[raw.get("key") or raw.get("short_name") or ""],
                parent_id=parent_ref(raw),
                result=result,
            )
        except InvalidInput as exc:
            label = raw.get("short_name") or raw.get("name") or f"#{i + 1}"
            raise InvalidInput(f"organisation {label}: {exc.detail}", errors=exc.errors) from None
    if result.created or result.updated or result.contacts_created or result.communities_created:
        audit.record(session, actor=actor, tag="directory:directory:import", object_id=None, summary=result.as_dict())
    return result


def _upsert(
    session: Session,
    *,
    actor: Principal,
    raw: dict[str, Any],
    org_id: str,
    parent_id: str | None,
    result: ImportResult,
) -> None:
    fields: dict[str, Any] = {
        "name": raw.get("name") or "",
        "short_name": raw.get("short_name") or "",
        "type": raw.get("type") or "",
        "country": raw.get("country") or None,
        "levels": list(raw.get("levels") or []),
        "communities": list(raw.get("communities") or []),
        "parent_id": parent_id,
        "website": raw.get("website") or "",
        "description": raw.get("description") or "",
    }
    if not fields["name"] or not fields["short_name"]:
        raise InvalidInput("name and short_name are required")
    raw_roles = raw.get("roles") or {}
    if not isinstance(raw_roles, dict):
        raise InvalidInput(
            "roles is an object: community slug -> role", errors=[{"field": "roles", "message": "not an object"}]
        )
    # The file is the truth: a community it lists without a role is a plain membership.
    fields["roles"] = {c: str(raw_roles.get(c, MEMBER)) for c in fields["communities"]}
    stray = sorted(set(raw_roles) - set(fields["communities"]))
    if stray:
        raise InvalidInput(
            f"roles name communities the organisation is not in: {', '.join(stray)}",
            errors=[{"field": "roles", "message": "role for a community not listed"}],
        )
    org = session.scalars(select(Organisation).where(Organisation.id == org_id).options(*WITH_ROWS)).one_or_none()
    if org is None:
        org = service.create_organisation(
            session,
            actor=actor,
            name=fields["name"],
            short_name=fields["short_name"],
            type_=fields["type"],
            country=fields["country"],
            levels=fields["levels"],
            communities=fields["communities"],
            parent_id=parent_id,
            website=fields["website"],
            description=fields["description"],
            org_id=org_id,
            roles=fields["roles"],
        )
        result.created += 1
    else:
        current = _org_dict(org)
        changes = {k: v for k, v in fields.items() if current.get(k) != v}
        if changes:
            service.update_organisation(session, actor=actor, org_id=org.id, changes=changes)
            result.updated += 1
        else:
            result.unchanged += 1
    for c in raw.get("contacts") or []:
        _import_contact(session, actor=actor, org=org, raw=c, result=result)


def _import_contact(
    session: Session, *, actor: Principal, org: Organisation, raw: dict[str, Any], result: ImportResult
) -> None:
    exists = session.scalars(
        select(Contact.id).where(
            Contact.owner_org_id == org.id,
            Contact.kind == raw.get("kind"),
            Contact.label == raw.get("label"),
            Contact.value == raw.get("value"),
        )
    ).first()
    if exists:
        return
    tlp = sharing.parse_tlp(raw.get("tlp") or "green", field="contacts.tlp")
    share = ShareWith.model_validate(raw["share_with"]) if raw.get("share_with") else _default_share(org, tlp)
    service.create_contact(
        session,
        actor=actor,
        org_id=org.id,
        kind=raw.get("kind") or "",
        label=raw.get("label") or "",
        value=raw.get("value") or "",
        pgp_fingerprint=raw.get("pgp_fingerprint"),
        tlp=tlp.value,
        share_with=share,
    )
    result.contacts_created += 1


def _default_share(org: Organisation, tlp: TLP) -> ShareWith:
    """Contacts of organisations without a community reach their national CSIRT (their constituency)."""
    if tlp in (TLP.GREEN, TLP.AMBER):
        if org.communities:
            return ShareWith(communities=org.communities)
        if org.parent_id:
            return ShareWith(organisations=[org.parent_id])
    return ShareWith()
