"""Mutual assistance pages: requests for assistance, offers, deployment to closure, the ranking of requests to the
EU Cybersecurity Reserve, and the capability catalogue (Cyber Solidarity Act; CSIRTs Network; ADR 0007).

Every read goes through `assistance.service` (and so through the access layer), every write through the same
service functions as the API: the same checks, audit, notifications and errors. A refused form comes back with
what was typed and the message next to its field, and nothing is written; a successful one redirects (303) to the
page that shows the result, with a short fixed note of what happened.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import case, select
from sqlalchemy.orm import Session

from cybercrisis.access import sharing
from cybercrisis.access.permissions import Permission
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.assistance import ranking, service
from cybercrisis.assistance.models import AssistanceRequest, Capability, Need, OfferState, RequestState
from cybercrisis.assistance.schemas import CapabilityIn, CapabilityPatch, OfferIn, RequestIn
from cybercrisis.audit import service as audit
from cybercrisis.audit.reading import ShownEvent
from cybercrisis.crises.models import Crisis, CrisisStatus
from cybercrisis.db import utcnow
from cybercrisis.deps import DB
from cybercrisis.directory.models import Organisation, OrgType
from cybercrisis.errors import Conflict, DomainError, InvalidInput, PermissionDenied
from cybercrisis.incidents.models import Incident
from cybercrisis.web import queries
from cybercrisis.web.forms import FormState, bad, require_filled, share_with, validated
from cybercrisis.web.incident_form import local_minutes, parse_utc, required_utc
from cybercrisis.web.pagedeps import PagePrincipal, check_csrf, see_other
from cybercrisis.web.render import render

router = APIRouter()
PAGE_SIZE = 50
CRISIS_CHOICES = 200  # open crises offered in the request form (and the one asked for by ?crisis=)
Csrf = Annotated[str, Form(max_length=100)]
Filter = Annotated[str, Query(max_length=200)]
_Refusals = (InvalidInput, Conflict, PermissionDenied)
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")

# --- words ------------------------------------------------------------------------------------------------------

NEEDS: list[tuple[str, str, str]] = [
    (Need.INCIDENT_RESPONSE.value, "Incident response team", "People to contain and eradicate, on site or remote."),
    (Need.FORENSICS.value, "Forensics", "Acquisition and analysis of disks, memory and logs."),
    (Need.MALWARE_ANALYSIS.value, "Malware analysis", "Reverse engineering, detection rules, decryptors."),
    (Need.DDOS_MITIGATION.value, "DDoS mitigation", "Scrubbing capacity, upstream filtering, traffic analysis."),
    (Need.LIAISON.value, "Liaison", "A liaison officer to coordinate with the helping teams or authorities."),
    (Need.OTHER.value, "Other", "Say what in the description."),
]
NEED_LABELS = {value: label for value, label, _ in NEEDS}
URGENCIES: list[tuple[str, str, str]] = [
    ("immediate", "Immediate", "Help is needed within hours."),
    ("urgent", "Urgent", "Help is needed within a day."),
    ("routine", "Routine", "Help is needed within days."),
]
URGENCY_LABELS = {value: label for value, label, _ in URGENCIES}
ENTITY_TYPES = [("essential", "Essential entity (NIS2)"), ("important", "Important entity (NIS2)")]
SEVERITIES = [("high", "High"), ("medium", "Medium"), ("low", "Low")]
IMPACTS = [
    ("red", "Red: very large impact"),
    ("yellow", "Yellow: large impact"),
    ("green", "Green: minor impact"),
    ("white", "White: no impact"),
]
SPILLOVERS = [("high", "High"), ("medium", "Medium"), ("low", "Low"), ("none", "None")]
# Reg. (EU) 2025/38 Art. 16 point (c): the potential impact on the affected Member State(s) or users.
POTENTIAL_IMPACTS = [("high", "High"), ("medium", "Medium"), ("low", "Low")]
STATE_LABELS = {
    RequestState.OPEN.value: "Open",
    RequestState.IN_SUPPORT.value: "In support",
    RequestState.SUPPORT_ENDED.value: "Support ended",
    RequestState.CLOSED.value: "Closed",
    RequestState.WITHDRAWN.value: "Withdrawn",
}
STATE_HELP = {
    RequestState.OPEN.value: "asking; offers welcome",
    RequestState.IN_SUPPORT.value: "an offer was accepted; support under way",
    RequestState.SUPPORT_ENDED.value: "waiting for the summary report",
    RequestState.CLOSED.value: "summary report recorded",
    RequestState.WITHDRAWN.value: "withdrawn by the requester",
}
OFFER_STATE_LABELS = {
    OfferState.OFFERED.value: "Offered",
    OfferState.ACCEPTED.value: "Accepted",
    OfferState.DECLINED.value: "Declined",
    OfferState.WITHDRAWN.value: "Withdrawn",
}
# A request must reach its recipients: TLP:RED is not offered (the service refuses it).
REQUEST_TLPS = [(t.value, t.label) for t in reversed(TLP) if t != TLP.RED]
# The communities a request may be addressed to, when the directory has them.
REQUEST_COMMUNITIES = ("csirts-network", "eu-cyclone")
# The organisations a request may name: those that speak for a Member State in a crisis.
RECIPIENT_TYPES = (
    (OrgType.NATIONAL_CSIRT, "National CSIRTs"),
    (OrgType.CRISIS_AUTHORITY, "Cyber crisis management authorities"),
)
CRITERION_LABELS = {
    "severity": "Severity of the incident (its impact severity)",
    "entity_type": "Entity type",
    "potential_impact": "Potential impact on the Member State(s) or users",
    "spillover": "Cross-border spill-over risk",
    "measures_taken": "Measures taken (precondition; shown, not ranked)",
}
EVENT_LABELS = {
    service.REQUEST_CREATE: "Request sent",
    service.REQUEST_WITHDRAW: "Request withdrawn",
    service.REQUEST_SUPPORT_ENDED: "Support ended",
    service.REQUEST_SUMMARY: "Summary report recorded",
    service.SUMMARY_DUE: "Summary report reminder sent",
    service.OFFER_CREATE: "Offer made",
    service.OFFER_ACCEPT: "Offer accepted",
    service.OFFER_DECLINE: "Offer declined",
    service.OFFER_WITHDRAW: "Offer withdrawn",
    service.CAPABILITY_CREATE: "Entry published",
    service.CAPABILITY_UPDATE: "Entry changed",
    service.CAPABILITY_DELETE: "Entry deleted",
}
# Shown after a successful form, from `?done=`: fixed texts, never anything taken from the address.
DONE_NOTES = {
    "sent": "The request was sent. Its recipients were told and may now offer help.",
    "offered": "Your offer was sent to the requester only; other recipients do not see it.",
    "accepted": "The offer was accepted and its organisation told.",
    "declined": "The offer was declined and its organisation told.",
    "offer-withdrawn": "Your offer was withdrawn and the requester told.",
    "support-ended": "Support ended. The summary report is due by the date shown below.",
    "transmitted": "The request was transmitted to the EU Cybersecurity Reserve; its administrators were told.",
    "summary": "The summary report is recorded; the request is closed.",
    "withdrawn": "The request was withdrawn; pending offers were withdrawn with it and their organisations told.",
    "published": "The entry is in the catalogue.",
    "saved": "The entry was changed.",
    "activated": "The entry is active again: requests are matched against it.",
    "deactivated": "The entry is inactive: requests are not matched against it until you activate it again.",
    "deleted": "The entry was deleted from the catalogue.",
}
# What each form on the request page is, for the message at the top of the page when it was refused.
FORM_TITLES = {
    "offer": ("Your offer was not sent", "offer-form"),
    "decide": ("The offer was not decided", "offers"),
    "withdraw-offer": ("Your offer was not withdrawn", "offers"),
    "support-ended": ("Support was not marked as ended", "support-ended-form"),
    "summary": ("The summary report was not recorded", "summary-form"),
    "withdraw": ("The request was not withdrawn", "lifecycle"),
    "transmit": ("The request was not transmitted to the Reserve", "transmit-form"),
}

# --- what the browser posts -------------------------------------------------------------------------------------


class _Form(BaseModel):
    model_config = ConfigDict(extra="ignore")

    csrf_token: str = Field(default="", max_length=100)


class RequestForm(_Form):
    """The request form as posted; checkboxes send "yes" when ticked."""

    needs: list[str] = Field(default_factory=list, max_length=20)
    description: str = Field(default="", max_length=20_000)
    affected_entity: str = Field(default="", max_length=1000)
    entity_type: str = Field(default="", max_length=32)
    impact: str = Field(default="", max_length=32)
    severity: str = Field(default="", max_length=32)
    spillover: str = Field(default="", max_length=32)
    potential_impact: str = Field(default="", max_length=32)
    measures_taken: str = Field(default="", max_length=20_000)
    other_support: str = Field(default="", max_length=20_000)
    urgency: str = Field(default="", max_length=32)
    organisations: list[str] = Field(default_factory=list, max_length=500)
    communities: list[str] = Field(default_factory=list, max_length=50)
    reserve: str = Field(default="", max_length=8)
    crisis: str = Field(default="", max_length=200)
    tlp: str = Field(default="", max_length=20)
    exercise: str = Field(default="", max_length=8)


class OfferForm(_Form):
    capability: str = Field(default="", max_length=64)
    people: str = Field(default="", max_length=20)
    available_from: str = Field(default="", max_length=40)
    conditions: str = Field(default="", max_length=10_000)
    capability_id: str = Field(default="", max_length=200)


class DecideForm(_Form):
    verdict: str = Field(default="", max_length=16)
    comment: str = Field(default="", max_length=5_000)


class SupportEndedForm(_Form):
    ended_at: str = Field(default="", max_length=40)


class SummaryForm(_Form):
    report: str = Field(default="", max_length=100_000)


class CapabilityForm(_Form):
    kind: str = Field(default="", max_length=64)
    title: str = Field(default="", max_length=1000)
    description: str = Field(default="", max_length=20_000)
    notice_hours: str = Field(default="", max_length=20)
    people: str = Field(default="", max_length=20)
    tlp: str = Field(default="", max_length=20)
    communities: list[str] = Field(default_factory=list, max_length=50)
    organisations: list[str] = Field(default_factory=list, max_length=500)
    users: str = Field(default="", max_length=20_000)


class CapabilityEditForm(_Form):
    version: int = Field(default=0, ge=0)
    kind: str = Field(default="", max_length=64)
    title: str = Field(default="", max_length=1000)
    description: str = Field(default="", max_length=20_000)
    notice_hours: str = Field(default="", max_length=20)
    people: str = Field(default="", max_length=20)


class ActiveForm(_Form):
    version: int = Field(default=0, ge=0)
    active: str = Field(default="", max_length=8)


def _whole(field: str, text: str, *, label: str) -> int | None:
    value = text.strip().replace(" ", "")
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise bad(field, f"{label}: '{text.strip()[:20]}' is not a whole number") from None


# Service field names -> form field names, for showing each error next to its control.
_ALIASES = {"share_with": "communities"}


def failed(exc: DomainError, values: dict[str, Any], *, fallback: str = "") -> FormState:
    """The form again with the service's complaints next to the fields they are about."""
    form = FormState(values=values, message=exc.detail)
    errors: dict[str, str] = {}
    for err in exc.errors:
        name = str(err.get("field", ""))
        for prefix in ("recipients.", "share_with."):
            name = name.removeprefix(prefix)
        key = name.split("[", 1)[0].split(".", 1)[0]
        key = _ALIASES.get(key, key)
        if key and key != "form":
            message = exc.detail if len(exc.errors) == 1 else str(err.get("message", ""))
            errors.setdefault(key, message)
    if not errors and fallback:
        errors[fallback] = exc.detail
    form.errors = errors
    return form


