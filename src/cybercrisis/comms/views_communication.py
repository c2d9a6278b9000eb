"""One communication: its texts side by side, the approvals of each version, the forms that edit, approve, release
or withdraw it, and the comparison of two versions. Every write goes through the comms services, as the API does;
a successful form redirects to the statement with a short note of what happened."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from cybercrisis.access import sharing
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.audit import service as audit
from cybercrisis.comms import reading, release, service
from cybercrisis.comms.actions import allowed_actions
from cybercrisis.comms.api import communication_out, public_base
from cybercrisis.comms.checks import CLOSED
from cybercrisis.comms.choices import crisis_titles, people
from cybercrisis.comms.deps import CurrentCommunication
from cybercrisis.comms.forms import EMPTY_BLOCK, MORE_LANGUAGES, EditForm, VerdictForm, failed, text_values, to_patch
from cybercrisis.comms.labels import (
    DONE_NOTES,
    EVENT_LABELS,
    FORM_TITLES,
    KIND_LABELS,
    STATE_LABELS,
    lang_name,
    language_choices,
)
from cybercrisis.comms.models import CommState, Communication, Verdict
from cybercrisis.comms.schemas import CommunicationOut
from cybercrisis.config import Settings
from cybercrisis.db import utcnow
from cybercrisis.deps import DB
from cybercrisis.errors import DomainError, InvalidInput, NotFound
from cybercrisis.situation.schemas import FieldChange
from cybercrisis.web import queries
from cybercrisis.web.diffs import word_diff
from cybercrisis.web.forms import FORM_REFUSALS, FormState, bad, local_minutes, require_filled
from cybercrisis.web.pagedeps import CSRF, PagePrincipal, see_other
from cybercrisis.web.render import render
from cybercrisis.web.timeline import timeline_rows

router = APIRouter(include_in_schema=False, dependencies=[CSRF])


def _settings(request: Request) -> Settings:
    s: Settings = request.app.state.settings
    return s


# --- one communication ------------------------------------------------------------------------------------------


def _texts(view: CommunicationOut) -> list[dict[str, Any]]:
    """The main text first, then each translation: one column per language."""
    main = {
        "lang": view.language,
        "name": lang_name(view.language),
        "title": view.title,
        "body": view.body,
        "main": True,
    }
    return [main] + [
        {"lang": lang, "name": lang_name(lang), "title": t.get("title", ""), "body": t.get("body", ""), "main": False}
        for lang, t in sorted(view.translations.items())
    ]


def _approval_rows(view: CommunicationOut, people: dict[str, str]) -> list[dict[str, Any]]:
    """Each approver organisation's verdict on the current version: approved, changes requested, or waiting."""
    current = {a.org: a for a in view.approvals if a.version == view.version}
    rows = []
    for org in view.approvers:
        a = current.get(org.id)
        rows.append(
            {
                "org": org,
                "verdict": a.verdict if a else "waiting",
                "comment": a.comment if a else "",
                "at": a.at if a else None,
                "by": people.get(a.user or "") if a else None,
            }
        )
    return rows


def _version_rows(db: Session, view: CommunicationOut, people: dict[str, str]) -> list[dict[str, Any]]:
    """Newest first, with the verdicts each version received."""
    rows = []
    for v in reversed(reading.versions(db, view.id)):
        verdicts = [a for a in view.approvals if a.version == v.number]
        rows.append(
            {
                "n": v.number,
                "at": v.created_at,
                "by": people.get(v.created_by_id or ""),
                "title": v.title,
                "languages": [lang_name(x) for x in sorted(v.translations)],
                "approved": [a.org_short_name for a in verdicts if a.verdict == Verdict.APPROVE],
                "changes": [a.org_short_name for a in verdicts if a.verdict == Verdict.CHANGES],
            }
        )
    return rows


def _timeline(db: Session, principal: Principal, view: CommunicationOut) -> dict[str, Any]:
    """The communication's and its public copy's events. The crisis is left out of each summary (the reader may not
    see it; the page names it when they may), and a state change reads "draft → withdrawn"."""

    def omit(key: str, value: Any) -> bool:
        return (
            key == "crisis" or (key == "communication" and value == view.id) or (key == "exercise" and value is False)
        )

    ids = [view.id] + ([view.publication] if view.publication else [])
    events = audit.timeline_of(db, reader=principal, object_ids=ids)
    rows = timeline_rows(db, principal, events, labels=EVENT_LABELS, omit=omit)
    for entry in rows["timeline"]:
        state = entry["summary"].get("state")
        if isinstance(state, list) and len(state) == 2:
            entry["summary"]["state"] = f"{state[0]} → {state[1]}"
    return rows


