"""Crisis room forms for the IPCR arrangements and NIS2 Art. 16(2): recording a consultation before an activation,
and recording the Commission's role in EU-CyCLONe for this crisis (crises/service.py decides who may)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from cybercrisis.crises import service
from cybercrisis.crises.schemas import ConsultationIn
from cybercrisis.deps import DB
from cybercrisis.errors import InvalidInput
from cybercrisis.web.crisis_views import _back, _Refusals, _refused, _settings
from cybercrisis.web.pagedeps import PagePrincipal, check_csrf

router = APIRouter()
Csrf = Annotated[str, Form(max_length=100)]


def _invalid(exc: ValidationError) -> InvalidInput:
    errors = [{"field": str(e["loc"][0]), "message": str(e["msg"])} for e in exc.errors()]
    return InvalidInput(errors[0]["message"], errors=errors)


@router.post("/crises/{crisis_id}/escalations/{escalation_id}/consultations")
def record_consultation(
    *,
    crisis_id: str,
    escalation_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Csrf = "",
    consulted: Annotated[str, Form(max_length=120)] = "",
    view: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    check_csrf(request, db, csrf_token)
    values = {"consulted": consulted, "view": view}
    try:
        try:
            data = ConsultationIn(consulted=consulted, view=view.strip())
        except ValidationError as exc:
            raise _invalid(exc) from None
        service.record_consultation(db, actor=principal, crisis_id=crisis_id, escalation_id=escalation_id, data=data)
    except _Refusals as exc:
        return _refused(request, db, principal, crisis_id, "consult", exc, values)
    return _back(crisis_id, "consulted", "escalations")


@router.post("/crises/{crisis_id}/commission-role")
def set_commission_role(
    *,
    crisis_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Csrf = "",
    role: Annotated[str, Form(max_length=16)] = "",
    rationale: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    check_csrf(request, db, csrf_token)
    values = {"role": role, "rationale": rationale}
    try:
        if not rationale.strip():
            raise InvalidInput("say why (NIS2 Art. 16(2))", errors=[{"field": "rationale", "message": "say why"}])
        service.set_commission_role(
            db,
            actor=principal,
            crisis_id=crisis_id,
            role=role,
            rationale=rationale.strip(),
            settings=_settings(request),
        )
    except _Refusals as exc:
        return _refused(request, db, principal, crisis_id, "commission-role", exc, values)
    return _back(crisis_id, "commission-role", "overview")
