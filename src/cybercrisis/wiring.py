"""The composition root: what the app, the CLI and the job runner install before they touch the database.

Lower layers offer hooks and never import what subscribes to them (ADR 0011): the exchange stores the STIX
versions of our objects at each audited commit because it is subscribed here, not because the audit imports it.
"""

from __future__ import annotations


def install() -> None:
    """Subscribe the exchange to audited commits and guard replicas at every flush (ADR 0013). Idempotent: each
    entry point calls it, and tests do too."""
    from cybercrisis.access import replicas
    from cybercrisis.alerts.models import Alert
    from cybercrisis.assistance.models import AssistanceRequest, Offer
    from cybercrisis.audit import service as audit
    from cybercrisis.crises.models import Action, Crisis, Decision, Escalation
    from cybercrisis.exchange import publish
    from cybercrisis.incidents.models import Incident

    audit.subscribe(publish.on_commit)
    replicas.install(
        {
            "incident": Incident,
            "alert": Alert,
            "crisis": Crisis,
            "escalation": Escalation,
            "decision": Decision,
            "task": Action,
            "assistance-request": AssistanceRequest,
            "assistance-offer": Offer,
        }
    )
