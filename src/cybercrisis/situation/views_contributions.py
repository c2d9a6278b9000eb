"""National contribution pages: the list, the form, one contribution with its versions, changes and timeline.

Every write goes through `situation.contributions`, exactly as the API does: the same checks, audit and errors.
A refused form comes back with what was typed and the message next to the field, and nothing is written.
"""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis import taxonomies
from cybercrisis.access import sharing
from cybercrisis.access.permissions import Permission
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.config import Settings
from cybercrisis.db import utcnow
from cybercrisis.deps import DB
from cybercrisis.directory.countries import COUNTRIES, EU_MEMBER_STATES
from cybercrisis.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from cybercrisis.incidents.labels import pickers, sector_label
from cybercrisis.incidents.models import Incident
from cybercrisis.pagination import Page
from cybercrisis.schemas import held_at
from cybercrisis.situation import contributions
from cybercrisis.situation.actions import allowed_actions
from cybercrisis.situation.deps import CurrentContribution
from cybercrisis.situation.forms import (
    FIELD_ALIASES,
    ContributionForm,
    EditForm,
    form_values,
    parse_compare,
    status_class,
    to_contribution_in,
    to_patch,
)
from cybercrisis.situation.listing import ContributionFilters, contribution_countries, list_contributions
from cybercrisis.situation.models import Contribution, ContributionVersion
from cybercrisis.situation.schemas import FieldChange
from cybercrisis.web import queries
from cybercrisis.web.diffs import word_diff
from cybercrisis.web.forms import FORM_REFUSALS, FormState, local_minutes
from cybercrisis.web.pagedeps import CSRF, PagePrincipal, see_other
from cybercrisis.web.render import render
from cybercrisis.web.timeline import object_timeline

router = APIRouter(include_in_schema=False, dependencies=[CSRF])
PAGE_SIZE = 50
Filter = Annotated[str, Query(max_length=200)]
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


def _settings(request: Request) -> Settings:
    s: Settings = request.app.state.settings
    return s


# --- what the forms offer ------------------------------------------------------------------------------------


def _communities(db: Session, principal: Principal) -> list[tuple[str, str]]:
    names = queries.community_names(db)
    wanted = set(principal.communities) | set(EU_COMMUNITIES)
    return sorted(((slug, names[slug]) for slug in wanted if slug in names), key=lambda pair: pair[1])


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
    error, code = None, 200
    page: Page[Contribution] = Page(items=[], next=None)
    try:
        wanted = ContributionFilters(country=chosen["country"] or None, state=chosen["state"] or None)
        page = list_contributions(db, principal=principal, filters=wanted, cursor=cursor or None, limit=PAGE_SIZE)
    except InvalidInput as exc:
        # A hand-edited URL: the page with the message rather than an error page.
        error, code = exc.detail, 422
    rows = page.items
    present = contribution_countries(db, principal=principal)
    filters = {k: v for k, v in chosen.items() if v}
    scale = contributions.scale_of(_settings(request))
    return render(
        request,
        "contributions.html",
        {
            "rows": rows,
            "owners": queries.org_refs(db, (c.owner_org_id for c in rows)),
            "chosen": chosen,
            "filtered": bool(filters),
            "error": error,
            "countries": sorted(((c, COUNTRIES.get(c, c)) for c in present), key=lambda pair: pair[1]),
            "states": [("submitted", "Submitted"), ("draft", "Draft")],
            "status_class": lambda v: status_class(v, scale),
            "can_write": principal.has(Permission.CONTRIBUTION_WRITE),
            "next_url": f"/contributions?{urlencode({**filters, 'cursor': page.next})}" if page.next else None,
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
    principal.require(Permission.CONTRIBUTION_WRITE)
    values = form_values(data)
    try:
        c = contributions.create(db, actor=principal, data=to_contribution_in(data), settings=_settings(request))
    except FORM_REFUSALS as exc:
        db.rollback()
        # Without a field: refused for the country (PermissionDenied) or for the period (Conflict).
        fallback = "country" if isinstance(exc, PermissionDenied) else "period_start"
        form = FormState.failed(exc, values, aliases=FIELD_ALIASES, fallback=fallback)
        return _new_form(request, db, principal, form, status=exc.status)
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


def change_rows(changes: list[FieldChange], labels: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "field": labels.get(ch.field, ch.field.replace("_", " ").capitalize()),
            "before": _shown(ch.field, ch.before),
            "after": _shown(ch.field, ch.after),
            "words": word_diff(_shown(ch.field, ch.before), _shown(ch.field, ch.after)) if ch.diff else None,
        }
        for ch in changes
    ]


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


def _version_row(v: ContributionVersion, people: dict[str, str], prev: int | None) -> dict[str, Any]:
    """One version; `prev` is the version before it that is held (a replica holds the submitted ones only)."""
    by = people.get(v.created_by_id or "")
    return {"n": v.version, "prev": prev, "at": v.created_at, "by": by, "state": v.content.get("state")}


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
    is_author = "edit" in allowed_actions(principal, c)
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
    held = held_at(db, c)
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
            "held": held,
            "held_org": queries.held_by(db, held),
            "tlp": TLP(c.tlp),
            "owner": owner,
            "author": people.get(c.created_by_id or ""),
            "recipients": queries.recipients(db, sharing.shares_of(db, c.id)),
            "sector_rows": [(sector_label(s["sector"]), s["impact"]) for s in c.sectors],
            "linked": _linked(db, principal, c.incident_ids),
            "versions": [
                _version_row(v, people, versions[n - 1].version if n else None)
                for n, v in reversed(list(enumerate(versions)))
            ],
            "latest": versions[-1].version if versions else c.version,
            "comparison": comparison,
            "is_author": is_author,
            "closed": closed,
            "edit_form": edit_form or FormState(values=_edit_values(c)),
            "action_error": action_error,
            **choices(request, db, principal),
            # The country and the period are at the top of the page.
            **object_timeline(db, principal, c.id, labels=EVENT_LABELS, omit=lambda k, _: k in ("country", "period")),
        },
        status=code,
    )


@router.get("/contributions/{contribution_id}", response_class=HTMLResponse)
def contribution_page(
    *,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    c: CurrentContribution,
    compare: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    return render_contribution(request, db, principal, c, compare=compare)


@router.post("/contributions/{contribution_id}/edit")
def edit_contribution(
    *, contribution_id: str, request: Request, db: DB, principal: PagePrincipal, data: Annotated[EditForm, Form()]
) -> Response:
    values = {**form_values(data), "version": data.version}
    try:
        contributions.update(
            db, actor=principal, contribution_id=contribution_id, patch=to_patch(data), settings=_settings(request)
        )
    except FORM_REFUSALS as exc:
        db.rollback()
        c = contributions.get(db, principal, contribution_id)
        form = FormState.failed(exc, values, aliases=FIELD_ALIASES)
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
    *, contribution_id: str, request: Request, db: DB, principal: PagePrincipal, version: Annotated[int, Form(ge=0)] = 0
) -> Response:
    try:
        contributions.submit(
            db, actor=principal, contribution_id=contribution_id, version=version, settings=_settings(request)
        )
    except FORM_REFUSALS as exc:
        db.rollback()
        c = contributions.get(db, principal, contribution_id)
        error = ("This contribution could not be submitted", exc.detail)
        return render_contribution(request, db, principal, c, action_error=error, code=exc.status)
    return see_other(f"/contributions/{contribution_id}")
