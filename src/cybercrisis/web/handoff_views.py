"""Law-enforcement hand-off pages: the list, handing an incident or crisis over, and one hand-off with its evidence
files, its chain of custody and the forms that act on it (ADR 0007).

Every write goes through `handoffs.service`, exactly as the API does: the same checks, audit, notifications and
errors. A refused form comes back with what was typed and the message next to the field, and nothing is written; a
successful one redirects to the hand-off with a short note of what happened. Files, the manifest and the zip are
downloaded from the API's own addresses, which accept the session cookie for reading.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cybercrisis.access import sharing
from cybercrisis.access.permissions import Permission
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.audit import service as audit
from cybercrisis.config import Settings
from cybercrisis.crises.models import Crisis, CrisisIncident
from cybercrisis.deps import DB
from cybercrisis.directory.exchange import org_id_for_key
from cybercrisis.directory.models import Organisation, OrgType
from cybercrisis.errors import Conflict, DomainError, InvalidInput, PermissionDenied
from cybercrisis.handoffs import evidence, service
from cybercrisis.handoffs.models import CustodyEntry, EvidenceFile, Handoff, HandoffState
from cybercrisis.handoffs.schemas import HandoffIn, NoteIn, ReceiveIn, TransferIn
from cybercrisis.incidents.models import Incident, Observable, Sighting
from cybercrisis.middleware import BodySizeLimit
from cybercrisis.web import queries
from cybercrisis.web.forms import FormState, bad, require_filled, validated
from cybercrisis.web.incident_queries import people
from cybercrisis.web.pagedeps import PagePrincipal, check_csrf, see_other
from cybercrisis.web.render import render

router = APIRouter()
PAGE_SIZE = 50
OBSERVABLE_CHOICES = 1000  # what one hand-off may carry (HandoffIn)
Csrf = Annotated[str, Form(max_length=100)]
Note = Annotated[str, Form(max_length=20_000)]

STATE_LABELS = {
    HandoffState.HANDED_OVER.value: "Handed over: awaiting receipt",
    HandoffState.RECEIVED.value: "Received",
    HandoffState.CLOSED.value: "Closed",
}
ACTION_LABELS = {
    service.HANDED_OVER: "Handed over",
    service.RECEIVED: "Receipt acknowledged",
    service.TRANSFERRED: "Transferred",
    service.NOTE: "Note",
}
EVENT_LABELS = {
    service.TAG_CREATE: "Handed over",
    service.TAG_FILE: "Evidence file added",
    service.TAG_RECEIVE: "Receipt acknowledged",
    service.TAG_TRANSFER: "Transferred",
    service.TAG_NOTE: "Note added to the chain of custody",
}
# Shown after a successful form, from `?done=`: fixed texts, never anything taken from the address.
DONE_NOTES = {
    "created": "The evidence package was handed over and the recipient was told. Add files until it acknowledges "
    "receipt.",
    "file": "The file was stored under its SHA-256, and the chain of custody records it.",
    "received": "Receipt is acknowledged: the package is sealed, no more files can be added.",
    "transferred": "The package was transferred; the new holder was told and must acknowledge receipt.",
    "note": "The note is in the chain of custody.",
}
# What each form on the hand-off page is, for the message at the top of the page when it was refused.
FORM_TITLES = {
    "file": ("The file was not added", "file-form"),
    "receive": ("Receipt was not acknowledged", "receive-form"),
    "transfer": ("The package was not transferred", "transfer-form"),
    "note": ("The note was not added", "note-form"),
}
MARKINGS = [(t.value, t.label) for t in service.MARKINGS]
_Refusals = (InvalidInput, Conflict, PermissionDenied)


# --- what the browser posts -------------------------------------------------------------------------------------


class _Form(BaseModel):
    model_config = ConfigDict(extra="ignore")

    csrf_token: str = Field(default="", max_length=100)


class HandoffForm(_Form):
    """The hand-off form as posted; each ticked observable arrives as "type:value"."""

    incident: str = Field(default="", max_length=120)
    crisis: str = Field(default="", max_length=120)
    recipient: str = Field(default="", max_length=120)
    onward: list[str] = Field(default_factory=list, max_length=20)
    reason: str = Field(default="", max_length=20_000)
    observables: list[str] = Field(default_factory=list, max_length=OBSERVABLE_CHOICES)
    tlp: str = Field(default="", max_length=20)


def _settings(request: Request) -> Settings:
    s: Settings = request.app.state.settings
    return s


def failed(exc: DomainError, values: dict[str, Any]) -> FormState:
    """The form again with the service's complaints next to their fields (observables[3] -> observables)."""
    form = FormState.failed(exc, values)
    errors: dict[str, str] = {}
    for name, message in form.errors.items():
        errors.setdefault(name.split("[", 1)[0].split(".", 1)[0], message)
    form.errors = errors
    return form


