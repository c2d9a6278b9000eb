"""Form text at the HTTP door: control characters a person cannot type (C0 but TAB, LF, CR) are refused with 422
naming the field, urlencoded or multipart, before the route runs; multipart bodies are UTF-8 only."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cybercrisis.audit.models import AuditEvent
from cybercrisis.documents.models import Document
from tests.conftest import Actor, count
from tests.web.conftest import HTML, csrf_on, sign_in


def fields(client: TestClient, **over: str) -> dict[str, str]:
    return {
        "csrf_token": csrf_on(client, "/documents/new"),
        "title": "Draft",
        "kind": "sop",
        "tlp": "amber+strict",
        "body": "",
        "users": "",
        **over,
    }


def test_control_characters_in_a_form_field_are_refused_naming_it(client: TestClient, fr: Actor, db: Session) -> None:
    assert sign_in(client, fr.email).status_code == 303
    before = (count(db, Document), count(db, AuditEvent))
    for title, shown in (("a\x00b", "NUL (U+0000)"), ("\x1b[31mred", "U+001B")):
        r = client.post("/documents", data=fields(client, title=title), headers=HTML, follow_redirects=False)
        assert r.status_code == 422, r.text
        assert "title: contains" in r.text.lower() and shown in r.text
    # The same through multipart, which the route accepts as well.
    r = client.post(
        "/documents",
        data=fields(client, body="x\x07"),
        files={"attachment": ("a.txt", b"\x00\x01")},
        headers=HTML,
        follow_redirects=False,
    )
    assert r.status_code == 422 and "body: contains the control character u+0007" in r.text.lower()
    assert (count(db, Document), count(db, AuditEvent)) == before
    # Tabs and line breaks, as textareas send them, are text.
    r = client.post("/documents", data=fields(client, body="one\r\n\ttwo"), headers=HTML, follow_redirects=False)
    assert r.status_code == 303, r.text
    db.rollback()
    assert db.query(Document).one().body == "one\r\n\ttwo"


def test_multipart_in_another_charset_is_refused(client: TestClient, fr: Actor, db: Session) -> None:
    """Starlette decodes multipart fields with the charset sent: unicode_escape would turn text into surrogates."""
    assert sign_in(client, fr.email).status_code == 303
    form = fields(client, title="\\ud800")
    boundary = "b0undary"
    parts = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in form.items()
    )
    r = client.post(
        "/documents",
        content=f"{parts}--{boundary}--\r\n".encode(),
        follow_redirects=False,
        headers={**HTML, "Content-Type": f"multipart/form-data; charset=unicode_escape; boundary={boundary}"},
    )
    assert r.status_code == 415 and "multipart forms are UTF-8" in r.text
    assert count(db, Document) == 0