def to_request_in(form: RequestForm) -> RequestIn:
    require_filled(description=(form.description, "say what happened and what help is wanted"))
    return validated(
        RequestIn,
        {
            "needs": form.needs,
            "description": form.description.strip(),
            "urgency": form.urgency or "urgent",
            "recipients": {
                "organisations": form.organisations,
                "communities": form.communities,
                "reserve": form.reserve == "yes",
            },
            "affected_entity": form.affected_entity.strip(),
            "entity_type": form.entity_type or "essential",
            "impact": form.impact or "yellow",
            "severity": form.severity or "medium",
            "spillover": form.spillover or "low",
            "potential_impact": form.potential_impact or None,
            "measures_taken": form.measures_taken.strip(),
            "other_support": form.other_support.strip(),
            "crisis": form.crisis or None,
            "tlp": form.tlp or TLP.AMBER.value,
            "exercise": form.exercise == "yes",
        },
        depth=2,
    )


def to_offer_in(form: OfferForm) -> OfferIn:
    require_filled(
        capability=(form.capability, "choose what you offer"),
        people=(form.people, "say how many people"),
        available_from=(form.available_from, "say from when (UTC)"),
    )
    return validated(
        OfferIn,
        {
            "capability": form.capability,
            "people": _whole("people", form.people, label="people"),
            "available_from": required_utc(form.available_from, field="available_from"),
            "conditions": form.conditions.strip(),
            "capability_id": form.capability_id or None,
        },
        depth=2,
    )