def to_handoff_in(form: HandoffForm) -> HandoffIn:
    require_filled(
        recipient=(form.recipient, "choose the law-enforcement organisation to hand it to"),
        reason=(form.reason, "say why this is handed to law enforcement"),
    )
    chosen = []
    for item in form.observables:
        kind, sep, value = item.partition(":")
        if not sep or not kind.strip() or not value.strip():
            raise bad("observables", f"'{item[:60]}' is not an observable of the form type:value")
        chosen.append({"type": kind.strip(), "value": value.strip()})
    return validated(
        HandoffIn,
        {
            "incident": form.incident.strip() or None,
            "crisis": form.crisis.strip() or None,
            "recipient": form.recipient.strip(),
            "onward": [o.strip() for o in form.onward if o.strip()],
            "reason": form.reason.strip(),
            "observables": chosen,
            "tlp": form.tlp or TLP.AMBER_STRICT.value,
        },
    )


# --- what the forms offer ---------------------------------------------------------------------------------------


def _named_units(db: Session, h: Handoff, holder: str | None) -> list[queries.OrgRef]:
    """Where the holder may transfer the package: the units its sender named (the holder widens nothing)."""
    named = {s.target for s in sharing.shares_of(db, h.id) if s.kind == "organisation"}
    return [o for o in law_enforcement(db, exclude={holder}) if o.id in named]


