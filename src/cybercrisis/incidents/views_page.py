"""What the page of one incident shows: classification, assessment, reports and their clocks, observables,
correlations, alerts, the NIS2 cross-border steps and the timeline; and which of its forms this reader is offered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from cybercrisis.access.policy import COMMUNITY, read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.alerts.models import Alert
from cybercrisis.audit import reading
from cybercrisis.audit import service as audit
from cybercrisis.audit.reading import ShownEvent
from cybercrisis.db import utcnow
from cybercrisis.directory.countries import COUNTRIES
from cybercrisis.incidents import flows, recurrence, service, significance
from cybercrisis.incidents.actions import allowed_actions, may_forward
from cybercrisis.incidents.assessment import Thresholds
from cybercrisis.incidents.flow_models import Forwarding, MemberStateInformation
from cybercrisis.incidents.graph_svg import correlation_graph
from cybercrisis.incidents.labels import (
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
from cybercrisis.incidents.models import TRANSITIONS, Incident, IncidentStatus, Report
from cybercrisis.schemas import held_at
from cybercrisis.web import queries
from cybercrisis.web.forms import FormState, local_minutes
from cybercrisis.web.render import render, tag_words

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
    "incidents:observable:remove": "Observables removed",
    "incidents:incident:share": "Marking or recipients changed",
    "alerts:alert:send": "Alert sent",
    "alerts:alert:acknowledge": "Alert acknowledged",
    "alerts:alert:reminder": "Alert reminder sent",
    "alerts:alert:escalate": "Alert escalated",
}
# Recorded twice per submission (on the report and on the incident); the timeline shows the report's entry.
_DUPLICATE_TAGS = frozenset({"incidents:incident:report"})


def _timeline(
    principal: Principal, incident: Incident, events: list[ShownEvent], reports: list[Report], names: queries.Names
) -> dict[str, Any]:
    entries: list[dict[str, Any]] = [
        {
            "at": e.occurred_at,
            "what": EVENT_LABELS.get(e.tag) or tag_words(e.tag),
            "org": names.orgs.get(e.actor_org_id or ""),
            # Other organisations' staff are named by organisation only, as on the document pages.
            "user": names.users[e.actor_user_id].email
            if e.actor_org_id == principal.org_id and e.actor_user_id in names.users
            else None,
            # A report's events name their incident: on the incident's own page that is noise.
            "summary": {k: v for k, v in e.summary.items() if v != incident.id},
        }
        for e in events
    ]
    timeline_names = {**REPORT_KIND_LABELS, **{r.id: REPORT_KIND_LABELS[r.kind] for r in reports}}
    timeline_names.update((i, names.orgs[i].short_name) for i in _orgs_named(events) if i in names.orgs)
    return {"timeline": entries, "timeline_names": timeline_names}


def _orgs_named(events: list[ShownEvent]) -> set[str]:
    """The organisations the summaries name (their ids), whose names the timeline shows."""
    return {i for e in events for i in reading.ids_in(e.summary) if i.startswith("identity--")}


def _notices(request: Request) -> dict[str, str]:
    """The confirmation of the change just made (the edit forms redirect here with what they did), shown next to
    what changed: the details and marking at the top, observables in their section."""
    q = request.query_params
    saved = {"details": "Your changes are saved.", "sharing": "The marking and recipients are saved."}
    out = {"notice": saved.get(q.get("saved", ""), "")}
    added, removed = q.get("added", ""), q.get("removed", "")
    if added.isdigit():
        out["observables_notice"] = (
            f"{added} observable{'' if added == '1' else 's'} added."
            if added != "0"
            else "Nothing added: the incident already had these values."
        )
    elif removed.isdigit():
        out["observables_notice"] = "The observable is removed from this incident."
    return out


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


def _report_rows(
    principal: Principal, incident: Incident, reports: list[Report], names: queries.Names
) -> list[dict[str, Any]]:
    now = utcnow()
    stopped = clocks_stopped(incident)
    rows = []
    for r in reports:
        person = names.users.get(r.submitted_by_id or "")
        by = None
        if person is not None:
            org = names.orgs.get(person.org_id)
            by = person.email if person.org_id == principal.org_id else (org.short_name if org else None)
        content = [(k, r.content[k]) for k in REPORT_FIELD_ORDER if r.content.get(k) not in (None, "", [])]
        rows.append({"report": r, "clock": clock(r, now, stopped=stopped), "by": by, "content": content})
    return rows


def _submit_kinds(reports: list[Report], actions: frozenset[str]) -> list[str]:
    """The report kinds this reader may submit now, in the order of the reporting flow."""
    kinds: list[str] = []
    if "incident.report" in actions:
        kinds += ["early-warning", "notification"]
        if any(r.kind == "intermediate" and r.submitted_at is None for r in reports):
            kinds.append("intermediate")
        kinds += ["progress", "final"]
    if "incident.feedback" in actions and any(r.kind == "early-warning" and r.submitted_at for r in reports):
        kinds.append("feedback")
    return kinds


def flows_context(
    principal: Principal,
    incident: Incident,
    actions: frozenset[str],
    steps: tuple[list[MemberStateInformation], list[Forwarding]],
    names: queries.Names,
    form: FormState | None,
) -> dict[str, Any]:
    """What the incident page shows of the cross-border steps, and which of their forms this reader is offered."""
    informs, forwardings = steps
    mine = names.orgs.get(principal.org_id or "")
    refs = names.orgs
    rows = [
        {"step": i, "by": refs.get(i.owner_org_id), "to": [refs[o] for o in i.recipient_org_ids if o in refs]}
        for i in informs
    ]
    forward_rows = [
        {
            "step": f,
            "spoc": refs.get(f.spoc_org_id),
            "can_forward": may_forward(principal, f, mine.type if mine else None),
        }
        for f in forwardings
    ]
    significant = incident.significance == "significant"
    can_inform = "incident.inform-member-states" in actions
    return {
        "informs": rows,
        "forwardings": forward_rows,
        "can_inform": can_inform and significant,
        "form": form or FormState(values={"enisa": "yes"}),
        "shown": bool(rows or forward_rows or (can_inform and significant)),
    }


def _step_orgs(steps: tuple[list[MemberStateInformation], list[Forwarding]]) -> set[str]:
    informs, forwardings = steps
    return {o for i in informs for o in (i.owner_org_id, *i.recipient_org_ids)} | {f.spoc_org_id for f in forwardings}


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    org: queries.OrgRef | None
    org_id: str
    at: datetime | None


@dataclass(frozen=True, slots=True)
class AlertView:
    id: str
    title: str
    tlp: str
    sent_at: datetime
    sender: queries.OrgRef | None
    acknowledged: list[Acknowledgement]
    pending: list[Acknowledgement]


def alerts_about(session: Session, *, principal: Principal, incident_id: str) -> list[Alert]:
    """Alerts about the incident that the reader may see, newest first, with their recipients."""
    return list(
        session.scalars(
            select(Alert)
            .options(joinedload(Alert.recipients))
            .where(Alert.incident_id == incident_id, read_filter(principal, Alert))
            .order_by(Alert.created_at.desc())
        ).unique()
    )


def _alert_orgs(alerts: list[Alert]) -> set[str]:
    return {a.owner_org_id for a in alerts} | {r.org_id for a in alerts for r in a.recipients}


def alert_views(alerts: list[Alert], names: queries.Names) -> list[AlertView]:
    """Each alert with who acknowledged and who has not yet."""
    out = []
    for a in alerts:
        acks = [Acknowledgement(names.orgs.get(r.org_id), r.org_id, r.acknowledged_at) for r in a.recipients]
        out.append(
            AlertView(
                id=a.id,
                title=a.title,
                tlp=a.tlp,
                sent_at=a.created_at,
                sender=names.orgs.get(a.owner_org_id),
                acknowledged=[x for x in acks if x.at is not None],
                pending=[x for x in acks if x.at is None],
            )
        )
    return out


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
    observables_form: FormState | None = None,
    escalate_error: str | None = None,
    code: int = 200,
) -> Response:
    # Each section's rows first, then every name they show in one statement (`queries.names`).
    # Loaded with the incident (PageIncident, `common.FOR_PAGE`); read again after a refused form's rollback.
    shares = incident.share_rows
    reports = service.reports_of(db, incident.id)
    members = service.cluster_of(db, principal=principal, incident=incident)
    observables, correlations = service.sightings_of(db, principal=principal, incident=incident, known=members)
    alerts = alerts_about(db, principal=principal, incident_id=incident.id)
    steps = flows.flows_for(db, principal=principal, incident=incident)
    # Every object of the timeline was read above through the read policy: the disclosure check need not ask again.
    readable = [incident.id, *(r.id for r in reports), *(a.id for a in alerts), *(m.id for m in members)]
    readable += [i.id for i in steps[0]] + [f.id for f in steps[1]]
    events = audit.timeline_of(
        db,
        reader=principal,
        object_ids=[incident.id, *(r.id for r in reports), *(a.id for a in alerts)],
        known=readable,
    )
    events = [e for e in events if e.tag not in _DUPLICATE_TAGS]
    held = held_at(db, incident)
    names = queries.names(
        db,
        orgs=[
            incident.owner_org_id,
            held.organisation if held and held.organisation else "",
            incident.entity_org_id or "",
            principal.org_id or "",
            *_alert_orgs(alerts),
            *_step_orgs(steps),
            *(e.actor_org_id or "" for e in events),
            *_orgs_named(events),
        ],
        users=[
            *(r.submitted_by_id or "" for r in reports),
            *(e.actor_user_id or "" for e in events if e.actor_org_id == principal.org_id),
        ],
        shares=shares,
    )
    orgs = {o.id: (o.country, o.type) for o in names.orgs.values()}
    actions = allowed_actions(principal, incident, nis2=flows.relations_among(principal, incident, orgs))
    assessment = recurrence.assess(
        db, incident, principal=principal, thresholds=Thresholds.from_settings(request.app.state.settings)
    )
    in_network = any(s.kind == COMMUNITY and s.target == ESCALATE_TO for s in shares)
    order = [s.value for s in IncidentStatus]
    submitted = {r.kind: r for r in reports if r.submitted_at}
    report_form = report_form or FormState()
    return render(
        request,
        "incident.html",
        {
            "incident": incident,
            "held": held,
            "held_org": names.orgs[held.organisation].short_name if held and held.organisation in names.orgs else None,
            "tlp": TLP(incident.tlp),
            "owner_org": names.orgs.get(incident.owner_org_id),
            "entity_org": names.orgs.get(incident.entity_org_id or ""),
            "recipients": queries.recipients(db, shares, names),
            "cls": _classification(incident),
            "assessment": assessment,
            "fired": [f for f in assessment.findings if f.fired],
            "not_fired": [f for f in assessment.findings if not f.fired],
            "in_network": in_network,
            "can_escalate": "incident.share" in actions and assessment.suggest_escalation and not in_network,
            "escalation_blocked": incident.tlp in (TLP.RED.value, TLP.AMBER_STRICT.value),
            "escalate_error": escalate_error,
            "actions": actions,
            "transitions": sorted(TRANSITIONS[incident.status], key=order.index),
            "status_labels": STATUS_LABELS,
            "status_form": status_form or FormState(values={"version": incident.version}),
            "reports": _report_rows(principal, incident, reports, names),
            "significance": {
                "value": incident.significance,
                "meaning": significance.MEANING[incident.significance],
                "stopped": clocks_stopped(incident),
                "history": incident.decisions,
                "choices": [(v, SIGNIFICANCE_LABELS[v]) for v in significance.DECIDABLE if v != incident.significance],
                "labels": SIGNIFICANCE_LABELS,
            },
            "significance_form": significance_form or FormState(),
            "nis2": flows_context(principal, incident, actions, steps, names, flows_form),
            "submit_kinds": _submit_kinds(reports, actions),
            "submitted": submitted,
            "report_fields": service.REPORT_FIELDS,
            "report_form": report_form,
            "open_kind": report_form.values.get("kind"),
            "intermediate_form": intermediate_form
            or FormState(values={"due_at": local_minutes(utcnow() + INTERMEDIATE_DEFAULT)}),
            "observables": observables,
            "observables_form": observables_form or FormState(),
            **(_notices(request) if code == 200 else {}),
            "correlations": correlations,
            "correlation_graph": correlation_graph(incident, correlations),
            "cluster": members,
            "cluster_countries": sorted({c for m in members for c in m.countries}, key=lambda c: COUNTRIES.get(c, c)),
            "alerts": alert_views(alerts, names),
            **_timeline(principal, incident, events, reports, names),
        },
        status=code,
    )
