"""What every STIX mapping of ours shares: the ids (derived UUIDv5s), TLP markings, the product's identity and
extension definition, and the reference objects (organisations, countries, observables, relationships).

The mapping itself is written down in docs/exchange.md; exchange/stix.py maps our objects with these.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import stix2  # type: ignore[import-untyped]

from cybercrisis.access.tlp import STIX_MARKING_IDS, TLP
from cybercrisis.directory.models import Organisation

INCIDENT_CORE = "extension-definition--ef765651-680c-498d-9894-99799f2fa126"
TLP2_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
# Our namespace for derived ids (UUIDv5). Never change it: every derived id in every export depends on it.
NAMESPACE = uuid.UUID("a40843db-58f7-4fc5-b68b-bef5de53976b")
# A fixed time for reference objects that have no history of their own (the product, countries, CVEs).
REFERENCE_TIME = datetime(2022, 10, 1, tzinfo=UTC)
TLP2_CREATED = "2022-10-01T00:00:00.000Z"


def derived_id(stix_type: str, key: str) -> str:
    """A stable STIX id for an object of ours whose own id is not a STIX id of that type."""
    return f"{stix_type}--{uuid.uuid5(NAMESPACE, key)}"


PRODUCT_ID = derived_id("identity", "cybercrisis")
EXTENSION_ID = derived_id("extension-definition", "cybercrisis-incident")
EXTENSION_SCHEMA = (
    "cybercrisis incident extension (property-extension of incident), documented in docs/exchange.md of the "
    "cybercrisis project. Properties: status (new|triage|ongoing|contained|resolved|closed), pap, aware_at, "
    "occurred_at, handled_at (RFC 3339 UTC), entity_name, entity_type, entity_category (essential|important), "
    "suspected_malicious, cross_border, "
    "exceeds_national_capacity (booleans), sectors (NIS2 sector keys), facts (Implementing Regulation 2024/2690 "
    "figures), exercise (boolean), significance (reported|significant|not-significant), apparent_root_cause, "
    "reports (the NIS2 reports' clocks: id, kind, version, due_at, requested_at, submitted_at), countries "
    "(ISO 3166-1 alpha-2, the whole list)."
)
# Changed when a version of the extension adds properties (1.1.0: significance, apparent_root_cause, reports,
# countries).
EXTENSION_MODIFIED = datetime(2026, 12, 7, tzinfo=UTC)
ALERT_EXTENSION_ID = derived_id("extension-definition", "cybercrisis-early-warning")
ALERT_EXTENSION_SCHEMA = (
    "cybercrisis early warning extension (property-extension of report), documented in docs/exchange.md of the "
    "cybercrisis project. Properties: alert_id (the early warning's own id), remind_after_minutes, "
    "escalate_after_minutes (integers), recipients (list of {organisation: identity id, acknowledged_at: RFC 3339 "
    "UTC when the organisation acknowledged})."
)
CRISIS_TYPE = "x-cybercrisis-crisis"
CRISIS_EXTENSION_ID = derived_id("extension-definition", "cybercrisis-crisis")
CRISIS_EXTENSION_SCHEMA = (
    "cybercrisis crisis (new SDO x-cybercrisis-crisis), documented in docs/exchange.md of the cybercrisis project. "
    "Properties: crisis_id, name, description, justification, criteria, stage, phase, status, suspected_criminal, "
    "commission_role, closed_at, incident_refs, escalations (id, from_stage, to_stage, direction, rationale, state, "
    "required, any_of, consult, proposed_by, decided_at, decision_id, approvals, consultations), decisions (id, "
    "level, kind, title, detail, options, rationale, decided_at, decided_by, escalation_id) and actions (id, title, "
    "detail, assignee, due_at, status, done_at, decision_id); organisations by identity id, times RFC 3339 UTC."
)
REQUEST_TYPE = "x-cybercrisis-assistance-request"
REQUEST_EXTENSION_ID = derived_id("extension-definition", "cybercrisis-assistance-request")
REQUEST_EXTENSION_SCHEMA = (
    "cybercrisis request for assistance (new SDO x-cybercrisis-assistance-request), documented in docs/exchange.md "
    "of the cybercrisis project. Properties: request_id, country, needs, description, affected_entity, entity_type, "
    "impact, threat_severity, spillover, potential_impact, measures_taken, other_support, urgency, addressed_to, "
    "reserve, state, "
    "transmitted_by, transmitted_at, response_due_at, support_started_at, support_ended_at, summary_due_at, "
    "summary_at, summary_report, crisis_ref, incident_refs; organisations by identity id, times RFC 3339 UTC."
)
OFFER_TYPE = "x-cybercrisis-assistance-offer"
OFFER_EXTENSION_ID = derived_id("extension-definition", "cybercrisis-assistance-offer")
OFFER_EXTENSION_SCHEMA = (
    "cybercrisis offer of assistance (new SDO x-cybercrisis-assistance-offer), documented in docs/exchange.md of the "
    "cybercrisis project: an offer made on a request for assistance, TLP:AMBER+STRICT between offerer and "
    "requester. Properties: offer_id, request_ref, capability, people, available_from, conditions, state "
    "(offered|accepted|declined|withdrawn), decided_at, decision_comment; organisations by identity id (the offerer "
    "is created_by_ref), times RFC 3339 UTC."
)
CONTRIBUTION_TYPE = "x-cybercrisis-contribution"
CONTRIBUTION_EXTENSION_ID = derived_id("extension-definition", "cybercrisis-contribution")
CONTRIBUTION_EXTENSION_SCHEMA = (
    "cybercrisis national contribution (new SDO x-cybercrisis-contribution), documented in docs/exchange.md of the "
    "cybercrisis project: a Member State's input to the EU situational picture for one reporting period. "
    "Properties: contribution_id, country (ISO 3166-1 alpha-2), period_start, period_end, submitted_at, "
    "contribution_version, status (the deployment's scale), outlook, sectors (list of {sector, impact}), "
    "services_disrupted, entities_affected, measures, needs, assistance_requested, narrative, incident_refs; "
    "times RFC 3339 UTC."
)
SITREP_TYPE = "x-cybercrisis-situation-report"
SITREP_EXTENSION_ID = derived_id("extension-definition", "cybercrisis-situation-report")
SITREP_EXTENSION_SCHEMA = (
    "cybercrisis published situation report (new SDO x-cybercrisis-situation-report), documented in docs/exchange.md "
    "of the cybercrisis project: the published version of an EU situation report and the frozen sources its figures "
    "are computed from, each reader's figures from the sources that reader may read. Properties: sitrep_id, level "
    "(technical|operational|political), period_start, period_end, published_version, published_at, title, summary, "
    "decisions_needed, notes, audience_sources, sources (list of {kind: contribution|incident|observable, id, data}); "
    "times RFC 3339 UTC."
)
COMMUNICATION_TYPE = "x-cybercrisis-communication"
COMMUNICATION_EXTENSION_ID = derived_id("extension-definition", "cybercrisis-communication")
COMMUNICATION_EXTENSION_SCHEMA = (
    "cybercrisis coordinated communication (new SDO x-cybercrisis-communication), documented in docs/exchange.md of "
    "the cybercrisis project: a public statement or lines to take, its versions and the approving organisations' "
    "verdicts. Properties: communication_id, kind (statement|lines-to-take), language, title, body, translations "
    "({language: {title, body}}), approvers (identity ids), embargo_until, state (draft|approved|released|withdrawn), "
    "current_version, released_at, crisis_ref, versions (number, title, body, translations, created_at), approvals "
    "(organisation, version, verdict approve|changes, comment, at); times RFC 3339 UTC."
)
WITHDRAWAL_TYPE = "x-cybercrisis-withdrawal"
WITHDRAWAL_EXTENSION_ID = derived_id("extension-definition", "cybercrisis-withdrawal")
WITHDRAWAL_EXTENSION_SCHEMA = (
    "cybercrisis withdrawal (new SDO x-cybercrisis-withdrawal), documented in docs/exchange.md of the cybercrisis "
    "project: the origin of an object narrowed its share list. Properties: object_ref (the object's own id), "
    "withdrawn_from (list of {kind: organisation|community, target: identity id or community key})."
)

# Markings read back to our TLP: the TLP 2.0 ids we write, and the TLP 1.0 ids that older producers still use.
TLP1_MARKING_IDS = {
    stix2.TLP_WHITE.id: TLP.CLEAR,
    stix2.TLP_GREEN.id: TLP.GREEN,
    stix2.TLP_AMBER.id: TLP.AMBER,
    stix2.TLP_RED.id: TLP.RED,
}
MARKING_TLP = {v: k for k, v in STIX_MARKING_IDS.items()} | TLP1_MARKING_IDS
HASHES = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256"}


def ts(value: datetime) -> str:
    """RFC 3339 in UTC with microseconds, as our extension's times are written."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def marking_id(tlp: str) -> str:
    return STIX_MARKING_IDS[TLP(tlp)]


