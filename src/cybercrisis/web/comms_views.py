"""Coordinated public communication pages: the list, drafting a statement, one statement, comparing versions.

A statement (or lines to take) is co-edited by its owner and approver organisations, approved per version by every
organisation on its approvers list, and released once (by its owner, or by the job at its embargo time) to the
public page and feed as a TLP:CLEAR copy (ADR 0007). Every read goes through `comms.service.get` (the access layer)
or `read_filter`; every write goes through `comms.service`, exactly as the API does: the same checks, audit,
notifications and errors. A refused form comes back with what was typed and the message next to the field, and
nothing is written; a successful one redirects to the statement with a short note of what happened.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import case, select, tuple_
from sqlalchemy.orm import Session

from cybercrisis.access import sharing
from cybercrisis.access.permissions import Permission
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.accounts.models import User
from cybercrisis.audit import service as audit
from cybercrisis.comms import service
from cybercrisis.comms.api import communication_out
from cybercrisis.comms.models import CommKind, CommState, Communication, Verdict
from cybercrisis.comms.public import language_name
from cybercrisis.comms.schemas import (
    MAX_TRANSLATIONS,
    CommunicationIn,
    CommunicationOut,
    CommunicationPatch,
)
from cybercrisis.config import Settings
from cybercrisis.crises.models import Crisis, CrisisStatus
from cybercrisis.db import utcnow
from cybercrisis.deps import DB
from cybercrisis.directory.models import Organisation, OrgType
from cybercrisis.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied
from cybercrisis.pagination import cursor_time, decode_cursor, encode_cursor
from cybercrisis.situation.schemas import FieldChange
from cybercrisis.web import queries
from cybercrisis.web.contribution_views import diff_line_class
from cybercrisis.web.forms import FormState, bad, require_filled, validated
from cybercrisis.web.incident_form import local_minutes, parse_utc
from cybercrisis.web.pagedeps import PagePrincipal, check_csrf, see_other
from cybercrisis.web.render import render

router = APIRouter()
PAGE_SIZE = 50
CRISIS_CHOICES = 200  # the most recent crises the reader may see, offered in the crisis pickers
Filter = Annotated[str, Query(max_length=200)]
Csrf = Annotated[str, Form(max_length=100)]
MORE_LANGUAGES = "more-languages"  # the submit button that re-renders a form with one more translation block
EMPTY_BLOCK = {"lang": "", "title": "", "body": ""}

# The EU's official languages, offered first in the language pickers (any ISO 639-1 code typed through the API is
# shown too). pycountry's names are not always the everyday ones ("Modern Greek (1453-)").
EU_LANGUAGES: dict[str, str] = {
    "bg": "Bulgarian",
    "cs": "Czech",
    "da": "Danish",
    "de": "German",
    "el": "Greek",
    "en": "English",
    "es": "Spanish",
    "et": "Estonian",
    "fi": "Finnish",
    "fr": "French",
    "ga": "Irish",
    "hr": "Croatian",
    "hu": "Hungarian",
    "it": "Italian",
    "lt": "Lithuanian",
    "lv": "Latvian",
    "mt": "Maltese",
    "nl": "Dutch",
    "pl": "Polish",
    "pt": "Portuguese",
    "ro": "Romanian",
    "sk": "Slovak",
    "sl": "Slovenian",
    "sv": "Swedish",
}
KIND_LABELS = {CommKind.STATEMENT.value: "Statement", CommKind.LINES_TO_TAKE.value: "Lines to take"}
KIND_CHOICES = list(KIND_LABELS.items())
STATE_LABELS = {
    CommState.DRAFT.value: "Draft",
    CommState.APPROVED.value: "Approved",
    CommState.RELEASED.value: "Released",
    CommState.WITHDRAWN.value: "Withdrawn",
}
# A draft is never public: the choices stop at GREEN; TLP:RED could not reach the approvers.
TLP_CHOICES = [(t.value, t.label) for t in (TLP.AMBER_STRICT, TLP.AMBER, TLP.GREEN)]
# The approvers picker's groups, in this order; every other organisation comes last under "Other organisations".
APPROVER_GROUPS: list[tuple[str, str]] = [
    (OrgType.CRISIS_AUTHORITY.value, "National cyber crisis management authorities"),
    (OrgType.NATIONAL_CSIRT.value, "National CSIRTs"),
    (OrgType.EU_BODY.value, "EU institutions, bodies and agencies"),
]
EVENT_LABELS = {
    service.CREATE: "Drafted",
    service.EDIT: "Edited",
    service.APPROVE: "Approved",
    service.REQUEST_CHANGES: "Changes requested",
    service.RELEASE: "Released",
    service.WITHDRAW: "Withdrawn",
    service.PUBLICATION_CREATE: "Public copy made (TLP:CLEAR)",
}
# Shown after a successful form, from `?done=`: fixed texts, never anything taken from the address.
DONE_NOTES = {
    "created": "The draft is saved as version 1. The organisations on its approvers list were asked to approve it.",
    "edited": "Your change is saved as a new version. Approvals of earlier versions no longer count: the approvers "
    "were asked again.",
    "unchanged": "Nothing changed, so no new version was made.",
    "approved": "Your organisation's approval of this version is recorded.",
    "changes": "Your organisation's request for changes is recorded; the owner organisation was told.",
    "released": "The statement was released: it is on the public page and in the feed.",
    "withdrawn": "It was withdrawn: it will neither change nor be released.",
}
# What each form on the page is, for the message at the top when it was refused: (title, anchor).
FORM_TITLES = {
    "edit": ("Your change was not saved", "edit-form"),
    "approve": ("Your approval was not recorded", "approve-form"),
    "changes": ("Your request for changes was not recorded", "changes-form"),
    "release": ("The statement was not released", "release"),
    "withdraw": ("It was not withdrawn", "withdraw-form"),
}
_Refusals = (InvalidInput, Conflict, PermissionDenied)


# --- what the browser posts -------------------------------------------------------------------------------------


class _Form(BaseModel):
    model_config = ConfigDict(extra="ignore")

    csrf_token: str = Field(default="", max_length=100)


class TextForm(_Form):
    """The text and its translations, as parallel lists: one entry per translation block, in page order."""

    title: str = Field(default="", max_length=1000)
    body: str = Field(default="", max_length=100_000)
    tr_lang: list[str] = Field(default_factory=list, max_length=MAX_TRANSLATIONS + 5)
    tr_title: list[str] = Field(default_factory=list, max_length=MAX_TRANSLATIONS + 5)
    tr_body: list[str] = Field(default_factory=list, max_length=MAX_TRANSLATIONS + 5)
    embargo_until: str = Field(default="", max_length=40)
    action: str = Field(default="", max_length=32)


class NewForm(TextForm):
    crisis: str = Field(default="", max_length=120)
    kind: str = Field(default="", max_length=32)
    language: str = Field(default="", max_length=16)
    approvers: list[str] = Field(default_factory=list, max_length=200)
    tlp: str = Field(default="", max_length=20)


class EditForm(TextForm):
    version: int = Field(default=0, ge=0)


class VerdictForm(_Form):
    version: int = Field(default=0, ge=0)
    comment: str = Field(default="", max_length=10_000)


# --- from the form to the service's input -----------------------------------------------------------------------


def _settings(request: Request) -> Settings:
    s: Settings = request.app.state.settings
    return s


def blocks_of(form: TextForm) -> list[dict[str, str]]:
    """The translation blocks as typed: language, title and body of each, in page order."""
    n = max(len(form.tr_lang), len(form.tr_title), len(form.tr_body))

    def at(items: list[str], i: int) -> str:
        return items[i] if i < len(items) else ""

    return [
        {"lang": at(form.tr_lang, i).strip().lower(), "title": at(form.tr_title, i), "body": at(form.tr_body, i)}
        for i in range(n)
    ]


def _translations(blocks: Sequence[dict[str, str]]) -> dict[str, dict[str, str]]:
    """Blocks left entirely empty are ignored (that is how a translation is removed)."""
    out: dict[str, dict[str, str]] = {}
    for i, b in enumerate(blocks):
        if not (b["lang"] or b["title"].strip() or b["body"].strip()):
            continue
        if not b["lang"]:
            raise bad(f"tr-{i}", "choose the language of this translation")
        if b["lang"] in out:
            raise bad(f"tr-{i}", f"the translation into {lang_name(b['lang'])} is given twice")
        out[b["lang"]] = {"title": b["title"], "body": b["body"]}
    return out  # checked by the service's schema (lengths) and the service (codes, emptiness)


def to_communication_in(form: NewForm) -> CommunicationIn:
    blocks = blocks_of(form)
    require_filled(
        title=(bool(form.title.strip()), "give the statement a title"),
        body=(bool(form.body.strip()), "write the text"),
        approvers=(bool(form.approvers), "choose at least one organisation that must approve it"),
    )
    return validated(
        CommunicationIn,
        {
            "crisis": form.crisis.strip() or None,
            "kind": form.kind or CommKind.STATEMENT.value,
            "language": form.language or "en",
            "title": form.title.strip(),
            "body": form.body.strip(),
            "translations": _translations(blocks),
            "approvers": form.approvers,
            "embargo_until": parse_utc(form.embargo_until, field="embargo_until"),
            "tlp": form.tlp or TLP.AMBER.value,
        },
        depth=None,
    )


def to_patch(form: EditForm) -> CommunicationPatch:
    require_filled(
        title=(bool(form.title.strip()), "give the statement a title"), body=(bool(form.body.strip()), "write the text")
    )
    return validated(
        CommunicationPatch,
        {
            "version": form.version,
            "title": form.title.strip(),
            "body": form.body.strip(),
            "translations": _translations(blocks_of(form)),
            "embargo_until": parse_utc(form.embargo_until, field="embargo_until"),
        },
        depth=None,
    )


def failed(exc: DomainError, values: dict[str, Any]) -> FormState:
    """The form again, each complaint next to its field; a translation's next to its block (`tr-<index>`)."""
    form = FormState.failed(exc, values)
    blocks: list[dict[str, str]] = values.get("translations", [])
    errors: dict[str, str] = {}
    for name, said in form.errors.items():
        key, message = name.split("[", 1)[0], said
        if key.startswith("translations."):
            parts = key.split(".")
            lang = parts[1].strip().lower()
            index = next((i for i, b in enumerate(blocks) if b["lang"] == lang), None)
            key = f"tr-{index}" if index is not None else "translations"
            if len(parts) == 3 and "is empty" in message:  # the service says "the body is empty"
                message = f"give the {'title' if parts[2] == 'title' else 'text'} in {lang_name(lang)}"
                if len(form.errors) == 1:
                    form.message = message
        elif not key.startswith("tr-"):
            key = key.split(".", 1)[0]
        errors.setdefault(key, message)
    form.errors = errors
    return form


