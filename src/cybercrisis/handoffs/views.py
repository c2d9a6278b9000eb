"""Law-enforcement hand-off pages: the list and handing an incident or crisis over (one hand-off, with its evidence
files, its chain of custody and the forms that act on it, is in `views_handoff.py`; ADR 0007).

Every write goes through the hand-off services (`service`, `custody`), exactly as the API does: the same checks,
audit, notifications and errors. A refused form comes back with what was typed and the message next to the field,
and nothing is written; a successful one redirects to the hand-off with a short note of what happened.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cybercrisis.access import sharing
from cybercrisis.access.permissions import Permission
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.crises.models import Crisis, CrisisIncident
from cybercrisis.deps import DB
from cybercrisis.directory.exchange import org_id_for_key
from cybercrisis.directory.models import Organisation, OrgType
from cybercrisis.errors import Conflict, InvalidInput
from cybercrisis.handoffs import checks, service
from cybercrisis.handoffs.forms import OBSERVABLE_CHOICES, HandoffForm, to_handoff_in
from cybercrisis.handoffs.labels import MARKINGS, STATE_LABELS
from cybercrisis.handoffs.models import EvidenceFile, Handoff, HandoffState
from cybercrisis.handoffs.schemas import HandoffIn
from cybercrisis.incidents.models import Incident, Observable, Sighting
from cybercrisis.web import queries
from cybercrisis.web.forms import FORM_REFUSALS, FormState
from cybercrisis.web.pagedeps import CSRF, PagePrincipal, see_other
from cybercrisis.web.render import render

router = APIRouter(include_in_schema=False, dependencies=[CSRF])
PAGE_SIZE = 50


# --- what the forms offer ---------------------------------------------------------------------------------------


def named_units(db: Session, h: Handoff, holder: str | None) -> list[queries.OrgRef]:
    """Where the holder may transfer the package: the units its sender named (the holder widens nothing)."""
    named = {s.target for s in sharing.shares_of(db, h.id) if s.kind == "organisation"}
    return [o for o in law_enforcement(db, exclude={holder}) if o.id in named]


def law_enforcement(db: Session, *, exclude: set[str | None]) -> list[queries.OrgRef]:
    """Police cybercrime units of the directory and Europol EC3 (the directory is readable by every user)."""
    ec3 = org_id_for_key(checks.EC3_KEY)
    rows = db.scalars(
        select(Organisation)
        .where(or_(Organisation.type == OrgType.LAW_ENFORCEMENT.value, Organisation.id == ec3))
        .order_by(Organisation.short_name)
    )
    return [
        queries.OrgRef(o.id, o.short_name, o.name, o.country)
        for o in rows
        if checks.is_law_enforcement(o) and o.id not in exclude
    ]


def observable_choices(
    db: Session, principal: Principal, *, incident: Incident | None, crisis: Crisis | None
) -> tuple[list[dict[str, Any]], bool]:
    """The observables sighted in the incident (for a crisis: in its incidents that the reader may see), each with
    the least strict marking of the incidents it was sighted in; and whether there were more than are offered."""
    query = (
        select(Observable.type, Observable.value, Incident.tlp)
        .join(Sighting, Sighting.observable_id == Observable.id)
        .join(Incident, Incident.id == Sighting.incident_id)
    )
    if incident is not None:
        query = query.where(Sighting.incident_id == incident.id)
    elif crisis is not None:
        query = query.join(CrisisIncident, CrisisIncident.incident_id == Incident.id).where(
            CrisisIncident.crisis_id == crisis.id, read_filter(principal, Incident)
        )
    else:
        return [], False
    rows = db.execute(
        query.distinct().order_by(Observable.type, Observable.value, Incident.tlp).limit(OBSERVABLE_CHOICES * 5 + 1)
    ).all()
    least: dict[tuple[str, str], TLP] = {}
    for r in rows:
        key, marking = (r.type, r.value), TLP(r.tlp)
        if key not in least or marking.rank < least[key].rank:
            least[key] = marking
    keys = list(least)
    more = len(keys) > OBSERVABLE_CHOICES or len(rows) > OBSERVABLE_CHOICES * 5
    return [{"key": f"{t}:{v}", "label": f"{t}: {v}", "tlp": least[(t, v)]} for t, v in keys[:OBSERVABLE_CHOICES]], more


def _source(db: Session, principal: Principal, incident: str, crisis: str) -> tuple[Incident | None, Crisis | None]:
    """The service's own check of what is handed over: readable (else 404), exactly one, flagged (else 409)."""
    probe = HandoffIn.model_construct(incident=incident or None, crisis=crisis or None, recipient="", reason="")
    return checks.source(db, principal, probe)  # the same check, and the same words, as on creation


