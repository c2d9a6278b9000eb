"""Jinja2 environment and the page renderer shared by every view."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from cybercrisis.access.permissions import Permission, Role
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.db import utcnow
from cybercrisis.directory.countries import COUNTRIES
from cybercrisis.directory.models import ORG_TYPE_LABELS, ContactKind, Level
from cybercrisis.documents.models import DocumentKind
from cybercrisis.incidents import labels as incident_labels

# One line per TLP 2.0 label (FIRST), in the words the sharing forms show next to each choice.
TLP_HELP: dict[str, str] = {
    TLP.CLEAR.value: "Public: recipients may share it with the world.",
    TLP.GREEN.value: "The community: recipients may share it within their community, not publicly.",
    TLP.AMBER.value: "The recipient organisation and its clients (constituents), on a need-to-know basis.",
    TLP.AMBER_STRICT.value: "The recipient organisation only; no onward sharing, not even to its clients.",
    TLP.RED.value: "Named recipients only; no further disclosure.",
}

DOCUMENT_KIND_LABELS: dict[str, str] = {
    DocumentKind.SOP.value: "Standard operating procedure",
    DocumentKind.CRISIS_PLAN.value: "Crisis plan",
    DocumentKind.CONTACT_SHEET.value: "Contact sheet",
    DocumentKind.OTHER.value: "Other",
}

CONTACT_KIND_LABELS: dict[str, str] = {
    ContactKind.DESK_24X7.value: "24/7 desk",
    ContactKind.DUTY_OFFICER.value: "Duty officer",
    ContactKind.EMAIL.value: "E-mail",
    ContactKind.PHONE.value: "Phone",
    ContactKind.SECURE_CHANNEL.value: "Secure channel",
    ContactKind.PGP.value: "PGP",
}

ROLE_LABELS: dict[str, str] = {
    Role.VIEWER.value: "Viewer",
    Role.ANALYST.value: "Analyst",
    Role.COORDINATOR.value: "Coordinator",
    Role.ORG_ADMIN.value: "Organisation admin",
    Role.PLATFORM_ADMIN.value: "Platform admin",
}

LEVEL_LABELS: dict[str, str] = {lv.value: lv.value.capitalize() for lv in Level}

# Most restrictive first, as in the marking pickers.
TLP_OPTIONS: list[tuple[str, str]] = [(t.value, t.label) for t in reversed(TLP)]


def _due(due: datetime) -> tuple[str, str]:
    """A deadline as a clock: its CSS class and its words ("due in 5 h", "overdue by 20 min"), from now."""
    c = incident_labels.deadline(due, utcnow())
    return c.status, c.text


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value is not None else ""


def _sentence(value: str | None) -> str:
    """Service messages start in lower case; pages show sentences. (Jinja's `capitalize` lowers the rest.)"""
    text = (value or "").strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) or not text else ".")


# Audit summary keys whose value is a [before, after] pair.
_CHANGES = frozenset({"tlp", "roles", "is_active"})
# An ISO 8601 time as the audit trail records it: shown like every other time of a page.
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)?$")


def tag_words(tag: str) -> str:
    """An audit tag no page names yet, in words rather than as its key: `incidents:report:overdue` -> "Report
    overdue". Each domain's table names the tags it knows; this is the fallback for the others."""
    parts = [p for p in tag.split(":") if p][-2:]
    words = " ".join(parts).replace("-", " ").replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else tag


def _value(value: object, names: Mapping[str, str]) -> str:
    if isinstance(value, list):
        return ", ".join(_value(v, names) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_value(v, names)}" for k, v in value.items())
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and value not in names and _ISO_TIME.match(value):
        try:
            return _when(datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC))
        except ValueError:
            return value
    return names.get(value, str(value)) if isinstance(value, str) else str(value)


def _summary(summary: Mapping[str, object], names: Mapping[str, str] | None = None) -> str:
    """An audit event's summary in words; ids found in `names` are shown by name."""
    names = names or {}
    parts = []
    for key, value in summary.items():
        label = key.replace("_", " ")
        if key in _CHANGES and isinstance(value, list) and len(value) == 2:
            parts.append(f"{label}: {_value(value[0], names)} → {_value(value[1], names)}")
        else:
            parts.append(f"{label}: {_value(value, names)}")
    return "; ".join(parts)


templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")
templates.env.globals.update(
    due_clock=_due,
    TLP=TLP,
    COUNTRIES=COUNTRIES,
    ORG_TYPE_LABELS={k.value: v for k, v in ORG_TYPE_LABELS.items()},
    Permission=Permission,
    TLP_HELP=TLP_HELP,
    DOCUMENT_KIND_LABELS=DOCUMENT_KIND_LABELS,
    CONTACT_KIND_LABELS=CONTACT_KIND_LABELS,
    ROLE_LABELS=ROLE_LABELS,
    LEVEL_LABELS=LEVEL_LABELS,
    TLP_OPTIONS=TLP_OPTIONS,
    # The incident domain's words (pure data tables in incidents/labels.py), registered once here: the incident,
    # report and situation templates of several domains name statuses, report kinds and taxonomy values.
    STATUS_LABELS=incident_labels.STATUS_LABELS,
    REPORT_KIND_LABELS=incident_labels.REPORT_KIND_LABELS,
    REPORT_KIND_HELP=incident_labels.REPORT_KIND_HELP,
    REPORT_KIND_NOUNS=incident_labels.REPORT_KIND_NOUNS,
    REPORT_FIELD_LABELS=incident_labels.REPORT_FIELD_LABELS,
    REPORT_FIELD_ORDER=incident_labels.REPORT_FIELD_ORDER,
    YES_NO_FIELDS=incident_labels.YES_NO_FIELDS,
    rsit_class_label=incident_labels.rsit_class_label,
    sector_label=incident_labels.sector_label,
    taxonomy_label=incident_labels.label_of,
)
templates.env.filters.update(when=_when, sentence=_sentence, summary=_summary)


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    permission: Permission | None = None
    # A count shown next to the label: the name of a `Viewer` field, and what the number counts in words.
    badge: str | None = None
    badge_text: str = ""
    # A count read by the page's script from this API path (its JSON's `count`), for counts that cost too much to
    # compute for every page of every reader (the chrome stays at two SELECTs); without the script, no number.
    live_count: str | None = None
    # Under "More" on wide screens (the header keeps one row at 1280 px); on phones every entry is in the menu.
    more: bool = False


# Each domain adds its section here as it lands (exercises, lessons): the daily ones in the row, the rest under More.
NAV: list[NavItem] = [
    NavItem("My work", "/my-work", live_count="/api/v1/my-work", badge_text="waiting on your organisation"),
    NavItem("Situation", "/situation"),
    NavItem("Crises", "/crises"),
    NavItem("Incidents", "/incidents"),
    NavItem("Early warnings", "/alerts", badge="pending_alerts", badge_text="not acknowledged by your organisation"),
    NavItem("Assistance", "/assistance"),
    NavItem("Statements", "/communications"),
    NavItem("Overview", "/", more=True),
    NavItem("Deadlines", "/deadlines", more=True),
    NavItem("Reports", "/sitreps", more=True),
    NavItem("Contributions", "/contributions", more=True),
    NavItem("Hand-offs", "/handoffs", more=True),
    NavItem("Directory", "/directory", more=True),
    NavItem("Documents", "/documents", more=True),
    NavItem("Users", "/admin/users", Permission.USER_READ, more=True),
    NavItem("Audit", "/admin/audit", Permission.AUDIT_READ, more=True),
]


def _current(item: NavItem, path: str) -> bool:
    return path == item.href or (item.href != "/" and path.startswith(item.href))


@dataclass(frozen=True, slots=True)
class Viewer:
    """Plain values about the signed-in user, copied while the database session is open.

    Error pages are rendered after the request's session was rolled back and closed, when ORM rows can no
    longer load; the layout reads these instead.
    """

    user_id: str
    email: str
    display_name: str
    org_id: str
    org_short_name: str
    org_name: str
    csrf_token: str
    pending_alerts: int = 0  # alerts the organisation has not acknowledged: the navigation's badge
    time_zone: str = ""  # the zone the user reads times in (the page's script converts them); "" is UTC


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    principal: Principal | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    principal = principal or getattr(request.state, "principal", None)
    viewer: Viewer | None = getattr(request.state, "viewer", None)
    ctx: dict[str, Any] = {
        "principal": principal,
        "viewer": viewer,
        "current_user": viewer,
        "csrf_token": viewer.csrf_token if viewer is not None else "",
        "nav": [n for n in NAV if n.permission is None or (principal is not None and principal.has(n.permission))],
        "nav_in_more": any(n.more and _current(n, request.url.path) for n in NAV),
        "path": request.url.path,
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, template, ctx, status_code=status, headers=headers)


def error_page(
    request: Request, *, status: int, title: str, detail: str, headers: dict[str, str] | None = None
) -> HTMLResponse:
    return render(
        request,
        "error.html",
        {"status": status, "title": title, "detail": detail},
        status=status,
        headers=headers,
    )
