"""My work over the API: the same list as the page, for integrations (a ticketing system, a duty phone's app)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

WorkKind = Literal[
    "agreement",
    "statement-approval",
    "offer-decision",
    "assistance-request",
    "action",
    "nis2-report",
    "early-warning",
    "handoff-receipt",
]


class WorkItemOut(BaseModel):
    """One thing that waits on the reader's organisation and that the reader may do."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "agreement",
                    "kind_label": "Agreement to a crisis move",
                    "object_id": "escalation--0b6c7d1e-5a7f-4a59-9a43-2f0d4c8b9e11",
                    "title": "Coordinated ransomware campaign against hospitals and energy operators",
                    "asked": "Agree, or not, to move the crisis to IPCR information sharing. Why: political attention.",
                    "link": "/crises/crisis--6a1f0c2e-8d0b-4d7e-9b6f-1f2e3d4c5b6a#escalations",
                    "since": "2026-12-07T09:12:00Z",
                    "due_at": None,
                    "overdue": False,
                    "tlp": "amber",
                    "crisis_id": "crisis--6a1f0c2e-8d0b-4d7e-9b6f-1f2e3d4c5b6a",
                }
            ]
        }
    )

    kind: WorkKind = Field(
        description="agreement: a pending crisis move needs the organisation's agreement; statement-approval: a "
        "statement's current version waits for its approval; offer-decision: offers on its own assistance request "
        "wait for an answer; assistance-request: an open request addressed to it; action: a crisis action assigned "
        "to it; nis2-report: a NIS2 report of its incident is due; early-warning: an alert to acknowledge; "
        "handoff-receipt: a hand-off it holds waits for its acknowledgement of receipt (chain of custody)"
    )
    kind_label: str = Field(description="The kind in words, as the page shows it")
    object_id: str = Field(description="The object to act on (for a NIS2 report: its incident)")
    title: str
    asked: str = Field(description="What is asked, in words")
    link: str = Field(description="The page (path) where it is done, with its section")
    since: datetime = Field(description="Since when it waits")
    due_at: datetime | None = Field(description="Its deadline, when it has one (the object's own)")
    overdue: bool
    tlp: str
    crisis_id: str | None = Field(default=None, description="For an agreement: the crisis it moves")


class MyWorkOut(BaseModel):
    """Most urgent first: overdue (oldest deadline first), then by deadline, then the rest by age."""

    count: int = Field(description="How many items wait (the navigation's badge)")
    items: list[WorkItemOut]
