"""The capability catalogue pages: what organisations can offer, published, changed and withdrawn by them."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from cybercrisis.access import sharing
from cybercrisis.access.permissions import Permission
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.assistance import catalogue
from cybercrisis.assistance.forms import (
    ALIASES,
    DONE_NOTES,
    NEEDS,
    ActiveForm,
    CapabilityEditForm,
    CapabilityForm,
    capability_fields,
    to_capability_in,
    words,
)
from cybercrisis.assistance.labels import timeline
from cybercrisis.assistance.models import Capability
from cybercrisis.assistance.schemas import CapabilityPatch
from cybercrisis.audit import service as audit
from cybercrisis.deps import DB
from cybercrisis.errors import Conflict, DomainError, InvalidInput, PermissionDenied
from cybercrisis.web import queries
from cybercrisis.web.forms import FORM_REFUSALS, FormState, bad, validated
from cybercrisis.web.pagedeps import CSRF, PagePrincipal, see_other
from cybercrisis.web.render import render

router = APIRouter(include_in_schema=False, dependencies=[CSRF])
PAGE_SIZE = 50
Filter = Annotated[str, Query(max_length=200)]


@router.get("/capabilities", response_class=HTMLResponse)
def capability_list(
    *,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    kind: Filter = "",
    status: Filter = "",
    mine: Filter = "",
    cursor: Annotated[str, Query(max_length=500)] = "",
    done: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    chosen = {"kind": kind.strip(), "status": status.strip(), "mine": "yes" if mine.strip() == "yes" else ""}
    error, code, rows, nxt = None, 200, [], None
    try:
        if chosen["status"] not in ("", "active", "inactive"):
            raise bad("status", f"'{chosen['status'][:20]}' is not a status; choose active or inactive")
        active = {"active": True, "inactive": False}.get(chosen["status"])
        page = catalogue.list_capabilities(
            db,
            reader=principal,
            kind=chosen["kind"] or None,
            active=active,
            owner=principal.org_id if chosen["mine"] else None,
            cursor=cursor or None,
            limit=PAGE_SIZE,
        )
        rows, nxt = page.items, page.next
    except InvalidInput as exc:
        error, code = exc.detail, 422
    filters = {k: v for k, v in chosen.items() if v}
    return render(
        request,
        "capabilities.html",
        {
            "rows": rows,
            "owners": queries.org_refs(db, (c.owner_org_id for c in rows)),
            "chosen": chosen,
            "filtered": bool(filters),
            "error": error,
            "kinds": [(v, label) for v, label, _ in NEEDS],
            "can_write": principal.has(Permission.CAPABILITY_WRITE) and principal.org_id is not None,
            "done_note": DONE_NOTES.get(done) if done == "deleted" else None,
            "next_url": f"/capabilities?{urlencode({**filters, 'cursor': nxt})}" if nxt else None,
            "first_url": f"/capabilities?{urlencode(filters)}" if cursor else None,
            **words(),
        },
        status=code,
    )


def _capability_form(request: Request, db: Session, form: FormState, status: int = 200) -> Response:
    return render(
        request,
        "capabilities_new.html",
        {
            "form": form,
            "needs": NEEDS,
            "communities": queries.community_names(db),
            "org_choices": queries.org_choices(db),
        },
        status=status,
    )


def _require_catalogue_writer(principal: Principal) -> None:
    principal.require(Permission.CAPABILITY_WRITE)
    if principal.org_id is None:
        raise PermissionDenied("a catalogue entry belongs to an organisation; you act for none")


@router.get("/capabilities/new", response_class=HTMLResponse)
def new_capability_form(*, request: Request, db: DB, principal: PagePrincipal) -> Response:
    _require_catalogue_writer(principal)
    values = {
        "kind": "",
        "notice_hours": "24",
        "people": "1",
        "tlp": TLP.GREEN.value,
        "communities": [],
        "organisations": [],
    }
    return _capability_form(request, db, FormState(values=values))


@router.post("/capabilities/new")
def create_capability(
    *, request: Request, db: DB, principal: PagePrincipal, data: Annotated[CapabilityForm, Form()]
) -> Response:
    _require_catalogue_writer(principal)
    values = data.entered()
    try:
        cap = catalogue.create_capability(db, actor=principal, data=to_capability_in(data))
    except FORM_REFUSALS as exc:
        db.rollback()
        return _capability_form(request, db, FormState.failed(exc, values, aliases=ALIASES), status=exc.status)
    return see_other(f"/capabilities/{cap.id}?done=published")


def _edit_values(c: Capability) -> dict[str, Any]:
    return {
        "version": c.version,
        "kind": c.kind,
        "title": c.title,
        "description": c.description,
        "notice_hours": str(c.notice_hours),
        "people": str(c.people),
    }


def render_capability(
    request: Request,
    db: Session,
    principal: Principal,
    capability_id: str,
    *,
    edit_form: FormState | None = None,
    action_error: str | None = None,
    done: str = "",
    code: int = 200,
) -> Response:
    c = catalogue.get_capability(db, principal, capability_id)
    is_owner = "capability.manage" in catalogue.capability_actions(principal, c)
    events = audit.timeline(db, reader=principal, object_id=c.id)
    return render(
        request,
        "capabilities_entry.html",
        {
            "c": c,
            "tlp": TLP(c.tlp),
            "owner": queries.org_refs(db, [c.owner_org_id]).get(c.owner_org_id),
            "recipients": queries.recipients(db, sharing.shares_of(db, c.id)),
            "is_owner": is_owner,
            "edit_form": edit_form or FormState(values=_edit_values(c)),
            "action_error": action_error,
            "needs": NEEDS,
            "done_note": DONE_NOTES.get(done),
            **words(),
            **timeline(db, principal, events, page_id=c.id, names={}),
        },
        status=code,
    )


@router.get("/capabilities/{capability_id}", response_class=HTMLResponse)
def capability_page(
    *,
    capability_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    done: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    return render_capability(request, db, principal, capability_id, done=done)


def _stale(exc: DomainError, c: Capability, version: int) -> str | None:
    if isinstance(exc, Conflict) and c.version != version:
        return (
            f"This entry was changed by someone else since you opened it (you edited version {version}; it is "
            f"now at version {c.version}). Nothing was saved: reload the page to see their change, then apply "
            "yours again."
        )
    return None


@router.post("/capabilities/{capability_id}/edit")
def edit_capability(
    *,
    capability_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    data: Annotated[CapabilityEditForm, Form()],
) -> Response:
    values = data.entered()
    try:
        patch = validated(CapabilityPatch, {"version": data.version, **capability_fields(data)}, depth=2)
        catalogue.update_capability(db, actor=principal, capability_id=capability_id, patch=patch)
    except FORM_REFUSALS as exc:
        db.rollback()
        c = catalogue.get_capability(db, principal, capability_id)
        form = FormState.failed(exc, values, aliases=ALIASES)
        form.message = _stale(exc, c, data.version) or form.message
        return render_capability(request, db, principal, capability_id, edit_form=form, code=exc.status)
    return see_other(f"/capabilities/{capability_id}?done=saved")


@router.post("/capabilities/{capability_id}/active")
def set_capability_active(
    *, capability_id: str, request: Request, db: DB, principal: PagePrincipal, data: Annotated[ActiveForm, Form()]
) -> Response:
    active = data.active == "yes"
    try:
        catalogue.update_capability(
            db, actor=principal, capability_id=capability_id, patch=CapabilityPatch(version=data.version, active=active)
        )
    except FORM_REFUSALS as exc:
        db.rollback()
        c = catalogue.get_capability(db, principal, capability_id)
        message = _stale(exc, c, data.version) or exc.detail
        return render_capability(request, db, principal, capability_id, action_error=message, code=exc.status)
    return see_other(f"/capabilities/{capability_id}?done={'activated' if active else 'deactivated'}")


@router.post("/capabilities/{capability_id}/delete")
def delete_capability(*, capability_id: str, request: Request, db: DB, principal: PagePrincipal) -> Response:
    try:
        catalogue.delete_capability(db, actor=principal, capability_id=capability_id)
    except FORM_REFUSALS as exc:
        db.rollback()
        return render_capability(request, db, principal, capability_id, action_error=exc.detail, code=exc.status)
    return see_other("/capabilities?done=deleted")
