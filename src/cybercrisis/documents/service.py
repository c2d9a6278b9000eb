"""Documents: create, read and list through the access layer, edit with optimistic locking, share."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select, tuple_
from sqlalchemy.orm import Session

from cybercrisis.access import authority, sharing
from cybercrisis.access.models import Share
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.schemas import ShareWith
from cybercrisis.audit import service as audit
from cybercrisis.db import new_id, utcnow
from cybercrisis.directory import recipients
from cybercrisis.documents import actions
from cybercrisis.documents.models import Document, DocumentKind
from cybercrisis.errors import Conflict, InvalidInput, PermissionDenied
from cybercrisis.pagination import Page, cursor_time, decode_cursor, encode_cursor


def _kind(value: str) -> str:
    valid = [k.value for k in DocumentKind]
    if value not in valid:
        raise InvalidInput(
            f"'{value}' is not a document kind; valid: {', '.join(valid)}",
            errors=[{"field": "kind", "message": "invalid"}],
        )
    return value


def create_document(
    session: Session,
    *,
    actor: Principal,
    title: str,
    body: str,
    kind: str,
    tlp: str,
    share_with: ShareWith,
) -> Document:
    authority.authorize(actor, "document.create", ())
    if actor.org_id is None or actor.user_id is None:
        raise PermissionDenied("documents belong to an organisation: act as one of its users")
    marking = sharing.parse_tlp(tlp)
    entries = sharing.resolve(
        session, tlp=marking, share_with=share_with, owner_org_id=actor.org_id, author_id=actor.user_id
    )
    doc = Document(
        id=new_id("document"),
        owner_org_id=actor.org_id,
        created_by_id=actor.user_id,
        tlp=marking.value,
        title=title.strip(),
        body=body,
        kind=_kind(kind),
    )
    session.add(doc)
    session.flush()
    sharing.write(session, object_id=doc.id, entries=entries, added_by=actor.org_id)
    audit.record(
        session,
        actor=actor,
        tag="directory:document:create",
        object_id=doc.id,
        summary={"tlp": marking.value, "kind": kind},
    )
    return doc


def get_document(session: Session, *, principal: Principal, document_id: str) -> Document:
    return sharing.get_readable(session, principal, Document, document_id)


@dataclass(frozen=True, slots=True)
class DocumentFilter:
    organisation: str | None = None  # documents this organisation owns
    q: str | None = None  # words in the title or the text


def list_documents(
    session: Session, *, principal: Principal, filters: DocumentFilter, cursor: str | None, limit: int
) -> Page[Document]:
    """Newest first; every row passes the same policy as a single read."""
    query = select(Document).where(read_filter(principal, Document))
    if filters.organisation:
        query = query.where(Document.owner_org_id == filters.organisation)
    if filters.q:
        like = f"%{filters.q.strip().lower()}%"
        query = query.where(or_(func.lower(Document.title).like(like), func.lower(Document.body).like(like)))
    after = decode_cursor(cursor, 2)
    if after:
        query = query.where(tuple_(Document.created_at, Document.id) < tuple_(cursor_time(after[0]), after[1]))
    rows = list(session.scalars(query.order_by(Document.created_at.desc(), Document.id.desc()).limit(limit + 1)))
    nxt = None
    if len(rows) > limit:
        last = rows[limit - 1]
        nxt = encode_cursor([last.created_at.isoformat(), last.id])
    return Page(rows[:limit], nxt)


def update_document(
    session: Session, *, actor: Principal, doc: Document, version: int, changes: dict[str, str]
) -> Document:
    """Edit title, body or kind of `doc` (read by the actor). `version` is the one the editor read; a newer one in
    the database is a 409."""
    authority.authorize(actor, "document.edit", actions.relations(actor, doc))
    if doc.version != version:
        raise Conflict(
            f"the document changed since you read it (version {version}, now {doc.version}): reload and edit again"
        )
    if "kind" in changes:
        _kind(changes["kind"])
    for key, value in changes.items():
        setattr(doc, key, value)
    doc.modified_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor=actor,
        tag="directory:document:update",
        object_id=doc.id,
        summary={"fields": sorted(changes), "version": doc.version},
    )
    return doc


def set_document_sharing(
    session: Session, *, actor: Principal, doc: Document, tlp: str, share_with: ShareWith
) -> Document:
    authority.authorize(actor, "document.share", actions.relations(actor, doc))
    recipients.set_sharing(
        session,
        principal=actor,
        obj=doc,
        tlp=sharing.parse_tlp(tlp),
        share_with=share_with,
        tag="directory:document:share",
    )
    doc.modified_at = utcnow()
    return doc


def pass_on_document(session: Session, *, actor: Principal, doc: Document, organisations: list[str]) -> list[str]:
    # The organisation itself must read it: a user named on it does not make its organisation a recipient.
    authority.authorize(actor, "document.pass-on", sharing.org_relations(session, actor, doc))
    return recipients.pass_on(
        session, principal=actor, obj=doc, org_ids=organisations, tag="directory:document:pass-on"
    )


def delete_document(session: Session, *, actor: Principal, doc: Document) -> None:
    authority.authorize(actor, "document.delete", actions.relations(actor, doc))
    session.execute(delete(Share).where(Share.object_id == doc.id))
    session.delete(doc)
    audit.record(session, actor=actor, tag="directory:document:delete", object_id=doc.id)
