"""National contribution pages: the list, the form, one contribution with its versions, changes and timeline.

Every write goes through `situation.contributions`, exactly as the API does: the same checks, audit and errors.
A refused form comes back with what was typed and the message next to the field, and nothing is written.
"""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from cybercrisis import taxonomies
from cybercrisis.access import sharing
from cybercrisis.access.permissions import Permission
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.schemas import ShareWith
from cybercrisis.access.tlp import TLP
from cybercrisis.audit import service as audit
from cybercrisis.config import Settings
from cybercrisis.db import utcnow
from cybercrisis.deps import DB
from cybercrisis.directory.countries import COUNTRIES, EU_MEMBER_STATES, normalise_country
from cybercrisis.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied
from cybercrisis.incidents.models import Incident
from cybercrisis.pagination import cursor_time, decode_cursor, encode_cursor
from cybercrisis.situation import contributions
from cybercrisis.situation.models import Contribution, ContributionState, ContributionVersion
from cybercrisis.situation.schemas import ContributionIn, ContributionPatch, FieldChange, SectorImpact
from cybercrisis.web import queries
from cybercrisis.web.forms import FormState, bad, validated
from cybercrisis.web.incident_form import local_minutes, required_utc
from cybercrisis.web.incident_labels import pickers, sector_label
from cybercrisis.web.pagedeps import PagePrincipal, check_csrf, see_other
from cybercrisis.web.render import render

router = APIRouter()
PAGE_SIZE = 50
Filter = Annotated[str, Query(max_length=200)]
Csrf = Annotated[str, Form(max_length=100)]
# The communities the EU picture is drafted in, offered on every contribution besides the organisation's own.
EU_COMMUNITIES = ("csirts-network", "eu-cyclone")
SCALE_NOTE = "This scale is the deployment's own; the EU publishes no official alert scale."
FIELD_LABELS = {
    "state": "State",
    "status": "Status",
    "outlook": "Outlook",
    "sectors": "Impact per sector",
    "services_disrupted": "Services disrupted",
    "entities_affected": "Entities affected",
    "incident_ids": "Linked incidents",
    "measures": "Measures taken",
    "needs": "Needs",
    "assistance_requested": "Assistance requested",
    "narrative": "Narrative",
    "tlp": "Marking",
}
EVENT_LABELS = {
    "situation:contribution:create": "Created",
    "situation:contribution:update": "Changed",
    "situation:contribution:submit": "Submitted",
}
_COMPARE = re.compile(r"^\s*(\d{1,6})\s*\.\.\s*(\d{1,6})\s*$")
_INCIDENT_ID = re.compile(r"incident--[0-9a-fA-F-]{36}")


# --- what the browser posts -------------------------------------------------------------------------------------


class ContentForm(BaseModel):
    """The fields a contribution's author may change; also the second half of the new-contribution form.

    Each sector's impact arrives as "sector:impact" ("sector:" when not affected), so one list carries them all.
    """

    model_config = ConfigDict(extra="ignore")

    csrf_token: str = Field(default="", max_length=100)
    status: str = Field(default="", max_length=64)
    sector_impacts: list[str] = Field(default_factory=list, max_length=60)
    services_disrupted: str = Field(default="", max_length=30_000)
    entities_affected: str = Field(default="", max_length=30)
    incidents: str = Field(default="", max_length=100_000)
    measures: str = Field(default="", max_length=20_000)
    needs: str = Field(default="", max_length=20_000)
    assistance_requested: str = Field(default="", max_length=8)
    outlook: str = Field(default="", max_length=64)
    narrative: str = Field(default="", max_length=50_000)


class ContributionForm(ContentForm):
    country: str = Field(default="", max_length=10)
    period_start: str = Field(default="", max_length=40)
    period_end: str = Field(default="", max_length=40)
    tlp: str = Field(default="", max_length=20)
    communities: list[str] = Field(default_factory=list, max_length=50)
    action: str = Field(default="submit", max_length=16)


class EditForm(ContentForm):
    version: int = Field(default=0, ge=0)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _impacts(values: list[str]) -> dict[str, str]:
    """sector -> impact, from the "sector:impact" values (not-affected sectors left out)."""
    out: dict[str, str] = {}
    for value in values:
        sector, _, impact = value.partition(":")
        if sector.strip() and impact.strip():
            out[sector.strip()] = impact.strip()
    return out