def _capability_fields(form: CapabilityForm | CapabilityEditForm) -> dict[str, Any]:
    require_filled(
        kind=(form.kind, "choose what kind of help it is"),
        title=(form.title, "give the entry a title"),
        notice_hours=(form.notice_hours, "say how many hours of notice are needed"),
        people=(form.people, "say how many people"),
    )
    return {
        "kind": form.kind,
        "title": form.title.strip(),
        "description": form.description.strip(),
        "notice_hours": _whole("notice_hours", form.notice_hours, label="notice"),
        "people": _whole("people", form.people, label="people"),
    }


def to_capability_in(form: CapabilityForm) -> CapabilityIn:
    fields = _capability_fields(form)
    return validated(
        CapabilityIn,
        {
            **fields,
            "tlp": form.tlp or TLP.GREEN.value,
            "share_with": share_with(form.organisations, form.communities, form.users),
        },
        depth=2,
    )


# --- look-ups the forms and pages need --------------------------------------------------------------------------


def _org(db: Session, principal: Principal) -> Organisation | None:
    return db.get(Organisation, principal.org_id) if principal.org_id else None


def national_org(db: Session, principal: Principal) -> Organisation | None:
    """The reader's organisation when it may ask for assistance for its Member State (as the service checks)."""
    org = _org(db, principal)
    if not principal.has(Permission.ASSISTANCE_WRITE) or org is None:
        return None
    return org if org.type in service.NATIONAL_TYPES and org.country else None


def _require_national(db: Session, principal: Principal) -> Organisation:
    principal.require(Permission.ASSISTANCE_WRITE)
    org = national_org(db, principal)
    if org is None:
        mine = _org(db, principal)
        where = f"{mine.short_name} ({mine.type}, {mine.country or 'no country'})" if mine else "no organisation"
        raise PermissionDenied(
            "a Member State asks for assistance through its national CSIRT, SPOC, competent "
            f"authority or crisis authority; you act for {where}"
        )
    return org


