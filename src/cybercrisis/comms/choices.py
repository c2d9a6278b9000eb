"""What the communication pages offer and name: the crises a reader may pick, the approvers' picker, who did what."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.accounts.models import User
from cybercrisis.comms.labels import APPROVER_GROUPS, KIND_CHOICES, TLP_CHOICES, language_choices
from cybercrisis.crises.models import Crisis, CrisisStatus
from cybercrisis.directory.models import Organisation
from cybercrisis.web import queries

CRISIS_CHOICES = 200  # the most recent crises the reader may see, offered in the crisis pickers


def crisis_choices(db: Session, principal: Principal, wanted: str = "") -> list[tuple[str, str]]:
    """Crises the reader may see, open ones first, most recently changed first; `wanted` is kept if readable."""
    is_closed = case((Crisis.status == CrisisStatus.OPEN.value, 0), else_=1)
    rows = db.execute(
        select(Crisis.id, Crisis.title, Crisis.status)
        .where(read_filter(principal, Crisis))
        .order_by(is_closed, Crisis.modified_at.desc(), Crisis.id.desc())
        .limit(CRISIS_CHOICES)
    ).all()
    out = [(r.id, r.title + ("" if r.status == CrisisStatus.OPEN.value else " (closed)")) for r in rows]
    if wanted and wanted not in {i for i, _ in out}:
        title = crisis_titles(db, principal, [wanted]).get(wanted)
        if title is not None:
            out.insert(0, (wanted, title))
    return out


def crisis_titles(db: Session, principal: Principal, ids: Iterable[str | None]) -> dict[str, str]:
    """Titles of the crises among these that the reader may see; the others are not named at all."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    query = select(Crisis.id, Crisis.title).where(Crisis.id.in_(wanted), read_filter(principal, Crisis))
    return dict(db.execute(query).all())


def approver_groups(db: Session) -> list[tuple[str, list[queries.OrgRef]]]:
    """Every organisation of the directory (who-is-who: readable by every signed-in user), in the picker's groups."""
    rows = db.execute(
        select(
            Organisation.id, Organisation.short_name, Organisation.name, Organisation.country, Organisation.type
        ).order_by(Organisation.country, Organisation.short_name)
    ).all()
    # EU bodies (no country) sort first within their group as well.
    grouped: dict[str, list[queries.OrgRef]] = {key: [] for key, _ in APPROVER_GROUPS}
    other: list[queries.OrgRef] = []
    for r in sorted(rows, key=lambda r: (r.country or "", r.short_name.lower())):
        grouped.get(r.type, other).append(queries.OrgRef(r.id, r.short_name, r.name, r.country))
    groups = [(label, grouped[key]) for key, label in APPROVER_GROUPS]
    return [*groups, ("Other organisations", other)]


def new_choices(db: Session, principal: Principal, values: dict[str, Any]) -> dict[str, Any]:
    extra = [values.get("language", ""), *(b["lang"] for b in values.get("translations", []))]
    return {
        "crisis_choices": crisis_choices(db, principal, values.get("crisis", "")),
        "kind_choices": KIND_CHOICES,
        "languages": language_choices(extra),
        "approver_groups": approver_groups(db),
        "tlp_choices": TLP_CHOICES,
    }


def people(db: Session, principal: Principal, user_ids: Iterable[str | None]) -> dict[str, str]:
    """Who did something, in words: an e-mail address for the reader's colleagues, else the organisation only."""
    wanted = sorted({u for u in user_ids if u})
    if not wanted:
        return {}
    rows = db.execute(select(User.id, User.email, User.org_id).where(User.id.in_(wanted))).all()
    orgs = queries.org_refs(db, (r.org_id for r in rows))
    return {
        r.id: r.email if r.org_id == principal.org_id else (orgs[r.org_id].short_name if r.org_id in orgs else "")
        for r in rows
    }