def _incident_ids(text: str) -> list[str]:
    """One per line; a pasted page address (…/incidents/incident--…) is fine too."""
    out = []
    for line in _lines(text):
        found = _INCIDENT_ID.search(line)
        out.append(found.group(0).lower() if found else line)
    return out


def _entities(text: str) -> int | None:
    value = text.strip().replace(" ", "").replace("_", "")
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        raise bad("entities_affected", f"'{text[:30]}' is not a whole number") from None
    if number < 0:
        raise bad("entities_affected", "the number of entities affected cannot be negative")
    return number


def _content(form: ContentForm) -> dict[str, Any]:
    return {
        "status": form.status,
        "sectors": [SectorImpact(sector=s, impact=i) for s, i in _impacts(form.sector_impacts).items()],
        "services_disrupted": _lines(form.services_disrupted),
        "entities_affected": _entities(form.entities_affected),
        "incidents": _incident_ids(form.incidents),
        "measures": form.measures.strip(),
        "needs": form.needs.strip(),
        "assistance_requested": form.assistance_requested == "yes",
        "outlook": form.outlook,
        "narrative": form.narrative.strip(),
    }


def to_contribution_in(form: ContributionForm) -> ContributionIn:
    data = _content(form)
    data.update(
        country=form.country,
        period_start=required_utc(form.period_start, field="period_start"),
        period_end=required_utc(form.period_end, field="period_end"),
        tlp=form.tlp or "green",
        share_with=ShareWith(communities=form.communities),
        draft=form.action == "draft",
    )
    return validated(ContributionIn, data)


def to_patch(form: EditForm) -> ContributionPatch:
    return validated(ContributionPatch, {"version": form.version, **_content(form)})


# Service field names -> form field names, for showing each error next to its control.
_FIELD_ALIASES = {"organisations": "communities", "users": "communities", "share_with": "communities", "form": ""}


def failed(exc: DomainError, values: dict[str, Any], *, fallback: str = "") -> FormState:
    form = FormState.failed(exc, values)
    errors: dict[str, str] = {}
    for name, message in form.errors.items():
        key = name.split("[", 1)[0].split(".", 1)[0]
        key = _FIELD_ALIASES.get(key, key)
        if key:
            errors.setdefault(key, message)
    if not errors and fallback:
        errors[fallback] = exc.detail
    form.errors = errors
    return form


def form_values(form: ContentForm) -> dict[str, Any]:
    """What the user typed, to show back: impacts as a sector -> impact map."""
    values = form.model_dump(exclude={"csrf_token", "sector_impacts"})
    values["impacts"] = _impacts(form.sector_impacts)
    return values


# --- what the forms offer ------------------------------------------------------------------------------------


def _settings(request: Request) -> Settings:
    s: Settings = request.app.state.settings
    return s


def _communities(db: Session, principal: Principal) -> list[tuple[str, str]]:
    names = queries.community_names(db)
    wanted = set(principal.communities) | set(EU_COMMUNITIES)
    return sorted(((slug, names[slug]) for slug in wanted if slug in names), key=lambda pair: pair[1])


def status_class(value: str | None, scale: list[str]) -> str:
    """A CSS class from least (sev-0) to most severe (sev-4), whatever the length of the deployment's scale."""
    if value not in scale:
        return "sev-none"
    if len(scale) == 1:
        return "sev-4"
    return f"sev-{scale.index(value) * 4 // (len(scale) - 1)}"


def choices(request: Request, db: Session, principal: Principal) -> dict[str, Any]:
    scale = contributions.scale_of(_settings(request))
    org = queries.org_refs(db, [principal.org_id or ""]).get(principal.org_id or "")
    codes = list(EU_MEMBER_STATES)
    if org is not None and org.country and org.country not in codes:
        codes.append(org.country)
    return {
        "countries": sorted(((c, COUNTRIES.get(c, c)) for c in codes), key=lambda pair: pair[1]),
        "scale": scale,
        "scale_note": SCALE_NOTE,
        "status_class": lambda v: status_class(v, scale),
        "sectors": [(s, sector_label(s)) for s in taxonomies.nis2_sectors()],
        # least to most severe, as the select lists them after "not affected"
        "impacts": [(c.value, c.label, c.description) for c in reversed(pickers()["impact_severity"])],
        "outlooks": [(c.value, c.label) for c in pickers()["outlook"]],
        "communities": _communities(db, principal),
        "org": org,
    }


