"""One incident: classification, assessment, reports and their clocks, observables, correlations, alerts,
timeline; and the forms that act on it (status, escalation, report submission, intermediate request)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from cybercrisis.access import sharing
from cybercrisis.access.permissions import Permission
from cybercrisis.access.policy import COMMUNITY
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.audit import service as audit
from cybercrisis.db import utcnow
from cybercrisis.deps import DB
from cybercrisis.directory.countries import COUNTRIES
from cybercrisis.errors import Conflict, InvalidInput
from cybercrisis.incidents import service, significance
from cybercrisis.incidents.models import TRANSITIONS, Incident, IncidentStatus, Report
from cybercrisis.web import incident_flows, incident_form, incident_queries, queries
from cybercrisis.web.forms import FormState
from cybercrisis.web.incident_labels import (
    REPORT_FIELD_ORDER,
    REPORT_KIND_LABELS,
    SIGNIFICANCE_LABELS,
    STATUS_LABELS,
    clock,
    entity_type_label,
    label_of,
    rsit_label,
    sector_label,
)
from cybercrisis.web.pagedeps import PagePrincipal, check_csrf, see_other
from cybercrisis.web.render import render

router = APIRouter()
Csrf = Annotated[str, Form(max_length=100)]
ESCALATE_TO = "csirts-network"
INTERMEDIATE_DEFAULT = timedelta(hours=72)  # the due time the request form proposes

# Audit tags of an incident's timeline, in words. Unknown tags (a newer module's) are shown as they are.
EVENT_LABELS = {
    "incidents:incident:create": "Recorded",
    "incidents:incident:update": "Updated",
    "incidents:incident:escalate": "Marking or recipients changed (escalation)",
    "incidents:report:submit": "Report submitted",
    "incidents:report:request": "Intermediate report requested",
    "incidents:significance:decide": "Significance decided",
    "incidents:incident:inform-member-states": "Other Member States informed (NIS2 Art. 23(6))",
    "incidents:incident:forward": "Notification forwarded to other SPOCs (NIS2 Art. 23(8))",
    "incidents:observable:add": "Observables added",
    "alerts:alert:send": "Alert sent",
    "alerts:alert:acknowledge": "Alert acknowledged",
    "alerts:alert:reminder": "Alert reminder sent",
    "alerts:alert:escalate": "Alert escalated",
}
# Recorded twice per submission (on the report and on the incident); the timeline shows the report's entry.
_DUPLICATE_TAGS = frozenset({"incidents:incident:report"})


def _timeline(db: Session, principal: Principal, incident: Incident, reports: list[Report]) -> dict[str, Any]:
    ids = service.timeline_ids(db, incident, principal)
    events = [e for e in audit.timeline_of(db, reader=principal, object_ids=ids) if e.tag not in _DUPLICATE_TAGS]
    orgs = queries.org_refs(db, (e.actor_org_id or "" for e in events))
    # Other organisations' staff are named by organisation only, as on the document pages.
    emails = queries.user_emails(db, (e.actor_user_id or "" for e in events if e.actor_org_id == principal.org_id))
    entries: list[dict[str, Any]] = [
        {
            "at": e.occurred_at,
            "what": EVENT_LABELS.get(e.tag, e.tag),
            "org": orgs.get(e.actor_org_id or ""),
            "user": emails.get(e.actor_user_id or ""),
            # A report's events name their incident: on the incident's own page that is noise.
            "summary": {k: v for k, v in e.summary.items() if v != incident.id},
        }
        for e in events
    ]
    names = {**REPORT_KIND_LABELS, **{r.id: REPORT_KIND_LABELS[r.kind] for r in reports}}
    names.update(queries.org_names_in(db, (e["summary"] for e in entries)))
    return {"timeline": entries, "timeline_names": names}


def _classification(incident: Incident) -> dict[str, Any]:
    return {
        "rsit": rsit_label(incident.rsit_class, incident.rsit_type),
        "root_cause": label_of("root_cause", incident.root_cause),
        "threat_severity": label_of("threat_severity", incident.threat_severity),
        "impact_severity": label_of("impact_severity", incident.impact_severity),
        "outlook": label_of("outlook", incident.outlook),
        "pap": label_of("pap", incident.pap),
        "sectors": [sector_label(s) for s in incident.sectors],
        "entity_type": ", ".join(
            x for x in (entity_type_label(incident.entity_category), entity_type_label(incident.entity_type)) if x
        ),
    }


def clocks_stopped(incident: Incident) -> str | None:
    """Why the incident's NIS2 clocks do not run, in words; None when they run."""
    if incident.exercise:
        return "exercise data never gets a NIS2 deadline"
    if significance.clocks_run(incident):
        return None
    return {
        "reported": "significance not decided yet (NIS2 Art. 23(4) clocks run for significant incidents)",
        "not-significant": "decided not significant",
        "near-miss": "a near miss (voluntary notification, NIS2 Art. 30)",
        "outside-nis2": "outside the scope of NIS2",
    }.get(incident.significance, incident.significance)


