"""Names vulture cannot see used (`make lint` runs `vulture src/cybercrisis tools/vulture_whitelist.py`).

Framework-called functions need no entry: FastAPI endpoints, Typer commands, pydantic validators and SQLAlchemy event
listeners are recognised by their decorators (`ignore_decorators` in pyproject.toml). This file lists the rest, one
block per reason. A name added here is used; a name that is not belongs deleted, not listed.
"""

from vulture.whitelist_utils import Whitelist

_ = Whitelist()

# Fields of pydantic schemas and forms, ORM columns, enum members and result dataclasses: FastAPI serialises them,
# the Jinja templates, SQL and API clients read them, and Python code sets them by keyword, never by name.
_.acknowledged_by_me
_.answered
_.applied
_.last_heard
_.stale
_.added_by_org_id
_.approved_at
_.approved_by
_.audience_digest
_.audience_figures
_.badge
_.badge_text
_.live_count
_.kind_label
_.by_root_cause
_.by_rsit_class
_.by_sector
_.by_significance
_.closed_by
_.COMMUNICATION
_.communication_version
_.considerable_health_damage
_.cross_border_impact
_.custody
_.data_compromised
_.death_of_natural_person
_.decided_by_org
_.decisions_needed
_.dns_average_response_seconds
_.dns_slow_response_minutes
_.domain_names_affected
_.domain_names_managed
_.escalated
_.fact
_.forwarded_by
_.guidance
_.href
_.IMMEDIATE
_.incident_title
_.informations
_.last_run_at
_.law_enforcement_guidance
_.limited_availability_minutes
_.meaning
_.member_states_significantly_affected
_.misconfiguration_only
_.mitigation_applied
_.mitigation_ongoing
_.notified
_.offerer
_.offerer_name
_.OPERATIONAL
_.overdue_reports
_.physical_access_compromised
_.POLITICAL
_.POLITICAL_MEASURE
_.proposed_by
_.pull_collections
_.recorded_by_id
_.retrying
_.ROUTINE
_.scheduled_maintenance
_.sent_by_us
_.severity_and_impact
_.submitted_by
_.supersedes
_.TECHNICAL
_.time_to_acknowledge
_.to_label
_.trade_secrets_exfiltrated
_.transmitted_by
_.transmitted_by_id
_.transmitted_by_name
_.unauthorised_access
_.unavailability_minutes
_.unavailable_minutes_calendar_week
_.users_affected
_.users_affected_percent
_.users_data_compromised
_.users_data_compromised_percent
_.users_in_union
_.users_unavailable
_.users_unavailable_percent

# Hooks of the libraries we extend, called by them: requests' adapter and urllib3's pools (outbound.py), PyMISP's
# event attributes read by its serialiser (exchange/misp.py), the file protocol of the evidence stream
# (handoffs/evidence.py), the sqlite3 connection attribute read by the driver (db.py), click's group methods of the
# lazily loading CLI (cli/main.py).
_.list_commands
_.get_command
_.ConnectionCls
_.pool_classes_by_scheme
_.proxy_manager_for
_.proxy_kwargs
_.trust_env
_.publish_timestamp
_.threat_level_id
_.analysis
_.distribution
_.Orgc
_.Org
_.force_timestamp
_.tell
_.isolation_level

# Entry points named by string or by hand: uvicorn's `cybercrisis.app:create_app --factory` and
# `cybercrisis.cli.serve_cmd:served_app`, the `serve` command loaded by name (cli/main.py), the developer's
# migration helper, and a setting read from CYBERCRISIS_PAGE_SIZE_MAX.
_.create_app
_.served_app
_.serve
_.autogenerate
_.page_size_max

# Public functions that only the tests call today, kept as API: job registration for extensions, the STIX import of
# an incident (docs/exchange.md), the assistance period and the peers' ignored keys.
_.register
_.incident_from_stix
_.one_month_after
_.ignored_keys