def new_defaults(db: Session, principal: Principal) -> dict[str, Any]:
    """My organisation's country, today (UTC) as the period, TLP:GREEN, shared with the EU communities offered."""
    org = queries.org_refs(db, [principal.org_id or ""]).get(principal.org_id or "")
    today = utcnow().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "country": org.country if org and org.country else "",
        "period_start": local_minutes(today),
        "period_end": local_minutes(today + timedelta(days=1)),
        "tlp": TLP.GREEN.value,
        "outlook": "stable",
        "impacts": {},
        "communities": [slug for slug, _ in _communities(db, principal)],
    }


# --- the list -------------------------------------------------------------------------------------------------


@router.get("/contributions", response_class=HTMLResponse)
def contribution_list(
    *,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    country: Filter = "",
    state: Filter = "",
    cursor: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    chosen = {"country": country.strip().upper(), "state": state.strip()}
    query = select(Contribution).where(read_filter(principal, Contribution))
    error, code, rows = None, 200, []
    try:
        if chosen["country"]:
            query = query.where(Contribution.country == normalise_country(chosen["country"], field="country"))
        if chosen["state"]:
            if chosen["state"] not in {s.value for s in ContributionState}:
                raise bad("state", f"'{chosen['state'][:20]}' is not a state; choose draft or submitted")
            query = query.where(Contribution.state == chosen["state"])
        after = decode_cursor(cursor or None, 2)
        if after:
            query = query.where(
                tuple_(Contribution.period_end, Contribution.id) < tuple_(cursor_time(after[0]), after[1])
            )
        rows = list(
            db.scalars(query.order_by(Contribution.period_end.desc(), Contribution.id.desc()).limit(PAGE_SIZE + 1))
        )
    except InvalidInput as exc:
        # A hand-edited URL: the page with the message rather than an error page.
        error, code = exc.detail, 422
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    present = db.scalars(select(Contribution.country).where(read_filter(principal, Contribution)).distinct())
    filters = {k: v for k, v in chosen.items() if v}
    scale = contributions.scale_of(_settings(request))
    nxt = encode_cursor([rows[-1].period_end.isoformat(), rows[-1].id]) if more else None
    return render(
        request,
        "contributions.html",
        {
            "rows": rows,
            "owners": queries.org_refs(db, (c.owner_org_id for c in rows)),
            "chosen": chosen,
            "filtered": bool(filters),
            "error": error,
            "countries": sorted(((c, COUNTRIES.get(c, c)) for c in present if c), key=lambda pair: pair[1]),
            "states": [("submitted", "Submitted"), ("draft", "Draft")],
            "status_class": lambda v: status_class(v, scale),
            "can_write": principal.has(Permission.CONTRIBUTION_WRITE),
            "next_url": f"/contributions?{urlencode({**filters, 'cursor': nxt})}" if nxt else None,
            "first_url": f"/contributions?{urlencode(filters)}" if cursor else None,
        },
        status=code,
    )


# --- the new-contribution form ---------------------------------------------------------------------------------


def _new_form(request: Request, db: Session, principal: Principal, form: FormState, status: int = 200) -> Response:
    return render(request, "contribution_form.html", {"form": form, **choices(request, db, principal)}, status=status)


@router.get("/contributions/new", response_class=HTMLResponse)
def new_contribution_form(*, request: Request, db: DB, principal: PagePrincipal) -> Response:
    principal.require(Permission.CONTRIBUTION_WRITE)
    return _new_form(request, db, principal, FormState(values=new_defaults(db, principal)))


@router.post("/contributions/new")
def create_contribution(
    *, request: Request, db: DB, principal: PagePrincipal, data: Annotated[ContributionForm, Form()]
) -> Response:
    check_csrf(request, db, data.csrf_token)
    principal.require(Permission.CONTRIBUTION_WRITE)
    values = form_values(data)
    try:
        c = contributions.create(db, actor=principal, data=to_contribution_in(data), settings=_settings(request))
    except (InvalidInput, Conflict, PermissionDenied) as exc:
        db.rollback()
        # Without a field: refused for the country (PermissionDenied) or for the period (Conflict).
        fallback = "country" if isinstance(exc, PermissionDenied) else "period_start"
        return _new_form(request, db, principal, failed(exc, values, fallback=fallback), status=exc.status)
    return see_other(f"/contributions/{c.id}")


# --- one contribution -----------------------------------------------------------------------------------------


def _shown(key: str, value: Any) -> str:
    """A versioned value in words, for the list of changes."""
    if value is None or value in ("", []):
        return "—"
    if key == "sectors" and isinstance(value, list):
        return ", ".join(f"{sector_label(s.get('sector', ''))}: {s.get('impact', '')}" for s in value)
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if key == "tlp" and isinstance(value, str):
        return TLP(value).label
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def diff_line_class(line: str) -> str:
    if line.startswith(("+++", "---")):
        return "diff-file"
    if line.startswith("@@"):
        return "diff-hunk"
    if line.startswith("+"):
        return "diff-add"
    if line.startswith("-"):
        return "diff-del"
    return "diff-same"


def change_rows(changes: list[FieldChange], labels: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "field": labels.get(ch.field, ch.field.replace("_", " ").capitalize()),
            "before": _shown(ch.field, ch.before),
            "after": _shown(ch.field, ch.after),
            "diff": [(diff_line_class(line), line) for line in ch.diff] if ch.diff else None,
        }
        for ch in changes
    ]