def _release_state(view: CommunicationOut) -> dict[str, Any]:
    """Whether the statement can be released now and, when not, why, in words."""
    now = utcnow()
    waiting = [o.short_name for o in view.waiting_for]
    embargoed = view.embargo_until is not None and view.embargo_until > now
    return {
        "possible": view.state == CommState.APPROVED and not waiting and not embargoed,
        "waiting": waiting if view.state in (CommState.DRAFT, CommState.APPROVED) else [],
        "embargoed": embargoed,
    }


def _edit_defaults(view: CommunicationOut) -> FormState:
    blocks = [
        {"lang": lang, "title": t.get("title", ""), "body": t.get("body", "")}
        for lang, t in sorted(view.translations.items())
    ]
    blocks.append(dict(EMPTY_BLOCK))
    embargo = local_minutes(view.embargo_until) if view.embargo_until else ""
    return FormState(
        values={
            "version": view.version,
            "title": view.title,
            "body": view.body,
            "translations": blocks,
            "embargo_until": embargo,
        }
    )


def render_communication(
    request: Request,
    db: Session,
    principal: Principal,
    c: Communication,
    *,
    form: tuple[str, FormState] | None = None,
    done: str = "",
    code: int = 200,
) -> Response:
    """One communication; `form` is a refused form (its name and state) to show again with its errors."""
    view = communication_out(db, c, principal, public_base(request))
    is_owner = principal.org_id == view.owner
    acts = allowed_actions(principal, c)
    forms = {
        "edit": _edit_defaults(view),
        "approve": FormState(),
        "changes": FormState(),
        "release": FormState(),
        "withdraw": FormState(),
    }
    failure = None
    if form is not None:
        forms[form[0]] = form[1]
        if form[1].message is not None:  # refused; otherwise only shown again open (after "More languages")
            title, anchor = FORM_TITLES[form[0]]
            failure = {"name": form[0], "title": title, "anchor": anchor, "message": form[1].message}
    names = people(
        db, principal, [*(a.user for a in view.approvals), *(v.created_by_id for v in reading.versions(db, c.id))]
    )
    owner = queries.org_refs(db, [view.owner]).get(view.owner)
    mine = next((a for a in view.approvals if a.version == view.version and a.org == principal.org_id), None)
    extra_langs = [view.language, *(b["lang"] for b in forms["edit"].values.get("translations", []))]
    return render(
        request,
        "communication.html",
        {
            "c": view,
            "held_org": queries.held_by(db, view.held_at),
            "tlp": TLP(view.tlp),
            "owner": owner,
            "author": names.get(view.created_by or "") if is_owner else None,
            "crisis_title": crisis_titles(db, principal, [view.crisis]).get(view.crisis or ""),
            "texts": _texts(view),
            "approval_rows": _approval_rows(view, names),
            "versions": _version_rows(db, view, names),
            "release": _release_state(view),
            "recipients": queries.recipients(db, sharing.shares_of(db, view.id)),
            "kind_labels": KIND_LABELS,
            "state_labels": STATE_LABELS,
            "languages": language_choices(extra_langs),
            "is_open": view.state not in CLOSED,
            "is_owner": is_owner,
            "can_edit": "edit" in acts,
            "can_verdict": "verdict" in acts,
            "my_verdict": mine,
            "can_release": "release" in acts,
            "can_withdraw": "withdraw" in acts,
            "forms": forms,
            "failure": failure,
            "failed_form": form[0] if form else None,
            "done_note": DONE_NOTES.get(done),
            "lang_name": lang_name,
            **_timeline(db, principal, view),
        },
        status=code,
    )