def _spoc_of(db: Session, country: str) -> Organisation | None:
    return db.scalars(
        select(Organisation)
        .where(Organisation.type == OrgType.SPOC.value, Organisation.country == country)
        .order_by(Organisation.short_name)
        .limit(1)
    ).first()


def recipient_groups(db: Session, own_org_id: str) -> list[tuple[str, list[queries.OrgRef]]]:
    """National CSIRTs and crisis authorities from the directory, by country, the requester's own left out."""
    groups = []
    for org_type, label in RECIPIENT_TYPES:
        rows = db.execute(
            select(Organisation.id, Organisation.short_name, Organisation.name, Organisation.country)
            .where(Organisation.type == org_type.value, Organisation.id != own_org_id)
            .order_by(Organisation.country, Organisation.short_name)
        ).all()
        groups.append((label, [queries.OrgRef(r.id, r.short_name, r.name, r.country) for r in rows]))
    return groups


def crisis_choices(db: Session, principal: Principal, wanted: str = "") -> list[tuple[str, str]]:
    """Open crises the reader may see (and the one asked for, if the reader may see it), most recent first."""
    is_wanted = case((Crisis.id == wanted, 0), else_=1)
    rows = db.execute(
        select(Crisis.id, Crisis.title, Crisis.status)
        .where(read_filter(principal, Crisis), (Crisis.status == CrisisStatus.OPEN.value) | (Crisis.id == wanted))
        .order_by(is_wanted, Crisis.modified_at.desc(), Crisis.id)
        .limit(CRISIS_CHOICES)
    ).all()
    out = [(r.id, r.title if r.status == CrisisStatus.OPEN.value else f"{r.title} (closed)") for r in rows]
    return sorted(out, key=lambda pair: pair[0] != wanted)


