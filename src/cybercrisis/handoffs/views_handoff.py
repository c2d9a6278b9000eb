"""One law-enforcement hand-off: its evidence files, its chain of custody and the forms that add a file,
acknowledge receipt, transfer it or add a note (ADR 0007). Files, the manifest and the zip are downloaded from the
API's own addresses, which accept the session cookie for reading."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from cybercrisis.access import sharing
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.config import Settings
from cybercrisis.crises.models import Crisis
from cybercrisis.deps import DB
from cybercrisis.errors import DomainError
from cybercrisis.handoffs import custody, evidence, service
from cybercrisis.handoffs.actions import allowed_actions
from cybercrisis.handoffs.deps import CurrentHandoff
from cybercrisis.handoffs.labels import ACTION_LABELS, DONE_NOTES, EVENT_LABELS, FORM_TITLES, STATE_LABELS
from cybercrisis.handoffs.models import CustodyEntry, Handoff
from cybercrisis.handoffs.schemas import NoteIn, ReceiveIn, TransferIn
from cybercrisis.handoffs.views import named_units, titles
from cybercrisis.incidents.models import Incident
from cybercrisis.middleware import BodySizeLimit
from cybercrisis.web import queries
from cybercrisis.web.forms import FORM_REFUSALS, FormState, bad, require_filled, validated
from cybercrisis.web.pagedeps import CSRF, PagePrincipal, see_other
from cybercrisis.web.queries import people
from cybercrisis.web.render import render
from cybercrisis.web.timeline import object_timeline

router = APIRouter(include_in_schema=False, dependencies=[CSRF])
Note = Annotated[str, Form(max_length=20_000)]


def _settings(request: Request) -> Settings:
    s: Settings = request.app.state.settings
    return s


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
        title = titles(db, principal, Incident, {h.incident_id}).get(h.incident_id)
        return {
            "kind": "Incident",
            "id": h.incident_id,
            "title": title,
            "href": f"/incidents/{h.incident_id}" if title else None,
        }
    if h.crisis_id:
        title = titles(db, principal, Crisis, {h.crisis_id}).get(h.crisis_id)
        return {
            "kind": "Crisis",
            "id": h.crisis_id,
            "title": title,
            "href": f"/crises/{h.crisis_id}" if title else None,
        }
    return None


def _timeline(db: Session, principal: Principal, h: Handoff, source: dict[str, Any] | None) -> dict[str, Any]:
    names = {t.value: t.label for t in TLP}
    if source and source["title"]:
        names[source["id"]] = source["title"]
    omit = lambda _key, value: value is None or value == h.id  # noqa: E731 - the hand-off is the page itself
    return object_timeline(db, principal, h.id, labels=EVENT_LABELS, omit=omit, names=names)


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
    files = custody.files_of(db, h.id)
    entries = custody.custody_of(db, h.id)
    _giver, holder = custody.holder_of(entries)
    holder = holder or h.recipient_org_id
    sealed = custody.is_sealed(entries)
    persons = people(db, [e.by_user_id or "" for e in entries] + [f.added_by_id or "" for f in files])
    org_ids = (
        {h.owner_org_id, h.recipient_org_id, holder}
        | {e.from_org_id or "" for e in entries}
        | {e.to_org_id or "" for e in entries}
        | {p.org_id for p in persons.values()}
    )
    orgs = queries.org_refs(db, org_ids)
    shares = sharing.shares_of(db, h.id)
    shared_orgs = {s.target for s in shares if s.kind == "organisation"}
    acts = allowed_actions(principal, h, holder=holder, sealed=sealed, shared_orgs=shared_orgs)
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
            "recipients": queries.recipients(db, shares),
            "can_add_file": "file" in acts,
            "can_receive": "receive" in acts,
            "can_transfer": "transfer" in acts,
            "can_note": "note" in acts,
            "transfer_choices": named_units(db, h, holder) if "transfer" in acts else [],
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
    request: Request,
    db: DB,
    principal: PagePrincipal,
    h: CurrentHandoff,
    done: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    return render_handoff(request, db, principal, h, done=done)


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
    return render_handoff(request, db, principal, h, form=(name, FormState.failed(exc, values)), code=exc.status)


def _back(handoff_id: str, done: str, anchor: str) -> Response:
    return see_other(f"/handoffs/{handoff_id}?done={done}#{anchor}")


@router.post("/handoffs/{handoff_id}/files")
def add_file(
    *,
    handoff_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    sha256: Annotated[str, Form(max_length=100)] = "",
    file: UploadFile | None = None,
) -> Response:
    values = {"sha256": sha256}
    try:
        if file is None or not file.filename:
            raise bad("file", "choose the file to add")
        custody.add_file(
            db,
            actor=principal,
            handoff_id=handoff_id,
            src=file.file,
            filename=file.filename,
            media_type=file.content_type,
            expected_sha256=sha256 or None,
            settings=_settings(request),
        )
    except (*FORM_REFUSALS, evidence.TooLarge) as exc:
        return _refused(request, db, principal, handoff_id, "file", exc, values)
    return _back(handoff_id, "file", "files")


@router.post("/handoffs/{handoff_id}/receive")
def receive(*, handoff_id: str, request: Request, db: DB, principal: PagePrincipal, note: Note = "") -> Response:
    values = {"note": note}
    try:
        body = validated(ReceiveIn, {"note": note.strip()})
        custody.receive(db, actor=principal, handoff_id=handoff_id, note=body.note)
    except FORM_REFUSALS as exc:
        return _refused(request, db, principal, handoff_id, "receive", exc, values)
    return _back(handoff_id, "received", "custody")


@router.post("/handoffs/{handoff_id}/transfer")
def transfer(
    *,
    handoff_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    to: Annotated[str, Form(max_length=120)] = "",
    note: Note = "",
) -> Response:
    values = {"to": to, "note": note}
    try:
        require_filled(to=(to, "choose the law-enforcement organisation to transfer it to"))
        body = validated(TransferIn, {"to": to.strip(), "note": note.strip()})
        custody.transfer(db, actor=principal, handoff_id=handoff_id, to=body.to, note=body.note)
    except FORM_REFUSALS as exc:
        return _refused(request, db, principal, handoff_id, "transfer", exc, values)
    return _back(handoff_id, "transferred", "custody")


@router.post("/handoffs/{handoff_id}/notes")
def add_note(*, handoff_id: str, request: Request, db: DB, principal: PagePrincipal, note: Note = "") -> Response:
    values = {"note": note}
    try:
        require_filled(note=(note, "write the note"))
        body = validated(NoteIn, {"note": note.strip()})
        custody.add_note(db, actor=principal, handoff_id=handoff_id, note=body.note)
    except FORM_REFUSALS as exc:
        return _refused(request, db, principal, handoff_id, "note", exc, values)
    return _back(handoff_id, "note", "custody")