def marking_definition(tlp: TLP) -> dict[str, Any]:
    """The TLP 2.0 marking-definition object as OASIS publishes it (fixed id, name, created, extension)."""
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": STIX_MARKING_IDS[tlp],
        "created": TLP2_CREATED,
        "name": tlp.label,
        "extensions": {TLP2_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": tlp.value}},
    }


def product_identity() -> stix2.Identity:
    return stix2.Identity(
        id=PRODUCT_ID,
        name="cybercrisis",
        identity_class="system",
        created=REFERENCE_TIME,
        modified=REFERENCE_TIME,
        description="Coordinated response to large-scale cyber incidents and crises; author of its STIX extension.",
        object_marking_refs=[marking_id(TLP.CLEAR)],
    )


def _extension(
    oid: str,
    *,
    created: datetime,
    name: str,
    description: str,
    schema: str,
    version: str,
    kind: str = "property-extension",
) -> Any:
    """One of our extensions (a property extension, or a `new-sdo`), authored by the product identity, CLEAR."""
    return stix2.ExtensionDefinition(
        id=oid,
        created_by_ref=PRODUCT_ID,
        created=created,
        modified=EXTENSION_MODIFIED,
        name=name,
        description=description,
        schema=schema,
        version=version,
        extension_types=[kind],
        object_marking_refs=[marking_id(TLP.CLEAR)],
    )