def _readable_titles(
    db: Session, principal: Principal, model: type[Crisis] | type[Incident] | type[Capability], ids: Iterable[str]
) -> dict[str, str]:
    """Titles of the objects the reader may see, by id; the others are left out."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    rows = db.execute(select(model.id, model.title).where(model.id.in_(wanted), read_filter(principal, model)))
    return {r.id: r.title for r in rows}


def _request_choices(db: Session, principal: Principal, org: Organisation) -> dict[str, Any]:
    names = queries.community_names(db)
    spoc = None
    if org.type != OrgType.SPOC.value and org.country:
        spoc = _spoc_of(db, org.country)
    return {
        "org": org,
        "is_spoc": org.type == OrgType.SPOC.value,
        "spoc": spoc,
        "needs": NEEDS,
        "urgencies": URGENCIES,
        "entity_types": ENTITY_TYPES,
        "severities": SEVERITIES,
        "impacts": IMPACTS,
        "spillovers": SPILLOVERS,
        "potential_impacts": POTENTIAL_IMPACTS,
        "recipient_groups": recipient_groups(db, org.id),
        "communities": [(slug, names[slug]) for slug in REQUEST_COMMUNITIES if slug in names],
        "request_tlps": REQUEST_TLPS,
        "reserve_handlers": sorted(
            queries.org_refs(db, service.reserve_handlers(db)).values(), key=lambda o: o.short_name
        ),
    }


def _may_see_reserve_requests(db: Session, principal: Principal) -> bool:
    return (
        db.scalars(
            select(AssistanceRequest.id)
            .where(
                read_filter(principal, AssistanceRequest),
                AssistanceRequest.recipients["reserve"].as_boolean().is_(True),
            )
            .limit(1)
        ).first()
        is not None
    )


def _common() -> dict[str, Any]:
    return {
        "need_labels": NEED_LABELS,
        "urgency_labels": URGENCY_LABELS,
        "state_labels": STATE_LABELS,
        "state_help": STATE_HELP,
        "offer_state_labels": OFFER_STATE_LABELS,
    }


# --- the list ---------------------------------------------------------------------------------------------------


@router.get("/assistance", response_class=HTMLResponse)
def request_list(
    *,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    state: Filter = "",
    crisis: Filter = "",
    cursor: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    chosen = {"state": state.strip(), "crisis": crisis.strip()}
    error, code, rows, nxt = None, 200, [], None
    try:
        page = service.list_requests(
            db,
            reader=principal,
            state=chosen["state"] or None,
            crisis=chosen["crisis"] or None,
            cursor=cursor or None,
            limit=PAGE_SIZE,
        )
        rows, nxt = page.items, page.next
    except InvalidInput as exc:  # a hand-edited address: the page with the message rather than an error page
        error, code = exc.detail, 422
    offers = service.visible_offers(db, principal, [r.id for r in rows])
    filters = {k: v for k, v in chosen.items() if v}
    crisis_title = _readable_titles(db, principal, Crisis, [chosen["crisis"]]).get(chosen["crisis"])
    return render(
        request,
        "assistance.html",
        {
            "rows": rows,
            "offer_counts": {rid: len(v) for rid, v in offers.items()},
            "owners": queries.org_refs(db, (r.owner_org_id for r in rows)),
            "chosen": chosen,
            "crisis_title": crisis_title,
            "filtered": bool(filters),
            "error": error,
            "states": list(STATE_LABELS.items()),
            "can_ask": national_org(db, principal) is not None,
            "can_rank": _may_see_reserve_requests(db, principal),
            "next_url": f"/assistance?{urlencode({**filters, 'cursor': nxt})}" if nxt else None,
            "first_url": f"/assistance?{urlencode(filters)}" if cursor else None,
            **_common(),
        },
        status=code,
    )


# --- asking for assistance --------------------------------------------------------------------------------------


def _new_form(
    request: Request, db: Session, principal: Principal, org: Organisation, form: FormState, status: int = 200
) -> Response:
    ctx = {
        "form": form,
        **_request_choices(db, principal, org),
        **_common(),
        "crisis_choices": crisis_choices(db, principal, str(form.values.get("crisis", ""))),
    }
    return render(request, "assistance_new.html", ctx, status=status)


@router.get("/assistance/new", response_class=HTMLResponse)
def new_request_form(
    *, request: Request, db: DB, principal: PagePrincipal, crisis: Annotated[str, Query(max_length=200)] = ""
) -> Response:
    org = _require_national(db, principal)
    values = {
        "needs": [],
        "urgency": "urgent",
        "entity_type": "essential",
        "impact": "yellow",
        "severity": "medium",
        "spillover": "low",
        "potential_impact": "",
        "organisations": [],
        "communities": [],
        "reserve": "",
        "crisis": crisis.strip(),
        "tlp": TLP.AMBER.value,
    }
    return _new_form(request, db, principal, org, FormState(values=values))


@router.post("/assistance/new")
def create_request(
    *, request: Request, db: DB, principal: PagePrincipal, data: Annotated[RequestForm, Form()]
) -> Response:
    check_csrf(request, db, data.csrf_token)
    org = _require_national(db, principal)
    values = data.model_dump(exclude={"csrf_token"})
    try:
        req = service.create_request(
            db,
            actor=principal,
            data=to_request_in(data),
            response_hours=request.app.state.settings.reserve_response_hours,
        )
    except _Refusals as exc:
        db.rollback()
        # Refused without a field: the Reserve, which a CSIRT or crisis authority asks (Reg. (EU) 2025/38 Art. 14(3)).
        fallback = "reserve" if isinstance(exc, PermissionDenied) and data.reserve == "yes" else ""
        org = _require_national(db, principal)
        return _new_form(request, db, principal, org, failed(exc, values, fallback=fallback), status=exc.status)
    return see_other(f"/assistance/{req.id}?done=sent")


# --- the Reserve ranking ----------------------------------------------------------------------------------------


@router.get("/assistance/reserve-ranking", response_class=HTMLResponse)
def reserve_ranking(*, request: Request, db: DB, principal: PagePrincipal) -> Response:
    rows = service.reserve_queue(db, reader=principal)
    priority = ranking.parse_priority(request.app.state.settings.reserve_priority)
    ranked = ranking.rank(
        [
            ranking.RankInput(
                id=r.id,
                severity=r.impact,  # the incident's impact severity (Reg. (EU) 2025/38 Art. 16 point (a))
                entity_type=r.entity_type,
                potential_impact=r.potential_impact or "",
                spillover=r.spillover,
                measures_taken=r.measures_taken,
                created_at=r.created_at,
            )
            for r in rows
        ],
        priority,
    )
    by_id = {r.id: r for r in rows}
    position = {x.item.id: x.rank for x in ranked}
    owners = queries.org_refs(db, (r.owner_org_id for r in rows))

    def name_of(rid: str) -> str:
        r = by_id[rid]
        owner = owners.get(r.owner_org_id)
        return f"#{position[rid]} ({owner.short_name if owner else r.country or 'unknown'})"

    items = []
    for x in ranked:
        reason = x.reason
        for other in by_id:  # the next request by its rank and requester, not by its id
            reason = reason.replace(other, name_of(other))
        items.append(
            {
                "rank": x.rank,
                "r": by_id[x.item.id],
                "reason": reason[:1].upper() + reason[1:],
                "criteria": [
                    {"label": CRITERION_LABELS.get(c.criterion, c.criterion), "value": c.value, "note": c.note}
                    for c in x.explanation
                ],
            }
        )
    # The deployment's order (CYBERCRISIS_RESERVE_PRIORITY), each criterion with the Act's article and point.
    rules = [
        (f"{CRITERION_LABELS.get(n, n)} ({ranking.RULES[n].legal_basis})", " > ".join(ranking.RULES[n].order))
        for n in priority
    ]
    return render(request, "assistance_ranking.html", {"items": items, "owners": owners, "rules": rules, **_common()})


# --- one request ------------------------------------------------------------------------------------------------


def _shown(value: object, seen: set[str]) -> object:
    """An audit summary value in words: a crisis, incident or catalogue entry the reader may not see is not shown,
    not even as an id; yes/no for flags; times in UTC as the rest of the page shows them."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and value.startswith(("crisis--", "incident--", "capability--")) and value not in seen:
        return "one you may not see"
    if isinstance(value, str) and _ISO_TIME.match(value):
        try:
            return f"{datetime.fromisoformat(value).astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        except ValueError:
            return value
    if isinstance(value, list):
        return [_shown(v, seen) for v in value]
    return value