@router.get("/communications/{communication_id}", response_class=HTMLResponse)
def communication_page(
    *,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    c: CurrentCommunication,
    done: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    return render_communication(request, db, principal, c, done=done)


def _refused(
    request: Request,
    db: Session,
    principal: Principal,
    communication_id: str,
    name: str,
    exc: DomainError,
    values: dict[str, Any],
) -> Response:
    """Nothing written: the page again, the form with what was typed and the message next to its field."""
    db.rollback()
    c = reading.get(db, principal, communication_id)
    return render_communication(request, db, principal, c, form=(name, failed(exc, values)), code=exc.status)


def _back(communication_id: str, done: str, anchor: str) -> Response:
    return see_other(f"/communications/{communication_id}?done={done}#{anchor}")


@router.post("/communications/{communication_id}/edit")
def edit_communication(
    *, communication_id: str, request: Request, db: DB, principal: PagePrincipal, data: Annotated[EditForm, Form()]
) -> Response:
    more = data.action == MORE_LANGUAGES
    values = {**text_values(data, more=more), "version": data.version}
    if more:  # another empty translation block; nothing is saved
        c = reading.get(db, principal, communication_id)  # 404 for a reader who may not see it
        return render_communication(request, db, principal, c, form=("edit", FormState(values=values)))
    try:
        before = reading.get(db, principal, communication_id).current_version
        c = service.update(db, actor=principal, communication_id=communication_id, patch=to_patch(data))
    except FORM_REFUSALS as exc:
        return _refused(request, db, principal, communication_id, "edit", exc, values)
    return _back(c.id, "edited" if c.current_version != before else "unchanged", "versions")


def _verdict(
    request: Request, db: Session, principal: Principal, communication_id: str, data: VerdictForm, verdict: Verdict
) -> Response:
    name = "approve" if verdict == Verdict.APPROVE else "changes"
    values = {"comment": data.comment}
    try:
        if verdict == Verdict.CHANGES:
            require_filled(comment=(bool(data.comment.strip()), "say what should change, and why"))
        c = service.give_verdict(
            db,
            actor=principal,
            communication_id=communication_id,
            version=data.version,
            verdict=verdict,
            comment=data.comment,
            confirm_stale=data.confirm_stale_translations == "yes",
        )
    except FORM_REFUSALS as exc:
        return _refused(request, db, principal, communication_id, name, exc, values)
    if c.origin_node is not None:  # held at another node: sent there (ADR 0013)
        return _back(communication_id, "sent", "approvals")
    return _back(communication_id, "approved" if verdict == Verdict.APPROVE else "changes", "approvals")


@router.post("/communications/{communication_id}/approve")
def approve_communication(
    *,
    communication_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    data: Annotated[VerdictForm, Form()],
) -> Response:
    return _verdict(request, db, principal, communication_id, data, Verdict.APPROVE)


@router.post("/communications/{communication_id}/request-changes")
def request_changes(
    *,
    communication_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    data: Annotated[VerdictForm, Form()],
) -> Response:
    return _verdict(request, db, principal, communication_id, data, Verdict.CHANGES)


@router.post("/communications/{communication_id}/release")
def release_communication(*, communication_id: str, request: Request, db: DB, principal: PagePrincipal) -> Response:
    try:
        release.release(db, actor=principal, communication_id=communication_id)
    except FORM_REFUSALS as exc:
        return _refused(request, db, principal, communication_id, "release", exc, {})
    return _back(communication_id, "released", "release")


@router.post("/communications/{communication_id}/withdraw")
def withdraw_communication(*, communication_id: str, request: Request, db: DB, principal: PagePrincipal) -> Response:
    try:
        release.withdraw(db, actor=principal, communication_id=communication_id)
    except FORM_REFUSALS as exc:
        return _refused(request, db, principal, communication_id, "withdraw", exc, {})
    return _back(communication_id, "withdrawn", "release")


# --- comparing two versions -------------------------------------------------------------------------------------


def _field_label(name: str, main: str) -> str:
    """The name of a versioned field in words: title -> Title (English); translations.fr.body -> Text (French)."""
    parts = name.split(".")
    lang, leaf = (parts[1], parts[2]) if len(parts) == 3 else (main, parts[0])
    return f"{'Title' if leaf == 'title' else 'Text'} ({lang_name(lang)})"


def _field_order(change: FieldChange) -> tuple[int, str, int]:
    """The main text first, then each translation by language code; a title before its text."""
    parts = change.field.split(".")
    lang = parts[1] if len(parts) == 3 else ""
    return (1 if lang else 0, lang, 0 if parts[-1] == "title" else 1)


def _version_number(value: str, field: str, default: int) -> int:
    text = value.strip()
    if not text:
        return default
    if not text.isdigit() or len(text) > 6:
        raise bad(field, f"'{text[:20]}' is not a version number")
    return int(text)


@router.get("/communications/{communication_id}/compare", response_class=HTMLResponse)
def compare_versions(
    *,
    request: Request,
    c: CurrentCommunication,
    db: DB,
    from_: Annotated[str, Query(alias="from", max_length=10)] = "",
    to: Annotated[str, Query(max_length=10)] = "",
) -> Response:
    numbers = [v.number for v in reading.versions(db, c.id)]
    error, code, rows = None, 200, []
    a, b = max(c.current_version - 1, 1), c.current_version
    try:
        a = _version_number(from_, "from", a)
        b = _version_number(to, "to", b)
        rows = [
            {
                "field": _field_label(ch.field, c.language),
                "before": ch.before if ch.before is not None else "—",
                "after": ch.after if ch.after is not None else "—",
                # Titles read best as before and after; texts as a diff.
                "words": word_diff(ch.before, ch.after) if ch.diff and not ch.field.endswith("title") else None,
            }
            for ch in sorted(reading.diff(db, c.id, a, b), key=_field_order)
        ]
    except (InvalidInput, NotFound) as exc:
        error, code = exc.detail, exc.status
    return render(
        request,
        "communication_compare.html",
        {"c": c, "a": a, "b": b, "rows": rows, "error": error, "numbers": numbers, "kind_labels": KIND_LABELS},
        status=code,
    )
