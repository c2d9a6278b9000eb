"""Law-enforcement hand-off API: evidence packages for police cybercrime units and Europol EC3, with their files
and chain of custody. Every read goes through the access layer: a hand-off the reader may not see is a 404."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, StreamingResponse
from sqlalchemy import select

from cybercrisis.access import sharing
from cybercrisis.access.principal import Principal
from cybercrisis.audit import service as audit
from cybercrisis.audit.reading import timeline_out
from cybercrisis.config import Settings
from cybercrisis.deps import DB, CurrentPrincipal
from cybercrisis.directory.models import Organisation
from cybercrisis.errors import NotFound
from cybercrisis.handoffs import custody, evidence, package, service
from cybercrisis.handoffs.deps import CurrentHandoff
from cybercrisis.handoffs.models import CustodyEntry, EvidenceFile, Handoff
from cybercrisis.handoffs.schemas import (
    CustodyEntryOut,
    EvidenceFileOut,
    HandoffIn,
    HandoffOut,
    HandoffPage,
    HandoffSummary,
    NoteIn,
    ObservableOut,
    OrgRef,
    ReceiveIn,
    TransferIn,
)

router = APIRouter(prefix="/api/v1", tags=["handoffs"])


def _settings(request: Request) -> Settings:
    s: Settings = request.app.state.settings
    return s


def _org(orgs: dict[str, Organisation], org_id: str) -> OrgRef:
    org = orgs.get(org_id)
    return OrgRef(id=org_id, short_name=org.short_name if org else "")


def _ref(orgs: dict[str, Organisation], org_id: str | None) -> OrgRef | None:
    return None if org_id is None else _org(orgs, org_id)


def file_out(f: EvidenceFile) -> EvidenceFileOut:
    return EvidenceFileOut(
        id=f.id,
        name=f.name,
        media_type=f.media_type,
        size=f.size,
        sha256=f.sha256,
        added_at=f.added_at,
        added_by=f.added_by_id,
    )


def custody_out(e: CustodyEntry, orgs: dict[str, Organisation]) -> CustodyEntryOut:
    return CustodyEntryOut(
        seq=e.seq,
        at=e.at,
        action=e.action,
        from_org=_ref(orgs, e.from_org_id),
        to_org=_ref(orgs, e.to_org_id),
        by=e.by_user_id,
        items=e.items,
        note=e.note,
    )


def handoff_out(db: DB, h: Handoff, reader: Principal) -> HandoffOut:
    files = custody.files_of(db, h.id)
    entries = custody.custody_of(db, h.id)
    _giver, holder = custody.holder_of(entries)
    holder = holder or h.recipient_org_id
    orgs = custody.org_names(
        db,
        {h.owner_org_id, h.recipient_org_id, holder}
        | {e.from_org_id for e in entries}
        | {e.to_org_id for e in entries},
    )
    return HandoffOut(
        id=h.id,
        incident=h.incident_id,
        crisis=h.crisis_id,
        sender=_org(orgs, h.owner_org_id),
        recipient=_org(orgs, h.recipient_org_id),
        holder=_org(orgs, holder),
        reason=h.reason,
        state=h.state,
        sealed=custody.is_sealed(entries),
        tlp=h.tlp,
        observables=[ObservableOut(type=o["type"], value=o["value"]) for o in h.observables],
        files=[file_out(f) for f in files],
        custody=[custody_out(e, orgs) for e in entries],
        share_with=sharing.share_list(sharing.shares_of(db, h.id)),
        timeline=[timeline_out(e) for e in audit.timeline(db, reader=reader, object_id=h.id)],
        created_by=h.created_by_id,
        created=h.created_at,
        modified=h.modified_at,
        version=h.version,
    )


@router.post("/handoffs", status_code=201, operation_id="create_handoff", response_model=HandoffOut)
def create_handoff(body: HandoffIn, db: DB, principal: CurrentPrincipal) -> HandoffOut:
    """Hand an incident or a crisis flagged as suspected criminal over to a police cybercrime unit of the directory
    (organisation type `law-enforcement`) or to Europol EC3, with the chosen observables.

    Each observable must have been sighted in that incident (for a crisis: in one of its incidents) that you may
    read now; those that are not are named in a 422 and nothing is written. The hand-off is TLP:AMBER+STRICT by
    default (or TLP:AMBER), no wider than the incidents it draws on, and shared with the recipient, who is
    notified (`handoffs:handoff:create`). The chain of custody starts with link 1, `handed-over`. Add files with
    `POST /api/v1/handoffs/{id}/files` until the recipient acknowledges receipt.
    """
    h = service.create(db, actor=principal, data=body)
    return handoff_out(db, h, principal)


@router.get("/handoffs", operation_id="list_handoffs", response_model=HandoffPage)
def list_handoffs(
    db: DB,
    principal: CurrentPrincipal,
    incident: Annotated[str | None, Query(max_length=120)] = None,
    crisis: Annotated[str | None, Query(max_length=120)] = None,
    state: Annotated[str | None, Query(max_length=16, description="handed-over or received")] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> HandoffPage:
    """The hand-offs you may see (sent by your organisation, or handed or transferred to it), newest first."""
    page = service.list_handoffs(
        db, principal=principal, incident=incident, crisis=crisis, state=state, cursor=cursor, limit=limit
    )
    items = [
        HandoffSummary(
            id=h.id,
            incident=h.incident_id,
            crisis=h.crisis_id,
            sender=h.owner_org_id,
            recipient=h.recipient_org_id,
            state=h.state,
            tlp=h.tlp,
            observables=len(h.observables),
            created=h.created_at,
            modified=h.modified_at,
        )
        for h in page.items
    ]
    return HandoffPage(items=items, next=page.next)


@router.get("/handoffs/{handoff_id}", operation_id="get_handoff", response_model=HandoffOut)
def get_handoff(h: CurrentHandoff, db: DB, principal: CurrentPrincipal) -> HandoffOut:
    """One hand-off: observables, files (name, size, SHA-256, media type), the chain of custody (who handed what
    to whom and when), who holds it now, its share list and its audit timeline."""
    return handoff_out(db, h, principal)


@router.post(
    "/handoffs/{handoff_id}/files", status_code=201, operation_id="add_handoff_file", response_model=EvidenceFileOut
)
def add_handoff_file(
    handoff_id: str,
    file: UploadFile,
    db: DB,
    principal: CurrentPrincipal,
    request: Request,
    sha256: Annotated[
        str | None,
        Form(max_length=100, description="the file's SHA-256 as the sender computed it; a mismatch is refused"),
    ] = None,
) -> EvidenceFileOut:
    """Add an evidence file (multipart/form-data, field `file`) to a hand-off of your organisation that was not
    yet received. It is hashed (SHA-256) while it is stored; with the optional `sha256` form field, a file that
    changed in transit is refused (422). Files over the deployment's `evidence_max_bytes` are refused (413).
    A refused file leaves nothing behind. The chain of custody gets a `handed-over` link naming the digest."""
    f = custody.add_file(
        db,
        actor=principal,
        handoff_id=handoff_id,
        src=file.file,
        filename=file.filename,
        media_type=file.content_type,
        expected_sha256=sha256,
        settings=_settings(request),
    )
    return file_out(f)


@router.get(
    "/handoffs/{handoff_id}/files/{file_id}",
    operation_id="download_handoff_file",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "the file as it was handed over"}},
)
def download_handoff_file(
    handoff_id: str,  # declared before file_id, as the path reads, for the order of the OpenAPI parameters
    file_id: int,
    h: CurrentHandoff,
    db: DB,
    request: Request,
) -> FileResponse:
    """Download an evidence file as an attachment. `X-Evidence-SHA256` (hex) and `Repr-Digest` (RFC 9530) carry
    the digest recorded on arrival: check the bytes against it."""
    f = db.scalars(select(EvidenceFile).where(EvidenceFile.id == file_id, EvidenceFile.handoff_id == h.id)).first()
    if f is None:
        raise NotFound(f"no file {file_id} in hand-off {h.id}")
    path = evidence.stored_path(_settings(request).data_dir, f.sha256, f.size)
    headers = {
        "X-Evidence-SHA256": f.sha256,
        "Repr-Digest": evidence.repr_digest(f.sha256),
        "Cache-Control": "private, no-store",
    }
    return FileResponse(
        path, media_type=f.media_type, filename=f.name, headers=headers, content_disposition_type="attachment"
    )


@router.post("/handoffs/{handoff_id}/receive", operation_id="receive_handoff", response_model=HandoffOut)
def receive_handoff(handoff_id: str, db: DB, principal: CurrentPrincipal, body: ReceiveIn | None = None) -> HandoffOut:
    """The organisation holding the hand-off (the recipient, or the one it was last transferred to) acknowledges
    receipt of everything in it. The custody link `received` lists all items; the package is then sealed."""
    h = custody.receive(db, actor=principal, handoff_id=handoff_id, note=body.note if body else "")
    return handoff_out(db, h, principal)


@router.post("/handoffs/{handoff_id}/transfer", operation_id="transfer_handoff", response_model=HandoffOut)
def transfer_handoff(handoff_id: str, body: TransferIn, db: DB, principal: CurrentPrincipal) -> HandoffOut:
    """The holder, after acknowledging receipt, transfers the package to another law-enforcement organisation
    (or Europol EC3). It is added to the share list, notified, and must acknowledge receipt in turn."""
    h = custody.transfer(db, actor=principal, handoff_id=handoff_id, to=body.to, note=body.note)
    return handoff_out(db, h, principal)


@router.post(
    "/handoffs/{handoff_id}/notes", status_code=201, operation_id="add_handoff_note", response_model=CustodyEntryOut
)
def add_handoff_note(handoff_id: str, body: NoteIn, db: DB, principal: CurrentPrincipal) -> CustodyEntryOut:
    """Append a note to the chain of custody (sender or any organisation it was handed to)."""
    entry = custody.add_note(db, actor=principal, handoff_id=handoff_id, note=body.note)
    return custody_out(entry, custody.org_names(db, {entry.from_org_id}))


@router.get("/handoffs/{handoff_id}/package", operation_id="handoff_package")
def handoff_package(h: CurrentHandoff, db: DB, principal: CurrentPrincipal) -> dict[str, Any]:
    """The evidence manifest to give to the police: the hand-off, its observables, its files with their SHA-256
    and the chain of custody. The incident or crisis is named by id only."""
    return package.manifest(db, reader=principal, h=h)


@router.get(
    "/handoffs/{handoff_id}/package.zip",
    operation_id="handoff_package_zip",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "manifest.json and the files"}},
)
def handoff_package_zip(h: CurrentHandoff, db: DB, principal: CurrentPrincipal, request: Request) -> StreamingResponse:
    """The manifest (`manifest.json`) and every file (`files/<id>-<name>`) in one zip, streamed. Each file is
    hashed again on the way out; if the store no longer holds what was handed over, the download breaks off
    instead of completing."""
    data = package.manifest(db, reader=principal, h=h)
    members = package.zip_members(db, h, _settings(request))
    name = f"evidence-{h.id.split('--', 1)[-1]}.zip"
    return StreamingResponse(
        evidence.zip_stream(data, members),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, no-store"},
    )