def _new_page(
    request: Request,
    db: Session,
    principal: Principal,
    *,
    incident: str,
    crisis: str,
    form: FormState | None = None,
    status: int = 200,
) -> Response:
    ctx: dict[str, Any] = {"incident_id": incident, "crisis_id": crisis, "blocked": None, "source": None}
    if not incident and not crisis:
        ctx["blocked"] = (
            "Hand over from an incident or a crisis flagged as suspected criminal: open it and follow "
            "its “Hand over to law enforcement” link."
        )
        return render(request, "handoff_new.html", ctx, status=status)
    try:
        inc, cri = _source(db, principal, incident, crisis)
    except (InvalidInput, Conflict) as exc:
        ctx["blocked"] = exc.detail
        return render(request, "handoff_new.html", ctx, status=status if status != 200 else exc.status)
    choices, more = observable_choices(db, principal, incident=inc, crisis=cri)
    source: dict[str, Any]
    if inc is not None:
        source = {
            "kind": "incident",
            "id": inc.id,
            "title": inc.title,
            "tlp": TLP(inc.tlp),
            "href": f"/incidents/{inc.id}",
        }
    else:
        assert cri is not None
        source = {"kind": "crisis", "id": cri.id, "title": cri.title, "tlp": TLP(cri.tlp), "href": f"/crises/{cri.id}"}
    ctx.update(
        source=source,
        form=form or FormState(values={"tlp": TLP.AMBER_STRICT.value, "observables": [], "recipient": ""}),
        recipients=law_enforcement(db, exclude={principal.org_id}),
        choices=choices,
        more=more,
        limit=OBSERVABLE_CHOICES,
        markings=MARKINGS,
    )
    return render(request, "handoff_new.html", ctx, status=status)


# --- the list ---------------------------------------------------------------------------------------------------


def titles(db: Session, principal: Principal, model: type[Incident] | type[Crisis], ids: set[str]) -> dict[str, str]:
    """Titles of the incidents or crises the reader may read; the others stay ids (the recipient may not read them)."""
    if not ids:
        return {}
    rows = db.execute(select(model.id, model.title).where(model.id.in_(sorted(ids)), read_filter(principal, model)))
    return {r.id: r.title for r in rows}


@router.get("/handoffs", response_class=HTMLResponse)
def handoff_list(
    *,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    state: Annotated[str, Query(max_length=20)] = "",
    cursor: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    error, code, rows, nxt = None, 200, [], None
    try:
        page = service.list_handoffs(
            db, principal=principal, state=state.strip() or None, cursor=cursor or None, limit=PAGE_SIZE
        )
        rows, nxt = page.items, page.next
    except InvalidInput as exc:  # a hand-edited address: the page with the message rather than an error page
        error, code = exc.detail, 422
    files: dict[str, int] = {}
    if rows:
        files = dict(
            db.execute(
                select(EvidenceFile.handoff_id, func.count())
                .where(EvidenceFile.handoff_id.in_([h.id for h in rows]))
                .group_by(EvidenceFile.handoff_id)
            ).all()
        )
    filters = {"state": state.strip()} if state.strip() else {}
    return render(
        request,
        "handoffs.html",
        {
            "rows": rows,
            "files": files,
            "orgs": queries.org_refs(db, [o for h in rows for o in (h.owner_org_id, h.recipient_org_id)]),
            "incidents": titles(db, principal, Incident, {h.incident_id for h in rows if h.incident_id}),
            "crises": titles(db, principal, Crisis, {h.crisis_id for h in rows if h.crisis_id}),
            "state": state.strip(),
            "states": [(s.value, STATE_LABELS[s.value]) for s in HandoffState],
            "state_labels": STATE_LABELS,
            "error": error,
            "next_url": f"/handoffs?{urlencode({**filters, 'cursor': nxt})}" if nxt else None,
            "first_url": f"/handoffs?{urlencode(filters)}" if cursor else None,
        },
        status=code,
    )


# --- handing over -----------------------------------------------------------------------------------------------


@router.get("/handoffs/new", response_class=HTMLResponse)
def new_handoff_form(
    *,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    incident: Annotated[str, Query(max_length=120)] = "",
    crisis: Annotated[str, Query(max_length=120)] = "",
) -> Response:
    principal.require(Permission.HANDOFF_WRITE)
    return _new_page(request, db, principal, incident=incident.strip(), crisis=crisis.strip())


@router.post("/handoffs/new")
def create_handoff(
    *, request: Request, db: DB, principal: PagePrincipal, data: Annotated[HandoffForm, Form()]
) -> Response:
    principal.require(Permission.HANDOFF_WRITE)
    values = data.entered()
    try:
        h = service.create(db, actor=principal, data=to_handoff_in(data))
    except FORM_REFUSALS as exc:
        db.rollback()
        return _new_page(
            request,
            db,
            principal,
            incident=data.incident.strip(),
            crisis=data.crisis.strip(),
            form=FormState.failed(exc, values),
            status=exc.status,
        )
    return see_other(f"/handoffs/{h.id}?done=created")