def _report_rows(db: Session, principal: Principal, incident: Incident, reports: list[Report]) -> list[dict[str, Any]]:
    now = utcnow()
    stopped = clocks_stopped(incident)
    who = incident_queries.people(db, (r.submitted_by_id or "" for r in reports))
    orgs = queries.org_refs(db, (p.org_id for p in who.values()))
    rows = []
    for r in reports:
        person = who.get(r.submitted_by_id or "")
        by = None
        if person is not None:
            org = orgs.get(person.org_id)
            by = person.email if person.org_id == principal.org_id else (org.short_name if org else None)
        content = [(k, r.content[k]) for k in REPORT_FIELD_ORDER if r.content.get(k) not in (None, "", [])]
        rows.append({"report": r, "clock": clock(r, now, stopped=stopped), "by": by, "content": content})
    return rows


def _submit_kinds(incident: Incident, reports: list[Report], *, writer: bool, owner: bool) -> list[str]:
    """The report kinds this reader may submit now, in the order of the reporting flow."""
    kinds: list[str] = []
    if writer:
        kinds += ["early-warning", "notification"]
        if any(r.kind == "intermediate" and r.submitted_at is None for r in reports):
            kinds.append("intermediate")
        kinds += ["progress", "final"]
    if owner and any(r.kind == "early-warning" and r.submitted_at for r in reports):
        kinds.append("feedback")
    return kinds


def render_incident(
    request: Request,
    db: Session,
    principal: Principal,
    incident: Incident,
    *,
    status_form: FormState | None = None,
    report_form: FormState | None = None,
    intermediate_form: FormState | None = None,
    significance_form: FormState | None = None,
    flows_form: FormState | None = None,
    escalate_error: str | None = None,
    code: int = 200,
) -> Response:
    shares = sharing.shares_of(db, incident.id)
    owner = principal.org_id == incident.owner_org_id and principal.has(Permission.INCIDENT_WRITE)
    writer = principal.has(Permission.INCIDENT_WRITE) and principal.org_id in (
        incident.owner_org_id,
        incident.entity_org_id,
    )
    reports = service.reports_of(db, incident.id)
    assessment = service.assess(
        db, incident, principal=principal, thresholds=incident_queries.thresholds(request.app.state.settings)
    )
    members = service.cluster(db, principal=principal, incident_id=incident.id)
    in_network = any(s.kind == COMMUNITY and s.target == ESCALATE_TO for s in shares)
    order = [s.value for s in IncidentStatus]
    refs = queries.org_refs(db, [incident.owner_org_id, incident.entity_org_id or ""])
    submitted = {r.kind: r for r in reports if r.submitted_at}
    report_form = report_form or FormState()
    return render(
        request,
        "incident.html",
        {
            "incident": incident,
            "tlp": TLP(incident.tlp),
            "owner_org": refs.get(incident.owner_org_id),
            "entity_org": refs.get(incident.entity_org_id or ""),
            "recipients": queries.recipients(db, shares),
            "cls": _classification(incident),
            "assessment": assessment,
            "fired": [f for f in assessment.findings if f.fired],
            "not_fired": [f for f in assessment.findings if not f.fired],
            "in_network": in_network,
            "can_escalate": owner and assessment.suggest_escalation and not in_network,
            "escalation_blocked": incident.tlp in (TLP.RED.value, TLP.AMBER_STRICT.value),
            "escalate_error": escalate_error,
            "is_owner": owner,
            "is_writer": writer,
            "transitions": sorted(TRANSITIONS[incident.status], key=order.index),
            "status_labels": STATUS_LABELS,
            "status_form": status_form or FormState(values={"version": incident.version}),
            "reports": _report_rows(db, principal, incident, reports),
            "significance": {
                "value": incident.significance,
                "meaning": significance.MEANING[incident.significance],
                "stopped": clocks_stopped(incident),
                "history": significance.history(db, incident),
                "choices": [(v, SIGNIFICANCE_LABELS[v]) for v in significance.DECIDABLE if v != incident.significance],
                "labels": SIGNIFICANCE_LABELS,
            },
            "significance_form": significance_form or FormState(),
            "nis2": incident_flows.context(db, principal, incident, flows_form),
            "submit_kinds": _submit_kinds(incident, reports, writer=writer, owner=owner),
            "submitted": submitted,
            "report_fields": service.REPORT_FIELDS,
            "report_form": report_form,
            "open_kind": report_form.values.get("kind"),
            "intermediate_form": intermediate_form
            or FormState(values={"due_at": incident_form.local_minutes(utcnow() + INTERMEDIATE_DEFAULT)}),
            "observables": service.observables_of(db, incident.id),
            "correlations": service.correlations(db, principal=principal, incident_id=incident.id),
            "cluster": members,
            "cluster_countries": sorted({c for m in members for c in m.countries}, key=lambda c: COUNTRIES.get(c, c)),
            "alerts": incident_queries.alerts_about(db, principal=principal, incident_id=incident.id),
            **_timeline(db, principal, incident, reports),
        },
        status=code,
    )


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(*, incident_id: str, request: Request, db: DB, principal: PagePrincipal) -> Response:
    incident = service.get_incident(db, principal=principal, incident_id=incident_id)
    return render_incident(request, db, principal, incident)


