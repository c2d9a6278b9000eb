"""Jinja2 environment and the page renderer shared by every view."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from cybercrisis.access.permissions import Permission
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.directory.countries import COUNTRIES
from cybercrisis.directory.models import ORG_TYPE_LABELS

templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")
templates.env.globals.update(
    TLP=TLP, COUNTRIES=COUNTRIES, ORG_TYPE_LABELS={k.value: v for k, v in ORG_TYPE_LABELS.items()},
    Permission=Permission,
)


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    permission: Permission | None = None


# Each domain adds its section here as it lands (incidents, situation, crises, assistance, communication,
# exercises, lessons); the layout has room for about a dozen entries.
NAV: list[NavItem] = [
    NavItem("Overview", "/"),
    NavItem("Directory", "/directory"),
    NavItem("Documents", "/documents"),
    NavItem("Users", "/admin/users", Permission.USER_READ),
    NavItem("Audit", "/admin/audit", Permission.AUDIT_READ),
]


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200,
    principal: Principal | None = None, headers: dict[str, str] | None = None,
) -> HTMLResponse:
    ws = getattr(request.state, "web_session", None)
    ctx: dict[str, Any] = {
        "principal": principal,
        "csrf_token": ws.csrf_token if ws is not None else "",
        "current_user": ws.user if ws is not None else None,
        "nav": [n for n in NAV if n.permission is None or (principal is not None and principal.has(n.permission))],
        "path": request.url.path,
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, template, ctx, status_code=status, headers=headers)


def error_page(request: Request, *, status: int, title: str, detail: str,
               headers: dict[str, str] | None = None) -> HTMLResponse:
    return render(request, "error.html", {"status": status, "title": title, "detail": detail}, status=status,
                  headers=headers)
