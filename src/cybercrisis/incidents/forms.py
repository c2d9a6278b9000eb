"""The incident and report forms: what the browser posts, turned into the service's input or a field error.

Every field arrives as text (or a list of checkbox values) so that a bad value comes back to the form with its
message instead of a bare 422 page; the checks themselves stay in the service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field
from sqlalchemy.orm import Session

from cybercrisis.access.principal import Principal
from cybercrisis.db import utcnow
from cybercrisis.directory.countries import COUNTRIES, EU_MEMBER_STATES
from cybercrisis.errors import DomainError, InvalidInput
from cybercrisis.incidents.labels import YES_NO_FIELDS, entity_type_choices, pickers, rsit_groups
from cybercrisis.incidents.models import Incident
from cybercrisis.incidents.observable_input import parse_text
from cybercrisis.incidents.schemas import IncidentIn, IncidentPatch, ReportIn
from cybercrisis.incidents.service import REPORT_FIELDS
from cybercrisis.web import queries
from cybercrisis.web.forms import (
    FormState,
    PostedForm,
    bad,
    local_minutes,
    parse_utc,
    share_with,
    split_list,
    validated,
)

# The figures the form asks for; the API takes every key of Facts.
FACT_FIELDS = (
    "financial_loss_eur",
    "annual_turnover_eur",
    "unavailability_minutes",
    "limited_availability_minutes",
    "users_affected",
    "users_affected_percent",
)


FLAGS = ("suspected_malicious", "cross_border", "exceeds_national_capacity")  # checkboxes: "yes" when ticked


class IncidentDetails(PostedForm):
    """What the new-incident and edit forms both post: what happened, its classification, where, and the threshold
    figures; checkboxes send "yes" when ticked."""

    title: str = Field(default="", max_length=1000)
    description: str = Field(default="", max_length=100_000)
    pap: str = Field(default="amber", max_length=20)
    countries: list[str] = Field(default_factory=list, max_length=60)
    other_countries: str = Field(default="", max_length=1000)
    sectors: list[str] = Field(default_factory=list, max_length=40)
    rsit: str = Field(default="", max_length=200)
    root_cause: str = Field(default="", max_length=64)
    threat_severity: str = Field(default="", max_length=64)
    impact_severity: str = Field(default="", max_length=64)
    outlook: str = Field(default="", max_length=64)
    suspected_malicious: str = Field(default="", max_length=8)
    cross_border: str = Field(default="", max_length=8)
    exceeds_national_capacity: str = Field(default="", max_length=8)
    financial_loss_eur: str = Field(default="", max_length=30)
    annual_turnover_eur: str = Field(default="", max_length=30)
    unavailability_minutes: str = Field(default="", max_length=30)
    limited_availability_minutes: str = Field(default="", max_length=30)
    users_affected: str = Field(default="", max_length=30)
    users_affected_percent: str = Field(default="", max_length=30)


class IncidentForm(IncidentDetails):
    """The new-incident form as posted: the details, and what is set once when recording it."""

    aware_at: str = Field(default="", max_length=40)
    occurred_at: str = Field(default="", max_length=40)
    tlp: str = Field(default="", max_length=20)
    entity_name: str = Field(default="", max_length=1000)
    entity_type: str = Field(default="", max_length=64)
    entity_category: str = Field(default="", max_length=16)
    significance: str = Field(default="reported", max_length=32)
    significance_reason: str = Field(default="", max_length=5_000)
    entity: str = Field(default="", max_length=100)
    observables: str = Field(default="", max_length=500_000)
    communities: list[str] = Field(default_factory=list, max_length=50)
    organisations: list[str] = Field(default_factory=list, max_length=500)
    users: str = Field(default="", max_length=20_000)


class IncidentEditForm(IncidentDetails):
    """The edit form of an incident as posted: the details, with the version the form showed. The marking and
    recipients have their own form (the originator's act), the status its own box, significance its decision."""

    version: int = Field(default=0, ge=0)


class ReportForm(PostedForm):
    """One report submission as posted; yes/no questions are "yes", "no" or "" (not stated)."""

    kind: str = Field(default="", max_length=32)
    submitted_at: str = Field(default="", max_length=40)
    summary: str = Field(default="", max_length=50_000)
    suspected_malicious: str = Field(default="", max_length=8)
    cross_border: str = Field(default="", max_length=8)
    severity_and_impact: str = Field(default="", max_length=50_000)
    indicators: str = Field(default="", max_length=500_000)
    root_cause: str = Field(default="", max_length=10_000)
    mitigation_applied: str = Field(default="", max_length=50_000)
    mitigation_ongoing: str = Field(default="", max_length=50_000)
    cross_border_impact: str = Field(default="", max_length=50_000)
    guidance: str = Field(default="", max_length=50_000)
    law_enforcement_guidance: str = Field(default="", max_length=50_000)


def _number(field: str, value: str) -> int | float | None:
    text = value.strip().replace(" ", "").replace("_", "")
    if not text:
        return None
    try:
        return float(text) if field == "users_affected_percent" else int(text)
    except ValueError:
        raise bad(field, f"'{value[:30]}' is not a number") from None


def _classification(form: IncidentDetails) -> dict[str, Any]:
    """The classification and flags as both forms post them, in the service's names; blank is not assessed."""
    rsit_class, _, rsit_type = form.rsit.partition("/")
    return {
        "rsit_class": rsit_class or None,
        "rsit_type": rsit_type or None,
        "root_cause": form.root_cause or None,
        "threat_severity": form.threat_severity or None,
        "impact_severity": form.impact_severity or None,
        "outlook": form.outlook or None,
        **{flag: getattr(form, flag) == "yes" for flag in FLAGS},
    }


def to_incident_in(form: IncidentForm) -> IncidentIn:
    # What the form itself can tell is wrong, all at once, each next to its field.
    errors: list[dict[str, str]] = []
    if not form.title.strip():
        errors.append({"field": "title", "message": "the incident needs a title"})
    if not form.tlp:
        errors.append({"field": "tlp", "message": "choose a TLP label"})
    times: dict[str, datetime | None] = {}
    for name, required in (("aware_at", True), ("occurred_at", False)):
        try:
            times[name] = parse_utc(getattr(form, name), field=name, required=required)
        except InvalidInput as exc:
            errors += exc.errors
    try:
        facts = _figures(form)
    except InvalidInput as exc:
        errors += exc.errors
        facts = {}
    if errors:
        raise InvalidInput("; ".join(e["message"] for e in errors), errors=errors)
    aware_at, occurred_at = times["aware_at"], times["occurred_at"]
    data = {
        "title": form.title.strip(),
        "description": form.description,
        "tlp": form.tlp,
        "pap": form.pap or "amber",
        "aware_at": aware_at,
        "occurred_at": occurred_at,
        "countries": [*form.countries, *split_list(form.other_countries)],
        "sectors": form.sectors,
        "entity_name": form.entity_name.strip(),
        "entity": form.entity or None,
        "entity_type": form.entity_type or None,
        "entity_category": form.entity_category or None,
        "significance": form.significance or "reported",
        "significance_reason": form.significance_reason or None,
        **_classification(form),
        "observables": parse_text(form.observables),
        "facts": {k: v for k, v in facts.items() if v is not None},
        "share_with": share_with(form.organisations, form.communities, form.users),
    }
    result: IncidentIn = validated(IncidentIn, data)
    return result


def _figures(form: IncidentDetails) -> dict[str, int | float | None]:
    """The threshold figures; every badly written one is refused at once, each next to its field."""
    out: dict[str, int | float | None] = {}
    errors: list[dict[str, str]] = []
    for name in FACT_FIELDS:
        try:
            out[name] = _number(name, getattr(form, name))
        except InvalidInput as exc:
            errors += exc.errors
    if errors:
        raise InvalidInput("; ".join(e["message"] for e in errors), errors=errors)
    return out


def edit_values(incident: Incident) -> dict[str, Any]:
    """The edit form filled with the incident as it is."""
    eu = set(EU_MEMBER_STATES)
    facts = incident.facts or {}
    return {
        "version": incident.version,
        "title": incident.title,
        "description": incident.description,
        "pap": incident.pap,
        "countries": [c for c in incident.countries if c in eu],
        "other_countries": ", ".join(c for c in incident.countries if c not in eu),
        "sectors": list(incident.sectors),
        "rsit": f"{incident.rsit_class}/{incident.rsit_type}" if incident.rsit_class and incident.rsit_type else "",
        "root_cause": incident.root_cause or "",
        "threat_severity": incident.threat_severity or "",
        "impact_severity": incident.impact_severity or "",
        "outlook": incident.outlook or "",
        **{k: "yes" for k in FLAGS if getattr(incident, k)},
        **{k: "" if facts.get(k) is None else str(facts[k]) for k in FACT_FIELDS},
    }


def to_changes(form: IncidentEditForm, incident: Incident) -> dict[str, Any]:
    """The edit form as the service's changes (`IncidentPatch` without the version). The figures the form shows
    replace the incident's; figures it does not show (set through the API) are kept."""
    errors: list[dict[str, str]] = []
    if len(form.title.strip()) < 3:
        errors.append({"field": "title", "message": "the incident needs a title of at least 3 characters"})
    try:
        figures = _figures(form)
    except InvalidInput as exc:
        errors += exc.errors
        figures = {}
    if errors:
        raise InvalidInput("; ".join(e["message"] for e in errors), errors=errors)
    facts = {k: v for k, v in (incident.facts or {}).items() if k not in FACT_FIELDS}
    facts.update({k: v for k, v in figures.items() if v is not None})
    data = {
        "version": form.version,
        "title": form.title.strip(),
        "description": form.description,
        "pap": form.pap or "amber",
        "countries": [*form.countries, *split_list(form.other_countries)],
        "sectors": form.sectors,
        **_classification(form),
        "facts": facts,
    }
    patch: IncidentPatch = validated(IncidentPatch, data)
    return patch.model_dump(exclude_unset=True, exclude={"version"})


def to_report_in(form: ReportForm) -> ReportIn:
    if form.kind not in REPORT_FIELDS:
        raise bad("kind", f"'{form.kind}' is not a report kind")
    fields = REPORT_FIELDS[form.kind]
    data: dict[str, Any] = {"kind": form.kind}
    data["submitted_at"] = parse_utc(form.submitted_at, field="submitted_at", required=False)
    for name in fields:
        raw = getattr(form, name)
        if name in YES_NO_FIELDS:
            data[name] = {"yes": True, "no": False}.get(raw)
        elif name == "indicators":
            data[name] = parse_text(raw, field="indicators")
        elif raw.strip():
            data[name] = raw.strip()
    result: ReportIn = validated(ReportIn, data)
    return result


# Service field names -> form field names, for showing each error next to its control.
_FIELD_ALIASES = {"rsit_class": "rsit", "rsit_type": "rsit", "tags": "rsit"}


def failed(exc: DomainError, values: dict[str, Any]) -> FormState:
    """The form again; a complaint about no field of the form is shown at its top (`form`)."""
    return FormState.failed(exc, values, aliases=_FIELD_ALIASES, fallback="form" if exc.errors else "")


# --- what the form offers ---------------------------------------------------------------------------------


def new_incident_defaults(db: Session, principal: Principal) -> dict[str, Any]:
    """The 3 a.m. defaults: aware now, TLP:AMBER, PAP:AMBER, my country, my organisation's communities."""
    org = queries.org_refs(db, [principal.org_id or ""]).get(principal.org_id or "")
    return {
        "aware_at": local_minutes(utcnow()),
        "tlp": "amber",
        "pap": "amber",
        "countries": [org.country] if org and org.country else [],
        "communities": sorted(principal.communities),
    }


def incident_choices(db: Session, principal: Principal) -> dict[str, Any]:
    eu = sorted(EU_MEMBER_STATES, key=lambda c: COUNTRIES.get(c, c))
    return {
        "pickers": pickers(),
        "rsit_groups": rsit_groups(),
        "entity_types": entity_type_choices(),
        "eu_countries": [(c, COUNTRIES.get(c, c)) for c in eu],
        "constituents": queries.constituents(db, principal.org_id or ""),
        "communities": queries.community_names(db),
        "org_choices": queries.org_choices(db),
        "now_utc": local_minutes(utcnow()),
    }
