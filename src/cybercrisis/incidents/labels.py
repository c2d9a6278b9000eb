"""Incidents in words: taxonomy labels and descriptions, report kinds and their clocks, entity types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from cybercrisis import taxonomies
from cybercrisis.incidents.assessment import CLOUD_LIKE, TRUST_SERVICE
from cybercrisis.incidents.models import IncidentStatus, Report, ReportKind


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    label: str
    description: str = ""


STATUS_LABELS: dict[str, str] = {
    IncidentStatus.NEW.value: "New",
    IncidentStatus.TRIAGE.value: "Triage",
    IncidentStatus.ONGOING.value: "Ongoing",
    IncidentStatus.CONTAINED.value: "Contained",
    IncidentStatus.RESOLVED.value: "Resolved",
    IncidentStatus.CLOSED.value: "Closed",
}

REPORT_KIND_LABELS: dict[str, str] = {
    ReportKind.EARLY_WARNING.value: "Early warning",
    ReportKind.NOTIFICATION.value: "Incident notification",
    ReportKind.INTERMEDIATE.value: "Intermediate report",
    ReportKind.FINAL.value: "Final report",
    ReportKind.PROGRESS.value: "Progress report",
    ReportKind.FEEDBACK.value: "CSIRT feedback to the entity",
}

SIGNIFICANCE_LABELS: dict[str, str] = {
    "reported": "Not decided yet",
    "significant": "Significant",
    "not-significant": "Not significant",
    "near-miss": "Near miss",
    "outside-nis2": "Outside NIS2",
}

# The same, inside a sentence ("Submit the early warning").
REPORT_KIND_NOUNS: dict[str, str] = {
    kind: label if label.startswith("CSIRT") else label.lower() for kind, label in REPORT_KIND_LABELS.items()
}

# What each kind is for (NIS2 Art. 23), shown above its submit form.
REPORT_KIND_HELP: dict[str, str] = {
    "early-warning": "The entity's obligation for a significant incident (NIS2 Art. 23(4)(a)): within 24 h of "
    "becoming aware, whether it is suspected malicious and could have a cross-border impact.",
    "notification": "The entity's obligation (Art. 23(4)(b)): within 72 h of awareness (24 h for trust service "
    "providers), an initial assessment, severity, impact, indicators of compromise.",
    "intermediate": "The entity's, on request of the CSIRT or the competent authority (Art. 23(4)(c)): relevant "
    "status updates.",
    "final": "The entity's (Art. 23(4)(d)): within one month of the notification, description, severity and impact, "
    "root cause, mitigation, cross-border impact.",
    "progress": "The entity's (Art. 23(4)(e)): instead of the final report while the incident is still ongoing; the "
    "final report is then due one month after the incident is handled.",
    "feedback": "The CSIRT's obligation (Art. 23(5)): its answer to the early warning, without undue delay and where "
    "possible within 24 h: initial feedback, guidance, law enforcement reporting guidance if criminal.",
}

REPORT_FIELD_LABELS: dict[str, str] = {
    "summary": "Summary",
    "suspected_malicious": "Suspected unlawful or malicious?",
    "cross_border": "Possible cross-border impact?",
    "severity_and_impact": "Severity and impact",
    "indicators": "Indicators of compromise (one per line)",
    "root_cause": "Type of threat or root cause",
    "mitigation_applied": "Mitigation applied",
    "mitigation_ongoing": "Mitigation ongoing",
    "cross_border_impact": "Cross-border impact",
    "guidance": "Guidance for the entity",
    "law_enforcement_guidance": "Law enforcement reporting guidance",
}
# Form order of the fields; REPORT_FIELDS decides which a kind carries.
REPORT_FIELD_ORDER = tuple(REPORT_FIELD_LABELS)
YES_NO_FIELDS = frozenset({"suspected_malicious", "cross_border"})

_ENTITY_TYPE_LABELS: dict[str, str] = {
    "essential": "Essential entity",
    "important": "Important entity",
    "trust-service-provider": "Trust service provider",
    "qualified-trust-service-provider": "Qualified trust service provider",
    "cloud-computing-service-provider": "Cloud computing service provider",
    "data-centre-service-provider": "Data centre service provider",
    "content-delivery-network-provider": "Content delivery network provider",
    "managed-service-provider": "Managed service provider",
    "managed-security-service-provider": "Managed security service provider",
    "online-marketplace": "Online marketplace",
    "online-search-engine": "Online search engine",
    "social-networking-platform": "Social networking platform",
    "dns-service-provider": "DNS service provider",
    "tld-name-registry": "TLD name registry",
}


def entity_type_choices() -> list[Choice]:
    """The providers with rules of their own (Reg. 2024/2690, NIS2 Art. 23(4)(b)); the NIS2 category is apart."""
    special = sorted(CLOUD_LIKE | TRUST_SERVICE, key=lambda v: _ENTITY_TYPE_LABELS.get(v, v))
    out: list[Choice] = []
    for value in special:
        note = "notification due in 24 h" if value in TRUST_SERVICE else "availability thresholds apply"
        out.append(Choice(value, _ENTITY_TYPE_LABELS.get(value, value.replace("-", " ").capitalize()), note))
    return out


def entity_type_label(value: str | None) -> str:
    return _ENTITY_TYPE_LABELS.get(value or "", value or "")


def _values(ns: str, predicate: str) -> list[Choice]:
    return [Choice(v.value, v.label, v.description) for v in taxonomies.catalogue()[ns].predicates[predicate].values]


@lru_cache(maxsize=1)
def pickers() -> dict[str, list[Choice]]:
    """The classification choices with the taxonomies' own labels and descriptions."""
    return {
        "root_cause": _values("nis", "nature-root-cause"),
        "threat_severity": _values("nis", "nature-severity"),
        "impact_severity": _values("nis", "impact-severity"),
        "outlook": _values("nis", "impact-outlook"),
        "sectors": _values("nis2", "impact-sectors-impacted"),
        "pap": [
            Choice(p.name.lower(), f"PAP:{p.name}", p.label.split(") ", 1)[-1])
            for p in taxonomies.catalogue()["PAP"].predicates.values()
        ],
    }


