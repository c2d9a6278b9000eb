"""The NIS2 Art. 23(6) and 23(8) steps on the incident page: informing other Member States through the form, the
SPOC forwarding on request, and what a reader who may not act is (not) offered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cybercrisis.incidents.flow_models import MemberStateInformation
from tests.conftest import Actor, World, count
from tests.web.conftest import HTML, csrf_on, sign_in


@pytest.fixture
def cast(world: World) -> dict[str, Actor]:
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("FR-SPOC", type_="spoc", country="FR")
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    world.org("DE-SPOC", type_="spoc", country="DE")
    world.org("ENISA", type_="eu-body", country=None)
    return {
        "fr": world.user("CERT-FR"),
        "fr_spoc": world.user("FR-SPOC"),
        "de": world.user("CERT-Bund"),
        "de_spoc": world.user("DE-SPOC"),
    }


def _significant(client: TestClient, actor: Actor, **over: object) -> str:
    body = {
        "title": "Wiper at a cross-border grid operator",
        "tlp": "amber",
        "countries": ["FR", "DE"],
        "aware_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
        "significance": "significant",
        "significance_reason": "grid operations disrupted in two Member States",
        **over,
    }
    r = client.post("/api/v1/incidents", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_the_recording_csirt_informs_other_member_states_through_the_form(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    inc = _significant(client, cast["fr"])
    sign_in(client, cast["fr"].email)
    url = f"/incidents/{inc}"
    page = client.get(url, headers=HTML).text
    assert "Inform other affected Member States and ENISA" in page
    token = csrf_on(client, url)
    bad = client.post(
        f"{url}/inform-member-states", headers=HTML, data={"csrf_token": token, "member_states": "FR", "summary": "x"}
    )
    assert bad.status_code == 422 and "not your own" in bad.text.lower()
    assert count(db, MemberStateInformation) == 0
    ok = client.post(
        f"{url}/inform-member-states",
        headers=HTML,
        follow_redirects=False,
        data={
            "csrf_token": token,
            "member_states": "DE",
            "enisa": "yes",
            "share_incident": "yes",
            "summary": "Wiper; balancing services possibly affected.",
        },
    )
    assert ok.status_code == 303 and ok.headers["location"].endswith("#member-states")
    after = client.get(url, headers=HTML).text
    assert "informed DE and ENISA" in after and "the incident is shared with them" in after
    assert "Other Member States informed (NIS2 Art. 23(6))" in after  # on the timeline
    # The German SPOC now reads the incident, sees the step, and is offered no form to inform (not its incident).
    sign_in(client, cast["de_spoc"].email)
    theirs = client.get(url, headers=HTML)
    assert theirs.status_code == 200 and "Wiper; balancing services possibly affected." in theirs.text
    assert "Inform other affected Member States and ENISA" not in theirs.text


def test_the_own_spoc_forwards_on_request_from_the_page_and_another_spoc_is_offered_nothing(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    inc = _significant(client, cast["fr"], share_with={"organisations": [cast["de_spoc"].org_id]})
    r = client.post(
        f"/api/v1/incidents/{inc}/forwarding-requests", json={"member_states": ["DE"]}, headers=cast["fr"].headers
    )
    assert r.status_code == 201, r.text
    sign_in(client, cast["de_spoc"].email)
    assert "Forward the notification" not in client.get(f"/incidents/{inc}", headers=HTML).text
    sign_in(client, cast["fr_spoc"].email)
    url = f"/incidents/{inc}"
    page = client.get(url, headers=HTML).text
    assert "Forward the notification (NIS2 Art. 23(8))" in page and "requested" in page
    token = csrf_on(client, url)
    done = client.post(
        f"{url}/forwardings/{r.json()['id']}/forward", data={"csrf_token": token}, headers=HTML, follow_redirects=False
    )
    assert done.status_code == 303
    after = client.get(url, headers=HTML).text
    assert "forwarded" in after and "Forward the notification (NIS2 Art. 23(8))" not in after
    again = client.post(f"{url}/forwardings/{r.json()['id']}/forward", data={"csrf_token": token}, headers=HTML)
    assert again.status_code == 409