def _timeline(
    db: Session, principal: Principal, events: list[ShownEvent], *, page_id: str, names: dict[str, str]
) -> dict[str, Any]:
    orgs = queries.org_refs(db, (e.actor_org_id or "" for e in events))
    # Other organisations' staff are named by organisation only, as on the other pages.
    emails = queries.user_emails(db, (e.actor_user_id or "" for e in events if e.actor_org_id == principal.org_id))
    seen = set(names)
    entries: list[dict[str, Any]] = [
        {
            "at": e.occurred_at,
            "what": EVENT_LABELS.get(e.tag, e.tag),
            "org": orgs.get(e.actor_org_id or ""),
            "user": emails.get(e.actor_user_id or ""),
            # The page's own id names the page the reader is on.
            "summary": {k: _shown(v, seen) for k, v in e.summary.items() if v is not None and v != page_id},
        }
        for e in events
    ]
    all_names = queries.org_names_in(db, (e["summary"] for e in entries))
    all_names.update(names)
    return {"timeline": entries, "timeline_names": all_names}


def _addressed_to(db: Session, r: AssistanceRequest) -> dict[str, Any]:
    chosen = r.recipients or {}
    orgs = queries.org_refs(db, chosen.get("organisations") or [])
    names = queries.community_names(db)
    return {
        "organisations": sorted(orgs.values(), key=lambda o: (o.country or "", o.short_name.lower())),
        "communities": [(c, names.get(c, c)) for c in chosen.get("communities") or []],
        "reserve": bool(chosen.get("reserve")),
    }


def _offer_defaults(r: AssistanceRequest) -> dict[str, Any]:
    soon = utcnow().astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return {
        "capability": r.needs[0] if len(r.needs) == 1 else "",
        "people": "1",
        "available_from": local_minutes(soon),
        "conditions": "",
        "capability_id": "",
    }


def _months(n: int) -> str:
    """The summary report's period in words (the deployment's rule, CYBERCRISIS_RESERVE_SUMMARY_MONTHS)."""
    return "one calendar month" if n == 1 else f"{n} calendar months"


def render_request(
    request: Request,
    db: Session,
    principal: Principal,
    request_id: str,
    *,
    form: tuple[str, FormState] | None = None,
    done: str = "",
    code: int = 200,
) -> Response:
    """The request page; `form` is a refused form (its name and state) to show again with its errors."""
    r = service.get_request(db, principal, request_id)
    offers = service.visible_offers(db, principal, [r.id])[r.id]
    found = service.matches(db, principal, r)
    writer = principal.has(Permission.ASSISTANCE_WRITE) and principal.org_id is not None
    is_requester = writer and principal.org_id == r.owner_org_id
    can_offer = writer and not is_requester and r.state == RequestState.OPEN.value
    # Reg. (EU) 2025/38 Art. 15(3)(a): an SPOC of the requester's Member State transmits a Reserve request. The
    # service decides (a POST from anyone else is refused there); the page offers the button to those it would let.
    acting = _org(db, principal) if writer else None
    can_transmit = (
        acting is not None
        and acting.type == OrgType.SPOC.value
        and bool(r.country)
        and acting.country == r.country
        and bool((r.recipients or {}).get("reserve"))
        and r.transmitted_at is None
        and r.state == RequestState.OPEN.value
    )
    own_entries: list[Capability] = []
    if can_offer:
        own = service.list_capabilities(db, reader=principal, owner=principal.org_id, active=True, limit=200).items
        own_entries = [c for c in own if c.kind in r.needs]
    orgs = queries.org_refs(
        db,
        [
            r.owner_org_id,
            *(o.owner_org_id for o in offers),
            *(c.owner_org_id for c in found),
            *([r.transmitted_by_org_id] if r.transmitted_by_org_id else []),
        ],
    )
    crises = _readable_titles(db, principal, Crisis, [r.crisis_id or ""])
    incidents = _readable_titles(db, principal, Incident, r.incident_ids)
    forms = {
        "offer": FormState(values=_offer_defaults(r)),
        "decide": FormState(values={}),
        "withdraw-offer": FormState(values={}),
        "support-ended": FormState(values={"ended_at": ""}),
        "summary": FormState(values={"report": ""}),
        "withdraw": FormState(values={}),
        "transmit": FormState(values={}),
    }
    failed_form, failure = None, None
    if form is not None:
        failed_form, forms[form[0]] = form[0], form[1]
        title, anchor = FORM_TITLES[form[0]]
        failure = {
            "name": form[0],
            "title": title,
            "anchor": anchor,
            "message": form[1].message or "",
            "offer": form[1].values.get("offer"),
        }
    decidable = is_requester and r.state in service.DECIDABLE
    offer_rows = [
        {
            "o": o,
            "can_decide": decidable and o.state == OfferState.OFFERED.value,
            "can_withdraw": writer and o.owner_org_id == principal.org_id and o.state == OfferState.OFFERED.value,
        }
        for o in offers
    ]
    now = utcnow()
    entries = _readable_titles(db, principal, Capability, (o.capability_id or "" for o in offers))
    names = {
        **crises,
        **incidents,
        **entries,
        **{o.id: f"offer of {orgs[o.owner_org_id].short_name}" for o in offers if o.owner_org_id in orgs},
    }
    events = audit.timeline_of(db, reader=principal, object_ids=[r.id, *(o.id for o in offers)])
    return render(
        request,
        "assistance_request.html",
        {
            "r": r,
            "tlp": TLP(r.tlp),
            "owner": orgs.get(r.owner_org_id),
            "orgs": orgs,
            "addressed": _addressed_to(db, r),
            "recipients": queries.recipients(db, sharing.shares_of(db, r.id)),
            "crisis_title": crises.get(r.crisis_id or ""),
            "incidents": [(i, incidents[i]) for i in r.incident_ids if i in incidents],
            "offers": offer_rows,
            "matches": found,
            "entries": entries,
            "own_entries": own_entries,
            "is_requester": is_requester,
            "can_offer": can_offer,
            "can_end_support": is_requester and r.state == RequestState.IN_SUPPORT.value,
            "can_summarise": is_requester and r.state == RequestState.SUPPORT_ENDED.value,
            "can_withdraw": is_requester and r.state == RequestState.OPEN.value,
            "can_transmit": can_transmit,
            "potential_impact_labels": dict(POTENTIAL_IMPACTS),
            "summary_months_text": _months(request.app.state.settings.reserve_summary_months),
            "summary_overdue": r.state == RequestState.SUPPORT_ENDED.value
            and r.summary_due_at is not None
            and r.summary_due_at < now,
            "offer_needs": [(n, NEED_LABELS.get(n, n)) for n in r.needs],
            "forms": forms,
            "failed_form": failed_form,
            "failure": failure,
            "done_note": DONE_NOTES.get(done),
            "impact_labels": dict(IMPACTS),
            "entity_type_labels": dict(ENTITY_TYPES),
            **_common(),
            **_timeline(db, principal, events, page_id=r.id, names=names),
        },
        status=code,
    )