def extension_definition() -> stix2.ExtensionDefinition:
    """Our property extension of `incident`, for the NIS2 fields that STIX and Incident Core do not carry."""
    return _extension(
        EXTENSION_ID,
        created=REFERENCE_TIME,
        name="cybercrisis incident",
        description="NIS2 reporting fields of an incident recorded in cybercrisis.",
        schema=EXTENSION_SCHEMA,
        version="1.1.0",
    )


def alert_extension_definition() -> stix2.ExtensionDefinition:
    """Our property extension of `report` for an early warning: its own id, its recipients and their
    acknowledgements, which a node holding it as a replica needs (ADR 0013)."""
    return _extension(
        ALERT_EXTENSION_ID,
        created=EXTENSION_MODIFIED,
        name="cybercrisis early warning",
        description="Recipients and acknowledgements of an early warning sent in cybercrisis.",
        schema=ALERT_EXTENSION_SCHEMA,
        version="1.0.0",
    )


def _new_sdo(oid: str, *, name: str, description: str, schema: str) -> Any:
    """One of our new SDOs (ADR 0013), version 1.0.0."""
    return _extension(
        oid,
        created=EXTENSION_MODIFIED,
        name=name,
        description=description,
        schema=schema,
        version="1.0.0",
        kind="new-sdo",
    )