def parse_compare(value: str) -> tuple[int, int]:
    found = _COMPARE.match(value)
    if not found:
        raise bad("compare", f"'{value[:20]}' is not two versions; use the form 1..2")
    return int(found.group(1)), int(found.group(2))


def _linked(db: Session, principal: Principal, ids: list[str]) -> list[dict[str, Any]]:
    """The linked incidents; those the reader may not open are listed by id only."""
    seen = {}
    if ids:
        rows = db.execute(
            select(Incident.id, Incident.title, Incident.tlp).where(
                Incident.id.in_(ids), read_filter(principal, Incident)
            )
        ).all()
        seen = {r.id: r for r in rows}
    return [
        {"id": i, "title": seen[i].title if i in seen else None, "tlp": seen[i].tlp if i in seen else None} for i in ids
    ]


def _timeline(db: Session, principal: Principal, c: Contribution) -> dict[str, Any]:
    events = audit.timeline(db, reader=principal, object_id=c.id)
    orgs = queries.org_refs(db, (e.actor_org_id or "" for e in events))
    # Other organisations' staff are named by organisation only, as on the other pages.
    emails = queries.user_emails(db, (e.actor_user_id or "" for e in events if e.actor_org_id == principal.org_id))
    entries: list[dict[str, Any]] = [
        {
            "at": e.occurred_at,
            "what": EVENT_LABELS.get(e.tag, e.tag),
            "org": orgs.get(e.actor_org_id or ""),
            "user": emails.get(e.actor_user_id or ""),
            # The country and the period are at the top of the page.
            "summary": {k: v for k, v in e.summary.items() if k not in ("country", "period")},
        }
        for e in events
    ]
    return {"timeline": entries, "timeline_names": queries.org_names_in(db, (e["summary"] for e in entries))}


def _edit_values(c: Contribution) -> dict[str, Any]:
    return {
        "version": c.version,
        "status": c.status,
        "outlook": c.outlook,
        "impacts": {s["sector"]: s["impact"] for s in c.sectors},
        "services_disrupted": "\n".join(c.services_disrupted),
        "entities_affected": "" if c.entities_affected is None else str(c.entities_affected),
        "incidents": "\n".join(c.incident_ids),
        "measures": c.measures,
        "needs": c.needs,
        "assistance_requested": "yes" if c.assistance_requested else "",
        "narrative": c.narrative,
    }


def _version_row(v: ContributionVersion, people: dict[str, str]) -> dict[str, Any]:
    by = people.get(v.created_by_id or "")
    return {"n": v.version, "at": v.created_at, "by": by, "state": v.content.get("state")}


