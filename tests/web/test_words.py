"""Words people use (issue 19): audit tags, recorded times and validation errors in plain words on the pages."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from cybercrisis.errors import InvalidInput
from cybercrisis.web.forms import validated
from cybercrisis.web.render import _summary, tag_words


def test_an_audit_tag_no_page_names_is_shown_in_words() -> None:
    assert tag_words("incidents:report:overdue") == "Report overdue"
    assert tag_words("crises:escalation:consult") == "Escalation consult"
    assert tag_words("comms:communication:request-changes") == "Communication request changes"


def test_summaries_show_times_as_pages_do_and_names_for_keys() -> None:
    shown = _summary(
        {"due_at": "2026-12-08T14:30:00+00:00", "to": "ipcr-full-activation", "shared": True},
        {"ipcr-full-activation": "IPCR: full activation"},
    )
    assert shown == "due at: 2026-12-08 14:30 UTC; to: IPCR: full activation; shared: yes"


class _Offer(BaseModel):
    people: int = Field(ge=1, le=1000)
    title: str = Field(min_length=1, max_length=10)


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"people": 0, "title": "x"}, "people", "must be at least 1"),
        ({"people": 5000, "title": "x"}, "people", "must be at most 1000"),
        ({"people": "many", "title": "x"}, "people", "must be a whole number"),
        ({"people": 1, "title": ""}, "title", "this is required"),
        ({"people": 1, "title": "x" * 11}, "title", "must be at most 10 characters long"),
        ({"title": "x"}, "people", "this is required"),
    ],
)
def test_validation_errors_are_in_plain_words_and_all_at_once(data: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        validated(_Offer, data)
    assert {"field": field, "message": words} in refused.value.errors
    assert "Input should" not in refused.value.detail


def test_every_bad_field_is_reported_at_once() -> None:
    with pytest.raises(InvalidInput) as refused:
        validated(_Offer, {"people": 0, "title": ""})
    assert {e["field"] for e in refused.value.errors} == {"people", "title"}