@dataclass(frozen=True, slots=True)
class RsitGroup:
    value: str
    label: str
    description: str
    types: list[Choice]


@lru_cache(maxsize=1)
def rsit_groups() -> list[RsitGroup]:
    """RSIT classes with their types; `test` is left out of the form (it is for testing tools)."""
    groups = []
    for p in taxonomies.catalogue()["rsit"].predicates.values():
        if p.name != "test":
            types = [Choice(f"{p.name}/{v.value}", v.label, v.description) for v in p.values]
            groups.append(RsitGroup(p.name, p.label, p.description, types))
    return groups


def label_of(picker: str, value: str | None) -> Choice | None:
    if not value:
        return None
    return next((c for c in pickers()[picker] if c.value == value), Choice(value, value))


def rsit_label(cls: str | None, type_: str | None) -> str:
    if not cls:
        return ""
    group = next((g for g in rsit_groups() if g.value == cls), None)
    if group is None:
        return f"{cls} / {type_}" if type_ else cls
    if not type_:
        return group.label
    kind = next((t for t in group.types if t.value == f"{cls}/{type_}"), None)
    return f"{group.label} / {kind.label if kind else type_}"


def rsit_class_label(cls: str | None) -> str:
    return next((g.label for g in rsit_groups() if g.value == cls), cls or "")


def sector_label(value: str) -> str:
    choice = label_of("sectors", value)
    return choice.label if choice else value


# --- clocks -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Clock:
    status: str  # due | due-soon | overdue | on-time | late | not-due
    text: str


def span(delta: timedelta) -> str:
    """A duration the way a duty officer says it: 42 min, 5 h, 5 h 20 min, 3 d 4 h."""
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h" + (f" {rest} min" if rest and hours < 10 else "")
    days, hours = divmod(hours, 24)
    return f"{days} d" + (f" {hours} h" if hours else "")


# A deadline this close is shown as "due soon": the deployment's presentation choice, not a legal period.
SOON = timedelta(hours=24)


def deadline(due: datetime, now: datetime, soon: timedelta = SOON) -> Clock:
    """A deadline from now, in words: overdue by ..., due in ... (due soon within `soon`)."""
    if due < now:
        return Clock("overdue", f"overdue by {span(now - due)}")
    left = due - now
    return Clock("due-soon" if left < soon else "due", f"due in {span(left)}")


def clock(report: Report, now: datetime, *, soon: timedelta = SOON, stopped: str | None = None) -> Clock:
    """`stopped`: why no NIS2 clock runs for the incident (not significant, exercise), for an open report."""
    status = report.status_at(now)
    if stopped and report.submitted_at is None:
        return Clock("not-due", f"no deadline: {stopped}")
    if status in ("due", "overdue") and report.due_at is not None:
        return deadline(report.due_at, now, soon)
    if status == "on-time":
        return Clock("on-time", "submitted on time")
    if status == "late" and report.due_at is not None and report.submitted_at is not None:
        return Clock("late", f"late: submitted {span(report.submitted_at - report.due_at)} after the deadline")
    return Clock("not-due", _NOT_DUE.get(report.kind, "no deadline yet"))


_NOT_DUE = {
    "final": "no deadline yet: due one month after the incident notification",
    "feedback": "no deadline yet: due 24 h after the early warning",
    "intermediate": "no deadline set",
    "progress": "no deadline: sent instead of the final report while the incident is ongoing",
}