def render_contribution(
    request: Request,
    db: Session,
    principal: Principal,
    c: Contribution,
    *,
    compare: str = "",
    edit_form: FormState | None = None,
    action_error: tuple[str, str] | None = None,
    code: int = 200,
) -> Response:
    is_author = principal.org_id == c.owner_org_id and principal.has(Permission.CONTRIBUTION_WRITE)
    versions = contributions.versions(db, c.id)
    people = (
        queries.user_emails(db, [v.created_by_id or "" for v in versions] + [c.created_by_id or ""])
        if principal.org_id == c.owner_org_id
        else {}
    )
    comparison: dict[str, Any] | None = None
    if compare:
        try:
            a, b = parse_compare(compare)
            comparison = {"a": a, "b": b, "rows": change_rows(contributions.diff(db, c.id, a, b), FIELD_LABELS)}
        except (InvalidInput, NotFound) as exc:
            comparison, code = {"error": exc.detail}, exc.status
    owner = queries.org_refs(db, [c.owner_org_id]).get(c.owner_org_id)
    closed = None
    if is_author:
        try:  # a read-only check: is the period still open to changes?
            contributions.check_period(db, c.period_start, c.period_end, _settings(request))
        except (Conflict, InvalidInput) as exc:
            closed = exc.detail
    return render(
        request,
        "contribution.html",
        {
            "c": c,
            "tlp": TLP(c.tlp),
            "owner": owner,
            "author": people.get(c.created_by_id or ""),
            "recipients": queries.recipients(db, sharing.shares_of(db, c.id)),
            "sector_rows": [(sector_label(s["sector"]), s["impact"]) for s in c.sectors],
            "linked": _linked(db, principal, c.incident_ids),
            "versions": [_version_row(v, people) for v in reversed(versions)],
            "latest": versions[-1].version if versions else c.version,
            "comparison": comparison,
            "is_author": is_author,
            "closed": closed,
            "edit_form": edit_form or FormState(values=_edit_values(c)),
            "action_error": action_error,
            **choices(request, db, principal),
            **_timeline(db, principal, c),
        },
        status=code,
    )


@router.get("/contributions/{contribution_id}", response_class=HTMLResponse)
def contribution_page(
    *,
    contribution_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    compare: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    c = contributions.get(db, principal, contribution_id)
    return render_contribution(request, db, principal, c, compare=compare)


@router.post("/contributions/{contribution_id}/edit")
def edit_contribution(
    *, contribution_id: str, request: Request, db: DB, principal: PagePrincipal, data: Annotated[EditForm, Form()]
) -> Response:
    check_csrf(request, db, data.csrf_token)
    values = {**form_values(data), "version": data.version}
    try:
        contributions.update(
            db, actor=principal, contribution_id=contribution_id, patch=to_patch(data), settings=_settings(request)
        )
    except (InvalidInput, Conflict, PermissionDenied) as exc:
        db.rollback()
        c = contributions.get(db, principal, contribution_id)
        form = failed(exc, values)
        if isinstance(exc, Conflict) and c.version != data.version:
            form.message = (
                f"This contribution was changed by someone else since you opened it (you edited version "
                f"{data.version}; it is now at version {c.version}). Nothing was saved: reload the page to see "
                "their change, then apply yours again."
            )
        # Someone without the edit form (another organisation) gets the message at the top of the page.
        error = None if c.owner_org_id == principal.org_id else ("This contribution could not be changed", exc.detail)
        return render_contribution(request, db, principal, c, edit_form=form, action_error=error, code=exc.status)
    return see_other(f"/contributions/{contribution_id}#versions")


@router.post("/contributions/{contribution_id}/submit")
def submit_contribution(
    *,
    contribution_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Csrf = "",
    version: Annotated[int, Form(ge=0)] = 0,
) -> Response:
    check_csrf(request, db, csrf_token)
    try:
        contributions.submit(
            db, actor=principal, contribution_id=contribution_id, version=version, settings=_settings(request)
        )
    except (InvalidInput, Conflict, PermissionDenied) as exc:
        db.rollback()
        c = contributions.get(db, principal, contribution_id)
        error = ("This contribution could not be submitted", exc.detail)
        return render_contribution(request, db, principal, c, action_error=error, code=exc.status)
    return see_other(f"/contributions/{contribution_id}")