def text_values(form: TextForm, *, more: bool = False) -> dict[str, Any]:
    """What was typed, to show back; `more` adds an empty translation block."""
    blocks = blocks_of(form)
    if more or not blocks:
        blocks.append(dict(EMPTY_BLOCK))
    return {"title": form.title, "body": form.body, "translations": blocks, "embargo_until": form.embargo_until}


# --- what the pages show and offer ------------------------------------------------------------------------------


def lang_name(code: str) -> str:
    return EU_LANGUAGES.get(code) or language_name(code)


def language_choices(extra: Iterable[str] = ()) -> list[tuple[str, str]]:
    """The EU languages, and any other code already used, as (code, "French (fr)") pairs by name."""
    codes = set(EU_LANGUAGES) | {c for c in extra if c}
    return sorted(((c, f"{lang_name(c)} ({c})") for c in codes), key=lambda pair: pair[1])


def _crisis_choices(db: Session, principal: Principal, wanted: str = "") -> list[tuple[str, str]]:
    """Crises the reader may see, open ones first, most recently changed first; `wanted` is kept if readable."""
    is_closed = case((Crisis.status == CrisisStatus.OPEN.value, 0), else_=1)
    rows = db.execute(
        select(Crisis.id, Crisis.title, Crisis.status)
        .where(read_filter(principal, Crisis))
        .order_by(is_closed, Crisis.modified_at.desc(), Crisis.id.desc())
        .limit(CRISIS_CHOICES)
    ).all()
    out = [(r.id, r.title + ("" if r.status == CrisisStatus.OPEN.value else " (closed)")) for r in rows]
    if wanted and wanted not in {i for i, _ in out}:
        title = _crisis_titles(db, principal, [wanted]).get(wanted)
        if title is not None:
            out.insert(0, (wanted, title))
    return out


