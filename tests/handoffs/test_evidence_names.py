"""Evidence file names (issue 12, finding 10): a name with Unicode control or format characters (a right-to-left
override makes `cod.exe` read `exe.doc`; zero-width characters hide in plain sight) is refused with 422 naming
`file`, through the API and the page, and nothing is stored: no blob, no row, no custody link, no audit entry."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cybercrisis.errors import InvalidInput
from cybercrisis.handoffs import evidence
from tests.handoffs.test_handoffs_api import PCAP, Scene, handoff, scene, stored, upload, written
from tests.web.conftest import HTML, csrf_on, sign_in

__all__ = ["scene"]  # a fixture used here

NAMES = [
    "invoice\u202egpj.exe",  # RIGHT-TO-LEFT OVERRIDE
    "a\u2066b.pdf",  # LEFT-TO-RIGHT ISOLATE
    "a\u200fb.pdf",  # RIGHT-TO-LEFT MARK
    "a\u200bb.pdf",  # ZERO WIDTH SPACE
    "a\ufeffb.pdf",  # ZERO WIDTH NO-BREAK SPACE
    "a\x00b.exe",  # NUL (Cc)
    "a\x85b.txt",  # NEXT LINE (Cc, C1)
    "a\u2028b.txt",  # LINE SEPARATOR
]


@pytest.mark.parametrize("name", NAMES)
def test_names_with_control_or_format_characters_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        evidence.clean_name(name)
    assert refused.value.errors[0]["field"] == "file"
    assert f"U+{ord(next(c for c in name if not c.isalnum() and c not in '.')):04X}" in refused.value.detail


def test_plain_names_in_any_script_are_kept() -> None:
    assert evidence.clean_name("..\\..\\Überwachung 観察.pcap") == "Überwachung 観察.pcap"
    assert evidence.clean_name("") == "evidence"


def test_an_upload_named_with_a_bidi_override_is_a_422_naming_file_and_stores_nothing(
    client: TestClient, scene: Scene, db: Session
) -> None:
    h = handoff(client, scene)
    before = written(db)
    r = upload(client, scene, h["id"], PCAP, name="invoice\u202egpj.exe")
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "file" and "U+202E" in r.json()["detail"]
    assert written(db) == before and stored(scene.settings) == []
    # Through the page: the form comes back with the reason next to the file field.
    sign_in(client, scene["fr"].email)
    token = csrf_on(client, f"/handoffs/{h['id']}")
    before = written(db)  # signing in is audited
    r = client.post(
        f"/handoffs/{h['id']}/files",
        data={"csrf_token": token},
        headers=HTML,
        follow_redirects=False,
        files={"file": ("a\u200bb.pcap", PCAP, "application/octet-stream")},
    )
    assert r.status_code == 422 and "U+200B" in r.text and "The file was not added" in r.text
    assert written(db) == before and stored(scene.settings) == []