@router.post("/incidents/{incident_id}/status")
def change_status(
    *,
    incident_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Csrf = "",
    version: Annotated[int, Form(ge=0)] = 0,
    status: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    check_csrf(request, db, csrf_token)
    try:
        service.update_incident(
            db, actor=principal, incident_id=incident_id, version=version, changes={"status": status}
        )
    except (InvalidInput, Conflict) as exc:
        db.rollback()
        incident = service.get_incident(db, principal=principal, incident_id=incident_id)
        form = incident_form.failed(exc, {"status": status, "version": version})
        if isinstance(exc, Conflict) and incident.version != version:
            form = FormState(
                values={"status": status, "version": version},
                message="This incident was changed since you opened it: reload the page to see the change, "
                "then choose the status again.",
            )
        return render_incident(request, db, principal, incident, status_form=form, code=exc.status)
    return see_other(f"/incidents/{incident_id}")


@router.post("/incidents/{incident_id}/escalate")
def escalate(
    *, incident_id: str, request: Request, db: DB, principal: PagePrincipal, csrf_token: Csrf = ""
) -> Response:
    check_csrf(request, db, csrf_token)
    try:
        service.escalate(db, actor=principal, incident_id=incident_id, community=ESCALATE_TO)
    except (InvalidInput, Conflict) as exc:
        db.rollback()
        incident = service.get_incident(db, principal=principal, incident_id=incident_id)
        return render_incident(request, db, principal, incident, escalate_error=exc.detail, code=exc.status)
    return see_other(f"/incidents/{incident_id}#assessment")


@router.post("/incidents/{incident_id}/significance")
def decide_significance(
    *,
    incident_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Csrf = "",
    value: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=5_000)] = "",
) -> Response:
    check_csrf(request, db, csrf_token)
    try:
        incident = service.get_incident(db, principal=principal, incident_id=incident_id)
        suggestion = service.assess(
            db, incident, principal=principal, thresholds=incident_queries.thresholds(request.app.state.settings)
        ).as_dict()
        significance.decide(
            db, actor=principal, incident_id=incident_id, value=value, reason=reason, suggestion=suggestion
        )
    except (InvalidInput, Conflict) as exc:
        db.rollback()
        incident = service.get_incident(db, principal=principal, incident_id=incident_id)
        form = incident_form.failed(exc, {"value": value, "reason": reason})
        return render_incident(request, db, principal, incident, significance_form=form, code=exc.status)
    return see_other(f"/incidents/{incident_id}#significance")


@router.post("/incidents/{incident_id}/reports")
def submit_report(
    *,
    incident_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    data: Annotated[incident_form.ReportForm, Form()],
) -> Response:
    check_csrf(request, db, data.csrf_token)
    values = data.model_dump(exclude={"csrf_token"})
    try:
        service.submit_report(db, actor=principal, incident_id=incident_id, data=incident_form.to_report_in(data))
    except (InvalidInput, Conflict) as exc:
        db.rollback()
        incident = service.get_incident(db, principal=principal, incident_id=incident_id)
        form = incident_form.failed(exc, values)
        return render_incident(request, db, principal, incident, report_form=form, code=exc.status)
    return see_other(f"/incidents/{incident_id}#reports")


@router.post("/incidents/{incident_id}/intermediate-request")
def request_intermediate(
    *,
    incident_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Csrf = "",
    due_at: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    check_csrf(request, db, csrf_token)
    try:
        due = incident_form.required_utc(due_at, field="due_at")
        service.request_intermediate(db, actor=principal, incident_id=incident_id, due_at=due)
    except InvalidInput as exc:
        db.rollback()
        incident = service.get_incident(db, principal=principal, incident_id=incident_id)
        form = incident_form.failed(exc, {"due_at": due_at})
        return render_incident(request, db, principal, incident, intermediate_form=form, code=exc.status)
    return see_other(f"/incidents/{incident_id}#reports")