def law_enforcement(db: Session, *, exclude: set[str | None]) -> list[queries.OrgRef]:
    """Police cybercrime units of the directory and Europol EC3 (the directory is readable by every user)."""
    ec3 = org_id_for_key(service.EC3_KEY)
    rows = db.scalars(
        select(Organisation)
        .where(or_(Organisation.type == OrgType.LAW_ENFORCEMENT.value, Organisation.id == ec3))
        .order_by(Organisation.short_name)
    )
    return [
        queries.OrgRef(o.id, o.short_name, o.name, o.country)
        for o in rows
        if service.is_law_enforcement(o) and o.id not in exclude
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
    return service._source(db, principal, probe)  # the same check, and the same words, as on creation


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


def _titles(db: Session, principal: Principal, model: type[Incident] | type[Crisis], ids: set[str]) -> dict[str, str]:
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
            "incidents": _titles(db, principal, Incident, {h.incident_id for h in rows if h.incident_id}),
            "crises": _titles(db, principal, Crisis, {h.crisis_id for h in rows if h.crisis_id}),
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
    check_csrf(request, db, data.csrf_token)
    principal.require(Permission.HANDOFF_WRITE)
    values = data.model_dump(exclude={"csrf_token"})
    try:
        h = service.create(db, actor=principal, data=to_handoff_in(data))
    except _Refusals as exc:
        db.rollback()
        return _new_page(
            request,
            db,
            principal,
            incident=data.incident.strip(),
            crisis=data.crisis.strip(),
            form=failed(exc, values),
            status=exc.status,
        )
    return see_other(f"/handoffs/{h.id}?done=created")


# --- one hand-off -----------------------------------------------------------------------------------------------


FORM_OVERHEAD = 4096  # the token, the digest and the multipart headers around the file


def upload_limit(request: Request, handoff_id: str) -> int:
    """The largest file this page's form can bring: the evidence limit, unless the server's body-size limit for the
    form's address is lower (it is raised for evidence uploads by address; see app.py)."""
    settings = _settings(request)
    path = f"/handoffs/{handoff_id}/files"
    for mw in request.app.user_middleware:
        if mw.cls is BodySizeLimit:
            body_max = int(mw.kwargs.get("max_bytes", settings.max_body_bytes))
            for pattern, limit in mw.kwargs.get("larger", ()):
                if pattern.match(path):
                    body_max = int(limit)
                    break
            return max(0, min(settings.evidence_max_bytes, body_max - FORM_OVERHEAD))
    return settings.evidence_max_bytes


def file_size(n: int) -> str:
    """Bytes in words: '3.0 KiB (3,072 bytes)'."""
    size, unit = float(n), "bytes"
    for next_unit in ("KiB", "MiB", "GiB", "TiB"):
        if size < 1024:
            break
        size, unit = size / 1024, next_unit
    return f"{n:,} bytes" if unit == "bytes" else f"{size:.1f} {unit} ({n:,} bytes)"


def _custody_rows(
    entries: list[CustodyEntry],
    orgs: dict[str, queries.OrgRef],
    persons: dict[str, Any],
    file_names: dict[str, str],
    principal: Principal,
) -> list[dict[str, Any]]:
    rows = []
    for e in entries:
        person = persons.get(e.by_user_id or "")
        rows.append(
            {
                "seq": e.seq,
                "at": e.at,
                "action": e.action,
                "label": ACTION_LABELS.get(e.action, e.action),
                "from": orgs.get(e.from_org_id or ""),
                "to": orgs.get(e.to_org_id or ""),
                # Other organisations' staff are named by organisation only, as on the other pages.
                "by": person.email if person and person.org_id == principal.org_id else None,
                "by_org": orgs.get(person.org_id) if person else None,
                "items": [{"value": i, "file": file_names.get(i)} for i in e.items],
                "note": e.note,
            }
        )
    return rows


def _source_ref(db: Session, principal: Principal, h: Handoff) -> dict[str, Any] | None:
    """The incident or crisis handed over; by id only when the reader may not read it."""
    if h.incident_id:
        title = _titles(db, principal, Incident, {h.incident_id}).get(h.incident_id)
        return {
            "kind": "Incident",
            "id": h.incident_id,
            "title": title,
            "href": f"/incidents/{h.incident_id}" if title else None,
        }
    if h.crisis_id:
        title = _titles(db, principal, Crisis, {h.crisis_id}).get(h.crisis_id)
        return {
            "kind": "Crisis",
            "id": h.crisis_id,
            "title": title,
            "href": f"/crises/{h.crisis_id}" if title else None,
        }
    return None


def _timeline(db: Session, principal: Principal, h: Handoff, source: dict[str, Any] | None) -> dict[str, Any]:
    events = audit.timeline(db, reader=principal, object_id=h.id)
    orgs = queries.org_refs(db, (e.actor_org_id or "" for e in events))
    emails = queries.user_emails(db, (e.actor_user_id or "" for e in events if e.actor_org_id == principal.org_id))
    entries: list[dict[str, Any]] = [
        {
            "at": e.occurred_at,
            "what": EVENT_LABELS.get(e.tag, e.tag),
            "org": orgs.get(e.actor_org_id or ""),
            "user": emails.get(e.actor_user_id or ""),
            "summary": {k: v for k, v in e.summary.items() if v is not None and v != h.id},
        }
        for e in events
    ]
    names = queries.org_names_in(db, (e["summary"] for e in entries))
    if source and source["title"]:
        names[source["id"]] = source["title"]
    names.update({t.value: t.label for t in TLP})
    return {"timeline": entries, "timeline_names": names}


def render_handoff(
    request: Request,
    db: Session,
    principal: Principal,
    h: Handoff,
    *,
    form: tuple[str, FormState] | None = None,
    done: str = "",
    code: int = 200,
) -> Response:
    """The hand-off page; `form` is a refused form (its name and state) to show again with its errors."""
    files = service.files_of(db, h.id)
    entries = service.custody_of(db, h.id)
    _giver, holder = service.holder_of(entries)
    holder = holder or h.recipient_org_id
    sealed = service.is_sealed(entries)
    persons = people(db, [e.by_user_id or "" for e in entries] + [f.added_by_id or "" for f in files])
    org_ids = (
        {h.owner_org_id, h.recipient_org_id, holder}
        | {e.from_org_id or "" for e in entries}
        | {e.to_org_id or "" for e in entries}
        | {p.org_id for p in persons.values()}
    )
    orgs = queries.org_refs(db, org_ids)
    writer = principal.has(Permission.HANDOFF_WRITE) and principal.org_id is not None
    is_holder = writer and principal.org_id == holder
    can_add_file = (
        writer and principal.org_id == h.owner_org_id and not sealed and h.state == HandoffState.HANDED_OVER.value
    )
    forms: dict[str, FormState] = {name: FormState(values={}) for name in FORM_TITLES}
    failure = None
    if form is not None:
        forms[form[0]] = form[1]
        title, anchor = FORM_TITLES[form[0]]
        failure = {"name": form[0], "title": title, "anchor": anchor, "message": form[1].message or ""}
    source = _source_ref(db, principal, h)
    limit = upload_limit(request, h.id)
    file_rows = [
        {
            "f": f,
            "size": file_size(f.size),
            "href": f"/api/v1/handoffs/{h.id}/files/{f.id}",
            "by": persons[f.added_by_id].email
            if f.added_by_id in persons and persons[f.added_by_id].org_id == principal.org_id
            else None,
        }
        for f in files
    ]
    return render(
        request,
        "handoff.html",
        {
            "h": h,
            "tlp": TLP(h.tlp),
            "source": source,
            "sender": orgs.get(h.owner_org_id),
            "recipient": orgs.get(h.recipient_org_id),
            "holder": orgs.get(holder),
            "sealed": sealed,
            "state_label": STATE_LABELS.get(h.state, h.state),
            "files": file_rows,
            "custody": _custody_rows(entries, orgs, persons, {f.sha256: f.name for f in files}, principal),
            "recipients": queries.recipients(db, sharing.shares_of(db, h.id)),
            "can_add_file": can_add_file,
            "can_receive": is_holder and h.state == HandoffState.HANDED_OVER.value,
            "can_transfer": is_holder and h.state == HandoffState.RECEIVED.value,
            "can_note": writer,
            "transfer_choices": _named_units(db, h, holder) if is_holder else [],
            "max_bytes": file_size(limit),
            "max_bytes_n": limit,
            "manifest_url": f"/api/v1/handoffs/{h.id}/package",
            "zip_url": f"/api/v1/handoffs/{h.id}/package.zip",
            "manifest_name": f"evidence-{h.id.split('--', 1)[-1]}.json",
            "forms": forms,
            "failure": failure,
            "failed_form": form[0] if form else None,
            "done_note": DONE_NOTES.get(done),
            **_timeline(db, principal, h, source),
        },
        status=code,
    )


@router.get("/handoffs/{handoff_id}", response_class=HTMLResponse)
def handoff_page(
    *,
    handoff_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    done: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    return render_handoff(request, db, principal, service.get(db, principal, handoff_id), done=done)


def _refused(
    request: Request,
    db: Session,
    principal: Principal,
    handoff_id: str,
    name: str,
    exc: DomainError,
    values: dict[str, Any],
) -> Response:
    """Nothing written: the page again, the form with what was typed and the message next to its field."""
    db.rollback()
    h = service.get(db, principal, handoff_id)
    return render_handoff(request, db, principal, h, form=(name, failed(exc, values)), code=exc.status)


def _back(handoff_id: str, done: str, anchor: str) -> Response:
    return see_other(f"/handoffs/{handoff_id}?done={done}#{anchor}")


@router.post("/handoffs/{handoff_id}/files")
def add_file(
    *,
    handoff_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Csrf = "",
    sha256: Annotated[str, Form(max_length=100)] = "",
    file: UploadFile | None = None,
) -> Response:
    check_csrf(request, db, csrf_token)
    values = {"sha256": sha256}
    try:
        if file is None or not file.filename:
            raise bad("file", "choose the file to add")
        service.add_file(
            db,
            actor=principal,
            handoff_id=handoff_id,
            src=file.file,
            filename=file.filename,
            media_type=file.content_type,
            expected_sha256=sha256 or None,
            settings=_settings(request),
        )
    except (*_Refusals, evidence.TooLarge) as exc:
        return _refused(request, db, principal, handoff_id, "file", exc, values)
    return _back(handoff_id, "file", "files")


@router.post("/handoffs/{handoff_id}/receive")
def receive(
    *, handoff_id: str, request: Request, db: DB, principal: PagePrincipal, csrf_token: Csrf = "", note: Note = ""
) -> Response:
    check_csrf(request, db, csrf_token)
    values = {"note": note}
    try:
        body = validated(ReceiveIn, {"note": note.strip()})
        service.receive(db, actor=principal, handoff_id=handoff_id, note=body.note)
    except _Refusals as exc:
        return _refused(request, db, principal, handoff_id, "receive", exc, values)
    return _back(handoff_id, "received", "custody")


@router.post("/handoffs/{handoff_id}/transfer")
def transfer(
    *,
    handoff_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Csrf = "",
    to: Annotated[str, Form(max_length=120)] = "",
    note: Note = "",
) -> Response:
    check_csrf(request, db, csrf_token)
    values = {"to": to, "note": note}
    try:
        require_filled(to=(to, "choose the law-enforcement organisation to transfer it to"))
        body = validated(TransferIn, {"to": to.strip(), "note": note.strip()})
        service.transfer(db, actor=principal, handoff_id=handoff_id, to=body.to, note=body.note)
    except _Refusals as exc:
        return _refused(request, db, principal, handoff_id, "transfer", exc, values)
    return _back(handoff_id, "transferred", "custody")


@router.post("/handoffs/{handoff_id}/notes")
def add_note(
    *, handoff_id: str, request: Request, db: DB, principal: PagePrincipal, csrf_token: Csrf = "", note: Note = ""
) -> Response:
    check_csrf(request, db, csrf_token)
    values = {"note": note}
    try:
        require_filled(note=(note, "write the note"))
        body = validated(NoteIn, {"note": note.strip()})
        service.add_note(db, actor=principal, handoff_id=handoff_id, note=body.note)
    except _Refusals as exc:
        return _refused(request, db, principal, handoff_id, "note", exc, values)
    return _back(handoff_id, "note", "custody")