def _crisis_titles(db: Session, principal: Principal, ids: Iterable[str | None]) -> dict[str, str]:
    """Titles of the crises among these that the reader may see; the others are not named at all."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    query = select(Crisis.id, Crisis.title).where(Crisis.id.in_(wanted), read_filter(principal, Crisis))
    return dict(db.execute(query).all())


def approver_groups(db: Session) -> list[tuple[str, list[queries.OrgRef]]]:
    """Every organisation of the directory (who-is-who: readable by every signed-in user), in the picker's groups."""
    rows = db.execute(
        select(
            Organisation.id, Organisation.short_name, Organisation.name, Organisation.country, Organisation.type
        ).order_by(Organisation.country, Organisation.short_name)
    ).all()
    # EU bodies (no country) sort first within their group as well.
    grouped: dict[str, list[queries.OrgRef]] = {key: [] for key, _ in APPROVER_GROUPS}
    other: list[queries.OrgRef] = []
    for r in sorted(rows, key=lambda r: (r.country or "", r.short_name.lower())):
        grouped.get(r.type, other).append(queries.OrgRef(r.id, r.short_name, r.name, r.country))
    groups = [(label, grouped[key]) for key, label in APPROVER_GROUPS]
    return [*groups, ("Other organisations", other)]


def new_choices(db: Session, principal: Principal, values: dict[str, Any]) -> dict[str, Any]:
    extra = [values.get("language", ""), *(b["lang"] for b in values.get("translations", []))]
    return {
        "crisis_choices": _crisis_choices(db, principal, values.get("crisis", "")),
        "kind_choices": KIND_CHOICES,
        "languages": language_choices(extra),
        "approver_groups": approver_groups(db),
        "tlp_choices": TLP_CHOICES,
    }