# Our new SDOs (ADR 0013): what a node holding another node's object as a replica needs. Each bundle that holds one
# carries its definition (exchange/stix_bundles.py), in this order.
NEW_SDOS: dict[str, tuple[str, str, str]] = {
    CRISIS_EXTENSION_ID: (
        "cybercrisis crisis",
        "A crisis coordinated in cybercrisis: its escalation state, decisions and actions.",
        CRISIS_EXTENSION_SCHEMA,
    ),
    REQUEST_EXTENSION_ID: (
        "cybercrisis request for assistance",
        "A request for mutual assistance or to the EU Cybersecurity Reserve made in cybercrisis.",
        REQUEST_EXTENSION_SCHEMA,
    ),
    SITREP_EXTENSION_ID: (
        "cybercrisis situation report",
        "A published EU situation report and the frozen sources its figures are computed from.",
        SITREP_EXTENSION_SCHEMA,
    ),
    OFFER_EXTENSION_ID: (
        "cybercrisis offer of assistance",
        "An offer of help made on a request for assistance in cybercrisis, and what became of it.",
        OFFER_EXTENSION_SCHEMA,
    ),
    COMMUNICATION_EXTENSION_ID: (
        "cybercrisis coordinated communication",
        "A public statement or lines to take coordinated in cybercrisis, with its approvals.",
        COMMUNICATION_EXTENSION_SCHEMA,
    ),
    CONTRIBUTION_EXTENSION_ID: (
        "cybercrisis national contribution",
        "A Member State's national contribution to the EU situational picture for a reporting period.",
        CONTRIBUTION_EXTENSION_SCHEMA,
    ),
    WITHDRAWAL_EXTENSION_ID: (
        "cybercrisis withdrawal",
        "An object shared through cybercrisis was withdrawn from some of its recipients.",
        WITHDRAWAL_EXTENSION_SCHEMA,
    ),
}


def new_sdo_definition(extension_id: str) -> stix2.ExtensionDefinition:
    """The extension-definition of one of our new SDOs (`NEW_SDOS`)."""
    name, description, schema = NEW_SDOS[extension_id]
    return _new_sdo(extension_id, name=name, description=description, schema=schema)


def identity(org: Organisation) -> stix2.Identity:
    """A directory organisation; its id is already `identity--<uuid>`, the same on every node."""
    return stix2.Identity(
        id=org.id,
        name=org.name,
        identity_class="organization",
        created=org.created_at,
        modified=max(org.modified_at, org.created_at),
        object_marking_refs=[marking_id(TLP.GREEN)],
        **({"description": org.description} if org.description else {}),
    )


def location(country: str) -> stix2.Location:
    return stix2.Location(
        id=derived_id("location", f"country:{country}"),
        country=country,
        name=country,
        created=REFERENCE_TIME,
        modified=REFERENCE_TIME,
        object_marking_refs=[marking_id(TLP.CLEAR)],
    )


def observable(type_: str, value: str, tlp: str) -> Any:
    """One of our observables as a STIX object: an SCO with its deterministic id, or a CVE `vulnerability`."""
    marks = [marking_id(tlp)]
    if type_ == "ipv4-addr":
        return stix2.IPv4Address(value=value, object_marking_refs=marks)
    if type_ == "ipv6-addr":
        return stix2.IPv6Address(value=value, object_marking_refs=marks)
    if type_ == "domain-name":
        return stix2.DomainName(value=value, object_marking_refs=marks)
    if type_ == "url":
        return stix2.URL(value=value, object_marking_refs=marks)
    if type_ == "email-addr":
        return stix2.EmailAddress(value=value, object_marking_refs=marks)
    if type_ in HASHES:
        return stix2.File(hashes={HASHES[type_]: value}, object_marking_refs=marks)
    if type_ == "autonomous-system":
        return stix2.AutonomousSystem(number=int(value.removeprefix("AS")), object_marking_refs=marks)
    if type_ == "cve":
        # The CVE itself is public; that this incident saw it is carried (and marked) by the relationship.
        return stix2.Vulnerability(
            id=derived_id("vulnerability", f"cve:{value}"),
            name=value,
            created=REFERENCE_TIME,
            modified=REFERENCE_TIME,
            object_marking_refs=[marking_id(TLP.CLEAR)],
            external_references=[
                {"source_name": "cve", "external_id": value, "url": f"https://www.cve.org/CVERecord?id={value}"}
            ],
        )
    raise ValueError(f"no STIX form for observable type {type_}")


def relationship(source: str, kind: str, target: str, *, at: datetime, tlp: str, author: str) -> stix2.Relationship:
    return stix2.Relationship(
        id=derived_id("relationship", f"{source}|{kind}|{target}"),
        relationship_type=kind,
        source_ref=source,
        target_ref=target,
        created=at,
        modified=at,
        created_by_ref=author,
        object_marking_refs=[marking_id(tlp)],
    )


def chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    """`items` in slices small enough for an `IN (...)` on every database."""
    for n in range(0, len(items), size):
        yield items[n : n + size]