@router.get("/assistance/{request_id}", response_class=HTMLResponse)
def request_page(
    *,
    request_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    done: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    return render_request(request, db, principal, request_id, done=done)


def _refused(
    request: Request,
    db: Session,
    principal: Principal,
    request_id: str,
    name: str,
    exc: DomainError,
    values: dict[str, Any],
    fallback: str = "",
) -> Response:
    """Nothing written: the page again, the form with what was typed and the message next to its field."""
    db.rollback()
    state = failed(exc, values, fallback=fallback)
    return render_request(request, db, principal, request_id, form=(name, state), code=exc.status)


def _back(request_id: str, done: str, anchor: str) -> Response:
    return see_other(f"/assistance/{request_id}?done={done}#{anchor}")


@router.post("/assistance/{request_id}/offers")
def make_offer(
    *, request_id: str, request: Request, db: DB, principal: PagePrincipal, data: Annotated[OfferForm, Form()]
) -> Response:
    check_csrf(request, db, data.csrf_token)
    values = data.model_dump(exclude={"csrf_token"})
    try:
        service.make_offer(db, actor=principal, request_id=request_id, data=to_offer_in(data))
    except _Refusals as exc:
        return _refused(request, db, principal, request_id, "offer", exc, values)
    return _back(request_id, "offered", "offers")


@router.post("/assistance/{request_id}/offers/{offer_id}/decide")
def decide_offer(
    *,
    request_id: str,
    offer_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    data: Annotated[DecideForm, Form()],
) -> Response:
    check_csrf(request, db, data.csrf_token)
    values = {"offer": offer_id, **data.model_dump(exclude={"csrf_token"})}
    try:
        if data.verdict not in ("accept", "decline"):
            raise bad("comment", "choose Accept or Decline")
        service.decide_offer(
            db,
            actor=principal,
            request_id=request_id,
            offer_id=offer_id,
            accept=data.verdict == "accept",
            comment=data.comment,
        )
    except _Refusals as exc:
        return _refused(request, db, principal, request_id, "decide", exc, values, fallback="comment")
    return _back(request_id, "accepted" if data.verdict == "accept" else "declined", "offers")


@router.post("/assistance/{request_id}/offers/{offer_id}/withdraw")
def withdraw_offer(
    *, request_id: str, offer_id: str, request: Request, db: DB, principal: PagePrincipal, csrf_token: Csrf = ""
) -> Response:
    check_csrf(request, db, csrf_token)
    try:
        service.withdraw_offer(db, actor=principal, request_id=request_id, offer_id=offer_id)
    except _Refusals as exc:
        return _refused(request, db, principal, request_id, "withdraw-offer", exc, {"offer": offer_id})
    return _back(request_id, "offer-withdrawn", "offers")


@router.post("/assistance/{request_id}/support-ended")
def support_ended(
    *,
    request_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    data: Annotated[SupportEndedForm, Form()],
) -> Response:
    check_csrf(request, db, data.csrf_token)
    values = data.model_dump(exclude={"csrf_token"})
    try:
        ended = parse_utc(data.ended_at, field="ended_at")
        service.end_support(
            db,
            actor=principal,
            request_id=request_id,
            ended_at=ended,
            summary_months=request.app.state.settings.reserve_summary_months,
        )
    except _Refusals as exc:
        return _refused(request, db, principal, request_id, "support-ended", exc, values, fallback="ended_at")
    return _back(request_id, "support-ended", "lifecycle")


@router.post("/assistance/{request_id}/summary")
def record_summary(
    *, request_id: str, request: Request, db: DB, principal: PagePrincipal, data: Annotated[SummaryForm, Form()]
) -> Response:
    check_csrf(request, db, data.csrf_token)
    values = data.model_dump(exclude={"csrf_token"})
    try:
        require_filled(report=(data.report, "write the summary report of the support received"))
        service.record_summary(db, actor=principal, request_id=request_id, report=data.report)
    except _Refusals as exc:
        return _refused(request, db, principal, request_id, "summary", exc, values, fallback="report")
    return _back(request_id, "summary", "lifecycle")


@router.post("/assistance/{request_id}/transmit")
def transmit_request(
    *, request_id: str, request: Request, db: DB, principal: PagePrincipal, csrf_token: Csrf = ""
) -> Response:
    """The requester's SPOC transmits a Reserve request to the contracting authority (Reg. (EU) 2025/38
    Art. 15(3)(a)); the service decides who may, as for the API."""
    check_csrf(request, db, csrf_token)
    try:
        service.transmit_request(
            db, actor=principal, request_id=request_id, response_hours=request.app.state.settings.reserve_response_hours
        )
    except _Refusals as exc:
        return _refused(request, db, principal, request_id, "transmit", exc, {})
    return _back(request_id, "transmitted", "reserve-transmission")


@router.post("/assistance/{request_id}/withdraw")
def withdraw_request(
    *, request_id: str, request: Request, db: DB, principal: PagePrincipal, csrf_token: Csrf = ""
) -> Response:
    check_csrf(request, db, csrf_token)
    try:
        service.withdraw_request(db, actor=principal, request_id=request_id)
    except _Refusals as exc:
        return _refused(request, db, principal, request_id, "withdraw", exc, {})
    return _back(request_id, "withdrawn", "lifecycle")


# --- the capability catalogue -----------------------------------------------------------------------------------


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
        page = service.list_capabilities(
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
            **_common(),
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
    check_csrf(request, db, data.csrf_token)
    _require_catalogue_writer(principal)
    values = data.model_dump(exclude={"csrf_token"})
    try:
        cap = service.create_capability(db, actor=principal, data=to_capability_in(data))
    except _Refusals as exc:
        db.rollback()
        return _capability_form(request, db, failed(exc, values), status=exc.status)
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
    c = service.get_capability(db, principal, capability_id)
    is_owner = principal.has(Permission.CAPABILITY_WRITE) and principal.org_id == c.owner_org_id
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
            **_common(),
            **_timeline(db, principal, events, page_id=c.id, names={}),
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
    check_csrf(request, db, data.csrf_token)
    values = data.model_dump(exclude={"csrf_token"})
    try:
        patch = validated(CapabilityPatch, {"version": data.version, **_capability_fields(data)}, depth=2)
        service.update_capability(db, actor=principal, capability_id=capability_id, patch=patch)
    except _Refusals as exc:
        db.rollback()
        c = service.get_capability(db, principal, capability_id)
        form = failed(exc, values)
        form.message = _stale(exc, c, data.version) or form.message
        return render_capability(request, db, principal, capability_id, edit_form=form, code=exc.status)
    return see_other(f"/capabilities/{capability_id}?done=saved")


@router.post("/capabilities/{capability_id}/active")
def set_capability_active(
    *, capability_id: str, request: Request, db: DB, principal: PagePrincipal, data: Annotated[ActiveForm, Form()]
) -> Response:
    check_csrf(request, db, data.csrf_token)
    active = data.active == "yes"
    try:
        service.update_capability(
            db, actor=principal, capability_id=capability_id, patch=CapabilityPatch(version=data.version, active=active)
        )
    except _Refusals as exc:
        db.rollback()
        c = service.get_capability(db, principal, capability_id)
        message = _stale(exc, c, data.version) or exc.detail
        return render_capability(request, db, principal, capability_id, action_error=message, code=exc.status)
    return see_other(f"/capabilities/{capability_id}?done={'activated' if active else 'deactivated'}")


@router.post("/capabilities/{capability_id}/delete")
def delete_capability(
    *, capability_id: str, request: Request, db: DB, principal: PagePrincipal, csrf_token: Csrf = ""
) -> Response:
    check_csrf(request, db, csrf_token)
    try:
        service.delete_capability(db, actor=principal, capability_id=capability_id)
    except _Refusals as exc:
        db.rollback()
        return render_capability(request, db, principal, capability_id, action_error=exc.detail, code=exc.status)
    return see_other("/capabilities?done=deleted")
