"""Search and the observable pivot over the API."""

from __future__ import annotations

from pydantic import BaseModel, Field


class IncidentHit(BaseModel):
    id: str
    title: str
    tlp: str
    owner: str = Field(description="the recording organisation's id")


class ObservableOut(BaseModel):
    """An observable with the incidents the reader may read that have it (newest first)."""

    type: str = Field(description="ipv4-addr, domain-name, url, sha256, cve, ... (incidents' observable types)")
    value: str = Field(description="its canonical (refanged) form")
    incidents: list[IncidentHit]
    more: bool = Field(default=False, description="more incidents you may read have it than the 200 listed")


class ObjectHit(BaseModel):
    id: str
    title: str
    tlp: str


class OrganisationHit(BaseModel):
    id: str
    name: str
    short_name: str
    country: str | None


class SearchOut(BaseModel):
    """What matches `q` among what the reader may see, section by section (at most 20 each: `more` names the
    sections that have more; narrow the query)."""

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "query": "203.0.113.45",
                    "incidents": [],
                    "observables": [
                        {
                            "type": "ipv4-addr",
                            "value": "203.0.113.45",
                            "incidents": [
                                {
                                    "id": "incident--3f0e2c1a-8b7d-4e6f-9a5b-1c2d3e4f5a6b",
                                    "title": "Ransomware at CH Bellerive: patient records and imaging offline",
                                    "tlp": "amber",
                                    "owner": "identity--e06aa1d4-c03f-5b1e-bd71-bd6c45fc9af7",
                                }
                            ],
                            "more": False,
                        }
                    ],
                    "crises": [],
                    "documents": [],
                    "organisations": [],
                    "more": [],
                }
            ]
        }
    }

    query: str = Field(description="the query as searched: trimmed and refanged (hxxp, [.])")
    incidents: list[IncidentHit] = Field(description="title or description contains the query")
    observables: list[ObservableOut] = Field(description="value contains the query; with their incidents")
    crises: list[ObjectHit]
    documents: list[ObjectHit]
    organisations: list[OrganisationHit] = Field(description="name or short name contains the query")
    more: list[str] = Field(description="sections with more than 20 hits")
