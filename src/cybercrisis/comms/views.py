"""Coordinated public communication pages: the list and drafting a statement (one statement is in
`views_communication.py`, the public page in `views_public.py`).

A statement (or lines to take) is co-edited by its owner and approver organisations, approved per version by every
organisation on its approvers list, and released once (by its owner, or by the job at its embargo time) to the
public page and feed as a TLP:CLEAR copy (ADR 0007). Every read goes through the access layer; every write goes
through the comms services, exactly as the API does: the same checks, audit, notifications and errors. A refused
form comes back with what was typed and the message next to the field, and nothing is written.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from cybercrisis.access.permissions import Permission
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.comms import reading, service
from cybercrisis.comms.choices import crisis_choices, crisis_titles, new_choices
from cybercrisis.comms.forms import EMPTY_BLOCK, MORE_LANGUAGES, NewForm, failed, text_values, to_communication_in
from cybercrisis.comms.labels import KIND_LABELS, STATE_LABELS
from cybercrisis.comms.listing import CommunicationFilters, list_communications
from cybercrisis.comms.models import CommKind, Communication
from cybercrisis.deps import DB
from cybercrisis.errors import InvalidInput
from cybercrisis.pagination import Page
from cybercrisis.web import queries
from cybercrisis.web.forms import FORM_REFUSALS, FormState, bad
from cybercrisis.web.pagedeps import CSRF, PagePrincipal, see_other
from cybercrisis.web.render import render

router = APIRouter(include_in_schema=False, dependencies=[CSRF])
PAGE_SIZE = 50
Filter = Annotated[str, Query(max_length=200)]


# --- the list ---------------------------------------------------------------------------------------------------


@router.get("/communications", response_class=HTMLResponse)
def communication_list(
    *,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    state: Filter = "",
    crisis: Filter = "",
    cursor: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    chosen = {"state": state.strip(), "crisis": crisis.strip()}
    error, code = None, 200
    page: Page[Communication] = Page(items=[], next=None)
    try:
        if chosen["crisis"] and not crisis_titles(db, principal, [chosen["crisis"]]):
            raise bad("crisis", "no crisis you may see has this id")
        wanted = CommunicationFilters(crisis=chosen["crisis"] or None, state=chosen["state"] or None, order="modified")
        page = list_communications(db, principal=principal, filters=wanted, cursor=cursor or None, limit=PAGE_SIZE)
    except InvalidInput as exc:
        # A hand-edited address: the page with the message rather than an error page.
        error, code = exc.detail, 422
    rows, nxt = page.items, page.next
    waiting_ids = reading.waiting_for_many(db, rows)
    names = reading.org_names(db, [o for ws in waiting_ids.values() for o in ws])
    waiting = {cid: [names.get(o, o) for o in ws] for cid, ws in waiting_ids.items()}
    filters = {k: v for k, v in chosen.items() if v}
    return render(
        request,
        "communications.html",
        {
            "rows": rows,
            "waiting": waiting,
            "owners": queries.org_refs(db, (c.owner_org_id for c in rows)),
            "crises": crisis_titles(db, principal, (c.crisis_id for c in rows)),
            "chosen": chosen,
            "filtered": bool(filters),
            "error": error,
            "states": list(STATE_LABELS.items()),
            "crisis_choices": crisis_choices(db, principal, chosen["crisis"]),
            "kind_labels": KIND_LABELS,
            "state_labels": STATE_LABELS,
            "can_write": principal.has(Permission.COMMUNICATION_WRITE),
            "next_url": f"/communications?{urlencode({**filters, 'cursor': nxt})}" if nxt else None,
            "first_url": f"/communications?{urlencode(filters)}" if cursor else None,
        },
        status=code,
    )


# --- drafting ---------------------------------------------------------------------------------------------------


def _new_form(request: Request, db: Session, principal: Principal, form: FormState, status: int = 200) -> Response:
    context = {"form": form, **new_choices(db, principal, form.values)}
    return render(request, "communication_new.html", context, status=status)


@router.get("/communications/new", response_class=HTMLResponse)
def new_communication_form(
    *, request: Request, db: DB, principal: PagePrincipal, crisis: Annotated[str, Query(max_length=120)] = ""
) -> Response:
    principal.require(Permission.COMMUNICATION_WRITE)
    # ?crisis=<id> (from a crisis room) chooses the crisis when the reader may see it; an unknown one is ignored.
    chosen = crisis.strip() if crisis_titles(db, principal, [crisis.strip()]) else ""
    values = {
        "crisis": chosen,
        "kind": CommKind.STATEMENT.value,
        "language": "en",
        "approvers": [],
        "tlp": TLP.AMBER.value,
        "embargo_until": "",
        "translations": [dict(EMPTY_BLOCK)],
    }
    return _new_form(request, db, principal, FormState(values=values))


@router.post("/communications/new")
def create_communication(
    *, request: Request, db: DB, principal: PagePrincipal, data: Annotated[NewForm, Form()]
) -> Response:
    principal.require(Permission.COMMUNICATION_WRITE)
    more = data.action == MORE_LANGUAGES
    values = {
        **text_values(data, more=more),
        "crisis": data.crisis,
        "kind": data.kind,
        "language": data.language,
        "approvers": data.approvers,
        "tlp": data.tlp,
    }
    if more:  # another empty translation block; nothing is saved
        return _new_form(request, db, principal, FormState(values=values))
    try:
        c = service.create(db, actor=principal, data=to_communication_in(data))
    except FORM_REFUSALS as exc:
        db.rollback()
        return _new_form(request, db, principal, failed(exc, values), status=exc.status)
    return see_other(f"/communications/{c.id}?done=created")