def _people(db: Session, principal: Principal, user_ids: Iterable[str | None]) -> dict[str, str]:
    """Who did something, in words: an e-mail address for the reader's colleagues, else the organisation only."""
    wanted = sorted({u for u in user_ids if u})
    if not wanted:
        return {}
    rows = db.execute(select(User.id, User.email, User.org_id).where(User.id.in_(wanted))).all()
    orgs = queries.org_refs(db, (r.org_id for r in rows))
    return {
        r.id: r.email if r.org_id == principal.org_id else (orgs[r.org_id].short_name if r.org_id in orgs else "")
        for r in rows
    }


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
    query = select(Communication).where(read_filter(principal, Communication))
    error, code, rows = None, 200, []
    try:
        if chosen["state"]:
            if chosen["state"] not in STATE_LABELS:
                raise bad("state", f"'{chosen['state'][:20]}' is not a state; choose one of the list")
            query = query.where(Communication.state == chosen["state"])
        if chosen["crisis"]:
            if not _crisis_titles(db, principal, [chosen["crisis"]]):
                raise bad("crisis", "no crisis you may see has this id")
            query = query.where(Communication.crisis_id == chosen["crisis"])
        after = decode_cursor(cursor or None, 2)
        if after:
            query = query.where(
                tuple_(Communication.modified_at, Communication.id) < tuple_(cursor_time(after[0]), after[1])
            )
        order = (Communication.modified_at.desc(), Communication.id.desc())
        rows = list(db.scalars(query.order_by(*order).limit(PAGE_SIZE + 1)))
    except InvalidInput as exc:
        # A hand-edited address: the page with the message rather than an error page.
        error, code = exc.detail, 422
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    waiting_ids = service.waiting_for_many(db, rows)
    names = service.org_names(db, [o for ws in waiting_ids.values() for o in ws])
    waiting = {cid: [names.get(o, o) for o in ws] for cid, ws in waiting_ids.items()}
    filters = {k: v for k, v in chosen.items() if v}
    nxt = encode_cursor([rows[-1].modified_at.isoformat(), rows[-1].id]) if more else None
    return render(
        request,
        "communications.html",
        {
            "rows": rows,
            "waiting": waiting,
            "owners": queries.org_refs(db, (c.owner_org_id for c in rows)),
            "crises": _crisis_titles(db, principal, (c.crisis_id for c in rows)),
            "chosen": chosen,
            "filtered": bool(filters),
            "error": error,
            "states": list(STATE_LABELS.items()),
            "crisis_choices": _crisis_choices(db, principal, chosen["crisis"]),
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
    chosen = crisis.strip() if _crisis_titles(db, principal, [crisis.strip()]) else ""
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
    check_csrf(request, db, data.csrf_token)
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
    except _Refusals as exc:
        db.rollback()
        return _new_form(request, db, principal, failed(exc, values), status=exc.status)
    return see_other(f"/communications/{c.id}?done=created")


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
    for v in reversed(service.versions(db, view.id)):
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
    ids = [view.id] + ([view.publication] if view.publication else [])
    events = audit.timeline_of(db, reader=principal, object_ids=ids)
    orgs = queries.org_refs(db, (e.actor_org_id or "" for e in events))
    # Other organisations' staff are named by organisation only, as on the other pages.
    emails = queries.user_emails(db, (e.actor_user_id or "" for e in events if e.actor_org_id == principal.org_id))
    entries: list[dict[str, Any]] = []
    for e in events:
        summary = audit_summary(e.summary, view.id)
        entries.append(
            {
                "at": e.occurred_at,
                "what": EVENT_LABELS.get(e.tag, e.tag),
                "org": orgs.get(e.actor_org_id or ""),
                "user": emails.get(e.actor_user_id or ""),
                "summary": summary,
            }
        )
    return {"timeline": entries, "timeline_names": queries.org_names_in(db, (e["summary"] for e in entries))}


def audit_summary(raw: dict[str, Any], communication_id: str) -> dict[str, Any]:
    """An event's summary for the page: the crisis is left out (the reader may not see it; the page names it when
    they may), a state change reads "draft → withdrawn"."""
    summary = dict(raw)
    summary.pop("crisis", None)
    if summary.get("communication") == communication_id:  # the page the reader is on
        summary.pop("communication")
    if summary.get("exercise") is False:
        summary.pop("exercise")
    state = summary.get("state")
    if isinstance(state, list) and len(state) == 2:
        summary["state"] = f"{state[0]} → {state[1]}"
    return summary


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
    communication_id: str,
    *,
    form: tuple[str, FormState] | None = None,
    done: str = "",
    code: int = 200,
) -> Response:
    """One communication; `form` is a refused form (its name and state) to show again with its errors."""
    c = service.get(db, principal, communication_id)
    view = communication_out(db, c, principal, _settings(request))
    is_open = view.state not in service.CLOSED
    is_owner = principal.org_id == view.owner
    is_approver = principal.org_id in {o.id for o in view.approvers}
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
    people = _people(
        db, principal, [*(a.user for a in view.approvals), *(v.created_by_id for v in service.versions(db, c.id))]
    )
    can_write = principal.has(Permission.COMMUNICATION_WRITE)
    owner = queries.org_refs(db, [view.owner]).get(view.owner)
    mine = next((a for a in view.approvals if a.version == view.version and a.org == principal.org_id), None)
    extra_langs = [view.language, *(b["lang"] for b in forms["edit"].values.get("translations", []))]
    return render(
        request,
        "communication.html",
        {
            "c": view,
            "tlp": TLP(view.tlp),
            "owner": owner,
            "author": people.get(view.created_by or "") if is_owner else None,
            "crisis_title": _crisis_titles(db, principal, [view.crisis]).get(view.crisis or ""),
            "texts": _texts(view),
            "approval_rows": _approval_rows(view, people),
            "versions": _version_rows(db, view, people),
            "release": _release_state(view),
            "recipients": queries.recipients(db, sharing.shares_of(db, view.id)),
            "kind_labels": KIND_LABELS,
            "state_labels": STATE_LABELS,
            "languages": language_choices(extra_langs),
            "is_open": is_open,
            "is_owner": is_owner,
            "can_edit": is_open and can_write and (is_owner or is_approver),
            "can_verdict": is_open and is_approver and principal.has(Permission.COMMUNICATION_APPROVE),
            "my_verdict": mine,
            "can_release": is_open and is_owner and can_write and view.kind == CommKind.STATEMENT,
            "can_withdraw": is_open and is_owner and can_write,
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
    communication_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    done: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    return render_communication(request, db, principal, communication_id, done=done)


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
    form = failed(exc, values)
    return render_communication(request, db, principal, communication_id, form=(name, form), code=exc.status)


def _back(communication_id: str, done: str, anchor: str) -> Response:
    return see_other(f"/communications/{communication_id}?done={done}#{anchor}")


@router.post("/communications/{communication_id}/edit")
def edit_communication(
    *, communication_id: str, request: Request, db: DB, principal: PagePrincipal, data: Annotated[EditForm, Form()]
) -> Response:
    check_csrf(request, db, data.csrf_token)
    more = data.action == MORE_LANGUAGES
    values = {**text_values(data, more=more), "version": data.version}
    if more:  # another empty translation block; nothing is saved
        service.get(db, principal, communication_id)  # 404 for a reader who may not see it
        return render_communication(request, db, principal, communication_id, form=("edit", FormState(values=values)))
    try:
        before = service.get(db, principal, communication_id).current_version
        c = service.update(db, actor=principal, communication_id=communication_id, patch=to_patch(data))
    except _Refusals as exc:
        return _refused(request, db, principal, communication_id, "edit", exc, values)
    return _back(c.id, "edited" if c.current_version != before else "unchanged", "versions")


def _verdict(
    request: Request, db: Session, principal: Principal, communication_id: str, data: VerdictForm, verdict: Verdict
) -> Response:
    check_csrf(request, db, data.csrf_token)
    name = "approve" if verdict == Verdict.APPROVE else "changes"
    values = {"comment": data.comment}
    try:
        if verdict == Verdict.CHANGES:
            require_filled(comment=(bool(data.comment.strip()), "say what should change, and why"))
        service.give_verdict(
            db,
            actor=principal,
            communication_id=communication_id,
            version=data.version,
            verdict=verdict,
            comment=data.comment,
        )
    except _Refusals as exc:
        return _refused(request, db, principal, communication_id, name, exc, values)
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
def release_communication(
    *, communication_id: str, request: Request, db: DB, principal: PagePrincipal, csrf_token: Csrf = ""
) -> Response:
    check_csrf(request, db, csrf_token)
    try:
        service.release(db, actor=principal, communication_id=communication_id)
    except _Refusals as exc:
        return _refused(request, db, principal, communication_id, "release", exc, {})
    return _back(communication_id, "released", "release")


@router.post("/communications/{communication_id}/withdraw")
def withdraw_communication(
    *, communication_id: str, request: Request, db: DB, principal: PagePrincipal, csrf_token: Csrf = ""
) -> Response:
    check_csrf(request, db, csrf_token)
    try:
        service.withdraw(db, actor=principal, communication_id=communication_id)
    except _Refusals as exc:
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
    communication_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    from_: Annotated[str, Query(alias="from", max_length=10)] = "",
    to: Annotated[str, Query(max_length=10)] = "",
) -> Response:
    c = service.get(db, principal, communication_id)
    numbers = [v.number for v in service.versions(db, c.id)]
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
                "diff": [(diff_line_class(line), line) for line in ch.diff]
                if ch.diff and not ch.field.endswith("title")
                else None,
            }
            for ch in sorted(service.diff(db, c.id, a, b), key=_field_order)
        ]
    except (InvalidInput, NotFound) as exc:
        error, code = exc.detail, exc.status
    return render(
        request,
        "communication_compare.html",
        {"c": c, "a": a, "b": b, "rows": rows, "error": error, "numbers": numbers, "kind_labels": KIND_LABELS},
        status=code,
    )
