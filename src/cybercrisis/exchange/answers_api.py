"""`POST /federation/v1/answers`: another node sends an act on one of our objects home (ADR 0013, answers_in.py).

Node-to-node, not TAXII: a TAXII POST would store the request as an object to serve, and its status says stored or
not, not why a policy refused. Authenticated like TAXII (an API token or HTTP Basic, never the UI's cookie).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from cybercrisis.access.principal import Principal
from cybercrisis.config import Settings
from cybercrisis.deps import DB, OptionalPrincipal
from cybercrisis.errors import NotAuthenticated
from cybercrisis.exchange import answers_in
from cybercrisis.exchange import node as nodes

router = APIRouter(prefix="/federation/v1", tags=["federation"])


async def _node_account(request: Request, principal: OptionalPrincipal) -> Principal:
    if not request.headers.get("authorization") or not principal.is_authenticated:
        raise NotAuthenticated("send 'Authorization: Bearer <API token>' of the asking organisation's account here")
    return principal


NodeAccount = Annotated[Principal, Depends(_node_account)]

_KEY_EXAMPLE = "answer--6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"
_SIG_EXAMPLE: dict[str, Any] = {
    "node": "identity--1d0e...",
    "key": "3f2a9c0b1e4d5a6f",
    "signature": "base64url Ed25519",
}


class AnswerRequest(BaseModel):
    """An act of an organisation on a replica of one of this node's objects, signed by the asking node."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "to": "identity--7a1b2c3d-0e4f-4a5b-8c6d-9e0f1a2b3c4d",
                    "key": _KEY_EXAMPLE,
                    "act": "alert.acknowledge",
                    "object": "alert--2c4e6a80-1b3d-4f5a-8c7e-9d0f1a2b3c4d",
                    "organisation": "identity--5e0a1f43-8c2b-5d6e-9f70-1a2b3c4d5e6f",
                    "user": "9b1c0f4e2d3a5b6c7d8e9f0a1b2c3d4e",
                    "version_seen": "2026-12-07T09:30:00.000000Z",
                    "input": {},
                    "signature": _SIG_EXAMPLE,
                }
            ]
        },
    )

    to: str = Field(max_length=120, description="the node addressed (the object's origin), signed: never replayed")
    key: str = Field(max_length=120, description="answer--<uuid4>: the asking node's idempotency key")
    act: Literal[
        "alert.acknowledge",
        "crisis.escalation.answer",
        "crisis.decide",
        "assistance.offer",
        "assistance.offer.withdraw",
        "communication.verdict",
    ] = Field(
        description="one of the acts sent home (access.authority.ANSWERS): acknowledging an early warning (object: "
        "the alert), answering a proposed move of a crisis (object: the escalation), recording a decision in a "
        "crisis (object: the crisis), offering help on a request for assistance (object: the request), withdrawing "
        "an offer made there (object: the offer), approving a statement or asking for changes (object: the "
        "communication)"
    )
    object: str = Field(max_length=120, description="the id of the object answered, held at this node")
    organisation: str = Field(max_length=120, description="the organisation that acts (the account's own)")
    user: str = Field(max_length=64, description="an opaque reference to the asking node's user")
    version_seen: str | None = Field(default=None, max_length=40, description="the replica's `modified` when asked")
    input: dict[str, Any] = Field(
        default_factory=dict,
        description="the act's own input: none for alert.acknowledge; for crisis.escalation.answer "
        '{"agree": true|false, "comment": "..."} (a comment is required to refuse); for crisis.decide the body of '
        "POST /api/v1/crises/{id}/decisions; for assistance.offer the body of "
        "POST /api/v1/assistance-requests/{id}/offers without capability_id; none for assistance.offer.withdraw; "
        "for communication.verdict "
        '{"version": N, "verdict": "approve"|"changes", "comment": "..."} (a comment is required to ask for changes)',
        examples=[
            {},
            {"agree": True, "comment": ""},
            {
                "capability": "incident-response",
                "people": 2,
                "available_from": "2026-12-08T06:00:00+00:00",
                "conditions": "",
            },
            {"version": 2, "verdict": "approve", "comment": ""},
        ],
    )
    signature: dict[str, str] = Field(description="{node, key, signature}: Ed25519 over the RFC 8785 JSON")


class AnswerReply(BaseModel):
    """What became of an answer: applied (its change travels back as a new version of the object) or refused."""

    key: str
    status: Literal["applied", "refused", "relayed"] = Field(
        description="applied or refused by the origin; relayed: a relay kept it for the origin (ask again later)"
    )
    reason: str = Field(description="why it was refused; empty when applied")
    object: str
    modified: str | None = Field(description="the object's new version (`modified`) when applied by this request")
    signature: dict[str, str] = Field(
        description="the signature over the other fields: of the origin node (passed on unchanged by a relay), or of "
        "the relay itself for `relayed`"
    )


def _local(request: Request) -> nodes.Node:
    settings: Settings = request.app.state.settings
    return nodes.load(settings.data_dir)


@router.post("/answers", operation_id="federation_answer", response_model=AnswerReply)
def post_answer(body: AnswerRequest, request: Request, db: DB, principal: NodeAccount) -> dict[str, Any]:
    """Apply an act of another node's organisation on one of our objects, once per (node, key); asked again with
    the same key, returns the stored outcome. 403 when the node is not pinned here, its signature does not verify,
    or it does not speak for the organisation; 422 for a malformed request."""
    local = _local(request)
    settings: Settings = request.app.state.settings
    outcome = answers_in.apply_answer(
        db, principal=principal, request=body.model_dump(), local=local, settings=settings
    )
    if isinstance(outcome, dict):  # a relay passing on the origin's own signed reply, as received
        return outcome
    return answers_in.reply(outcome, local)
