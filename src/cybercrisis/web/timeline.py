"""The timeline of an object as a page shows it: one helper for every page, saying what the API says and no more.

The API gives each entry's actor as bare ids (`actor_user_id`, `actor_org_id`). A page names the organisation
and, for the reader's own organisation only, the user's e-mail: other organisations' staff are named by their
organisation, as the directory shows them. Summary values the reader may not read are hidden by the caller
(`hide`), which knows what the page shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from cybercrisis.access.principal import Principal
from cybercrisis.audit import service as audit
from cybercrisis.web import queries
from cybercrisis.web.render import tag_words


class Event(Protocol):
    """What the page needs of an entry: `audit.ShownEvent` and the API's `TimelineEntry` both have it."""

    @property
    def tag(self) -> str: ...
    @property
    def actor_user_id(self) -> str | None: ...
    @property
    def actor_org_id(self) -> str | None: ...
    @property
    def summary(self) -> dict[str, Any]: ...


# What federation records on any object held at another node (ADR 0013), named the same on every page.
FEDERATION_LABELS = {
    "exchange:replica:apply": "New version received from the node that holds it",
    "exchange:replica:withdraw": "Withdrawn by its node from some of its recipients",
    "answers:answer:queue": "Answer sent to the node that holds it",
    "answers:answer:applied": "Answer applied by the node that holds it",
    "answers:answer:refused": "Answer refused by the node that holds it",
}


def _at(event: Event) -> datetime:
    at: datetime = getattr(event, "occurred_at", None) or event.at  # type: ignore[attr-defined]
    return at


def timeline_rows(
    db: Session,
    principal: Principal,
    events: Iterable[Event],
    *,
    labels: Mapping[str, str],
    omit: Callable[[str, Any], bool] | None = None,
    hide: Callable[[Any], Any] | None = None,
    names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """`{"timeline": [...], "timeline_names": {...}}` for the `timeline.html` include.

    `labels` names each event tag in words (the domain's own table); `omit(key, value)` drops a summary entry
    the page makes redundant (the object's own id); `hide(value)` replaces a value the reader may not see;
    `names` adds titles for ids the page knows (linked objects).
    """
    events = list(events)
    orgs = queries.org_refs(db, (e.actor_org_id or "" for e in events))
    emails = queries.user_emails(db, (e.actor_user_id or "" for e in events if e.actor_org_id == principal.org_id))
    entries: list[dict[str, Any]] = [
        {
            "at": _at(e),
            "what": labels.get(e.tag) or FEDERATION_LABELS.get(e.tag) or tag_words(e.tag),
            "org": orgs.get(e.actor_org_id or ""),
            "user": emails.get(e.actor_user_id or ""),
            "summary": {k: (hide(v) if hide else v) for k, v in e.summary.items() if omit is None or not omit(k, v)},
        }
        for e in events
    ]
    all_names = queries.org_names_in(db, (e["summary"] for e in entries))
    all_names.update(names or {})
    return {"timeline": entries, "timeline_names": all_names}


def object_timeline(
    db: Session,
    principal: Principal,
    object_id: str,
    *,
    labels: Mapping[str, str],
    omit: Callable[[str, Any], bool] | None = None,
    hide: Callable[[Any], Any] | None = None,
    names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The timeline of one object, read through the read policy (`audit.timeline`)."""
    events = audit.timeline(db, reader=principal, object_id=object_id)
    return timeline_rows(db, principal, events, labels=labels, omit=omit, hide=hide, names=names)
