"""The crisis room cached per reader until a change reaches it (cybercrisis.cache), and its rendered page."""

from __future__ import annotations

from collections.abc import Callable, Hashable

from sqlalchemy.orm import Session

from cybercrisis.access.principal import Principal
from cybercrisis.cache import Change, ChangeFeed, DependentCache, Depends, reader_key
from cybercrisis.config import Settings
from cybercrisis.crises.room import room
from cybercrisis.crises.schemas import CrisisOut

# Kinds that belong to one crisis (their parents name it) and kinds counted in the room of the object they belong to.
OF_CRISIS = frozenset(
    {"incident", "escalation", "decision", "task", "assistance-request", "communication", "publication", "handoff"}
)
OF_SHOWN = frozenset({"alert", "assistance-offer", "handoff"})  # an alert of a shown incident, an offer of a request


def shown_ids(out: CrisisOut) -> frozenset[str]:
    """Every object the room shows: a change to one of them reaches the room, whoever may read it now."""
    return frozenset(
        [out.id]
        + [i.id for i in out.incidents]
        + [s.id for s in out.sitreps]
        + [a.id for a in out.alerts]
        + [r.id for r in out.assistance_requests]
        + [c.id for c in out.communications]
        + [h.id for h in out.handoffs]
        + [e.id for e in out.escalations]
        + [d.id for d in out.decisions]
        + [a.id for a in out.actions]
    )


def depends(reader: Principal, crisis_id: str, shown: frozenset[str]) -> Depends:
    """The changes that can alter `reader`'s room of `crisis_id`: to what it shows (what the reader could read
    before), or to an object of the crisis, a published report, an alert or offer of what it shows, that the reader
    can read after."""

    def affected(change: Change) -> bool:
        if change.object_id in shown:
            return True
        if change.kind == "sitrep":
            return change.reaches(reader)
        if change.kind in OF_CRISIS and crisis_id in change.parents:
            return change.reaches(reader)
        if change.kind in OF_SHOWN and change.parents & shown:
            return change.reaches(reader)
        return False

    return affected


class RoomCache:
    """Per process: (crisis, reader) -> the room and its JSON, until a change reaches it (cybercrisis.cache).

    Time alone (an action becoming overdue) shows within `ttl` seconds.
    """

    def __init__(self, feed: ChangeFeed, size: int = 256, ttl: float = 30.0) -> None:
        self._cache: DependentCache[tuple[CrisisOut, bytes]] = DependentCache(feed, size, ttl)
        self._pages: DependentCache[bytes] = DependentCache(feed, 64, ttl)

    def entry(self, session: Session, reader: Principal, crisis_id: str, settings: Settings) -> tuple[CrisisOut, bytes]:
        def build() -> tuple[tuple[CrisisOut, bytes], Depends]:
            out = room(session, reader, crisis_id, settings)
            return (out, out.model_dump_json().encode()), depends(reader, crisis_id, shown_ids(out))

        return self._cache.get(session, ("room", crisis_id, reader_key(reader)), build)

    def page(
        self,
        session: Session,
        reader: Principal,
        crisis_id: str,
        settings: Settings,
        key: tuple[Hashable, ...],
        render: Callable[[], bytes],
    ) -> bytes:
        """The rendered room page for `key` (what else it shows per viewer: its session, a note). Beside the room,
        the page offers the reader's open incidents to link and names people and organisations: a change to an
        incident the reader can read, or to a user or organisation, draws it again."""

        def build() -> tuple[bytes, Depends]:
            out = self.entry(session, reader, crisis_id, settings)[0]
            in_room = depends(reader, crisis_id, shown_ids(out))

            def affected(change: Change) -> bool:
                if change.kind in ("user", "identity"):
                    return True
                return in_room(change) or (change.kind == "incident" and change.reaches(reader))

            return render(), affected

        return self._pages.get(session, ("room-page", crisis_id, reader_key(reader), *key), build)
