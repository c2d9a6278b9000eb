"""Translations that lag behind their text (issue 19): flagged, and approval and release blocked until someone
confirms them or they are updated; the embargo shows the time left."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.audit.models import AuditEvent
from cybercrisis.comms.models import CommunicationVersion
from cybercrisis.comms.reading import stale_translations
from cybercrisis.comms.tasks import release_due
from cybercrisis.config import Settings
from cybercrisis.db import utcnow
from tests.comms.conftest import Cast, draft, rows
from tests.web.conftest import HTML, csrf_on, sign_in

API = "/api/v1/communications"


def edit(client: TestClient, cast: Cast, c: dict[str, Any], **fields: Any) -> dict[str, Any]:
    r = client.patch(f"{API}/{c['id']}", json={"version": c["version"], **fields}, headers=cast["fr"].headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def approve(client: TestClient, cast: Cast, who: str, c: dict[str, Any], **extra: Any) -> Any:
    body = {"version": c["version"], **extra}
    return client.post(f"{API}/{c['id']}/approve", json=body, headers=cast[who].headers)


def v(number: int, title: str, body: str, **translations: str) -> CommunicationVersion:
    return CommunicationVersion(
        communication_id="communication--x",
        number=number,
        title=title,
        body=body,
        translations={lang: {"title": t, "body": t} for lang, t in translations.items()},
    )


def test_a_translation_is_stale_when_the_text_changed_after_it() -> None:
    assert stale_translations([v(1, "T", "B", fr="f1")]) == {}
    assert stale_translations([v(1, "T", "B", fr="f1"), v(2, "T", "B2", fr="f1")]) == {"fr": 2}
    # Updated in the same version as the text: not stale; the embargo alone changing: not stale either.
    assert stale_translations([v(1, "T", "B", fr="f1"), v(2, "T", "B2", fr="f2")]) == {}
    assert stale_translations([v(1, "T", "B", fr="f1"), v(2, "T", "B", fr="f1")]) == {}
    # Updated later: no longer stale; a language added after the change: not stale.
    three = [v(1, "T", "B", fr="f1"), v(2, "T2", "B", fr="f1"), v(3, "T2", "B", fr="f3", de="d3")]
    assert stale_translations(three) == {}
    assert stale_translations([*three, v(4, "T2", "B4", fr="f3", de="d3")]) == {"de": 4, "fr": 4}


def test_approving_a_version_with_a_stale_translation_needs_a_confirmation_which_is_audited(
    client: TestClient, cast: Cast, db: Session
) -> None:
    c = draft(client, cast)
    assert c["stale_translations"] == {}
    c = edit(client, cast, c, body="Two grid operators were hit.\nPower supply is restored.")
    assert c["stale_translations"] == {"fr": 2}
    refused = approve(client, cast, "de_coord", c)
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["field"] == "confirm_stale_translations"
    assert "French (fr) translation was not updated since the text changed in version 2" in refused.text
    assert client.get(f"{API}/{c['id']}", headers=cast["fr"].headers).json()["waiting_for"] != []
    ok = approve(client, cast, "de_coord", c, confirm_stale_translations=True)
    assert ok.status_code == 200, ok.text
    [event] = rows(db, AuditEvent, AuditEvent.object_id == c["id"], AuditEvent.tag == "comms:communication:approve")
    assert '"stale_translations_confirmed":["fr"]' in event.summary
    # Updating the translation clears the flag: the next approval needs no confirmation.
    fr = {"title": "Rançongiciel", "body": "L'alimentation électrique est rétablie."}
    c = edit(client, cast, ok.json(), translations={"fr": fr})
    assert c["stale_translations"] == {}
    assert approve(client, cast, "de_coord", c).status_code == 200


def test_once_every_approver_confirmed_the_statement_is_released_at_its_embargo(
    client: TestClient, cast: Cast, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    c = draft(client, cast)
    c = edit(client, cast, c, title="Ransomware at grid operators: power restored")
    assert approve(client, cast, "de_coord", c, confirm_stale_translations=True).status_code == 200
    assert release_due(session_factory, settings, utcnow() + timedelta(minutes=1)) == 0  # ENISA has not approved
    assert approve(client, cast, "enisa_coord", c).status_code == 409  # each approver confirms for itself
    assert approve(client, cast, "enisa_coord", c, confirm_stale_translations=True).status_code == 200
    assert release_due(session_factory, settings, utcnow() + timedelta(minutes=1)) == 1


def test_the_page_flags_the_translation_asks_for_the_confirmation_and_counts_down_the_embargo(
    client: TestClient, cast: Cast
) -> None:
    embargo = (utcnow() + timedelta(hours=5, minutes=30)).replace(microsecond=0)
    c = draft(client, cast, embargo_until=embargo.isoformat())
    c = edit(client, cast, c, body="Power supply is restored.")
    sign_in(client, cast["de_coord"].email)
    path = f"/communications/{c['id']}"
    page = client.get(path, headers=HTML).text
    assert "<strong>Not updated</strong> since the text changed in version 2" in page
    assert "Let the translations that were not updated go out as they are" in page
    assert "lifts in 5 h" in page
    token = csrf_on(client, path)
    refused = client.post(f"{path}/approve", data={"csrf_token": token, "version": "2"}, headers=HTML)
    assert refused.status_code == 409 and 'id="ap-stale-error"' in refused.text
    ok = client.post(
        f"{path}/approve",
        data={"csrf_token": token, "version": "2", "confirm_stale_translations": "yes"},
        headers=HTML,
        follow_redirects=False,
    )
    assert ok.status_code == 303, ok.text
