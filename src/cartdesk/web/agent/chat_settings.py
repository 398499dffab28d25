"""Admin page for a brand's chat widget: looks, hours, pre-chat form, the verified-identity
secret and the snippet to paste into the shop.

The form posts plain fields; they are turned into the same ``WidgetSettingsUpdate`` the
admin API takes, so the page and the API share one set of rules. The identity secret is
shown once, right after it is generated; afterwards only its last characters are.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from cartdesk.auth import service as auth_service
from cartdesk.auth.schemas import Principal
from cartdesk.brands import service as brands_service
from cartdesk.brands.models import Brand
from cartdesk.channels.chat import service as chat_service
from cartdesk.channels.chat.schemas import MAX_CHATS_PER_AGENT, WEEKDAYS, WidgetSettingsUpdate
from cartdesk.db.deps import DbSession
from cartdesk.kit.errors import Forbidden, NotFound
from cartdesk.kit.routing import Router
from cartdesk.web.agent.common import sidebar
from cartdesk.web.agent.conversations import INLINE_HEADER
from cartdesk.web.deps import AgentPrincipal
from cartdesk.web.templating import render

router = Router(prefix="/settings/chat")
DAY_LABELS = dict(zip(WEEKDAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
                      strict=True))
FRIENDLY = {"color": "Use a hex colour like #4f46e5.", "position": "Pick left or right.",
            "max_chats_per_agent": f"A whole number from 1 to {MAX_CHATS_PER_AGENT}.",
            "routing_team_id": "Pick one of the teams."}
TEXT_FIELDS = ("color", "greeting", "offline_message", "position", "reply_time")


def _admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("Only admins can change the chat widget.")


def hours_text(spans: list[list[str]]) -> str:
    return ", ".join(f"{start}-{end}" for start, end in spans)


def parse_hours(form: dict[str, str]) -> tuple[dict[str, list[tuple[str, str]]], dict[str, str]]:
    """``"09:00-12:00, 13:00-17:00"`` per weekday → spans; malformed days are reported by name."""
    hours: dict[str, list[tuple[str, str]]] = {}
    errors: dict[str, str] = {}
    for day in WEEKDAYS:
        raw = (form.get(f"hours_{day}") or "").strip()
        if not raw:
            continue
        spans = []
        for part in raw.split(","):
            start, sep, end = part.strip().partition("-")
            if not sep:
                errors[f"hours_{day}"] = "Write spans as 09:00-17:00, separated by commas."
                break
            spans.append((start.strip(), end.strip()))
        hours[day] = spans
    return hours, errors


def _context(request: Request, session: Session, principal: Principal, brand: Brand, **extra: Any) -> dict[str, Any]:
    row = chat_service.widget_settings(session, brand_id=brand.id)
    values = {k: getattr(row, k) for k in (*TEXT_FIELDS, "enabled", "prechat_name", "prechat_email", "routing",
                                           "routing_team_id", "max_chats_per_agent")}
    values.update({f"hours_{d}": hours_text((row.business_hours or {}).get(d, [])) for d in WEEKDAYS})
    base = str(request.base_url).rstrip("/")
    return {
        **sidebar(session, principal=principal, active=None),
        "nav": "chat-settings",
        "brands": brands_service.list_brands(session),
        "teams": auth_service.list_teams(session),
        "max_chats_limit": MAX_CHATS_PER_AGENT,
        "brand": brand,
        "values": values,
        "errors": {},
        "day_labels": DAY_LABELS,
        "secret_hint": (row.identity_secret or "")[-4:],
        "new_secret": None,
        "saved": False,
        "snippet": f'<script src="{base}/widget.js" data-brand="{brand.slug}" async></script>',
        "preview_url": f"/demo/shop?brand={brand.slug}",
        **extra,
    }


@router.get("", name="chat_settings")
def settings_page(request: Request, session: DbSession, principal: AgentPrincipal, brand: str = "") -> Response:
    _admin(principal)
    brands = brands_service.list_brands(session)
    found = brands_service.resolve(session, ref=brand) if brand else (brands[0] if brands else None)
    if found is None:
        return render(request, "agent/error.html", {"title": "No brands yet", "message": "Create a brand first.", "status_code": 404},
                      status_code=404)
    return render(request, "chat/settings.html", _context(request, session, principal, found))


@router.post("/{brand}")
async def save_settings(request: Request, session: DbSession, principal: AgentPrincipal, brand: str) -> Response:
    _admin(principal)
    found = brands_service.resolve(session, ref=brand)
    form = {k: str(v) for k, v in (await request.form()).items()}
    hours, errors = parse_hours(form)
    data: dict[str, Any] = {k: form.get(k, "").strip() for k in TEXT_FIELDS}
    data.update(enabled="enabled" in form, prechat_name="prechat_name" in form,
                prechat_email="prechat_email" in form, business_hours=hours, routing="routing" in form,
                routing_team_id=form.get("routing_team_id") or None,
                max_chats_per_agent=form.get("max_chats_per_agent", "").strip() or None)
    settings_in = None
    try:
        settings_in = WidgetSettingsUpdate(**data)
    except ValidationError as exc:
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "form"
            message = str(err["msg"]).removeprefix("Value error, ")
            if field == "business_hours":  # the validator names the day: "tue: spans are …"
                day, _, message = message.partition(": ")
                field = f"hours_{day}" if day in WEEKDAYS else "hours_mon"
            errors.setdefault(field, FRIENDLY.get(field, message))
    for key in ("greeting", "offline_message", "reply_time"):
        if not data[key]:
            errors.setdefault(key, "This can't be empty.")
    if "max_chats_per_agent" in form and data["max_chats_per_agent"] is None:
        errors.setdefault("max_chats_per_agent", FRIENDLY["max_chats_per_agent"])
    if errors or settings_in is None:
        ctx = _context(request, session, principal, found, errors=errors)
        ctx["values"].update(form, enabled=data["enabled"], prechat_name=data["prechat_name"],
                             prechat_email=data["prechat_email"], routing=data["routing"],
                             routing_team_id=_int_or_none(data["routing_team_id"]))
        response = render(request, "chat/settings.html", ctx, status_code=422)
        response.headers[INLINE_HEADER] = "1"  # htmx swaps it in: the reasons are on the form
        return response
    try:
        chat_service.update_widget_settings(session, actor=principal.actor, brand=found, settings_in=settings_in)
    except NotFound:  # the team was deleted while the form was open
        ctx = _context(request, session, principal, found, errors={"routing_team_id": FRIENDLY["routing_team_id"]})
        response = render(request, "chat/settings.html", ctx, status_code=422)
        response.headers[INLINE_HEADER] = "1"
        return response
    return render(request, "chat/settings.html", _context(request, session, principal, found, saved=True))


def _int_or_none(value: object) -> int | None:
    return int(value) if isinstance(value, str) and value.isdigit() else None


@router.post("/{brand}/secret")
def regenerate_secret(request: Request, session: DbSession, principal: AgentPrincipal, brand: str) -> Response:
    _admin(principal)
    found = brands_service.resolve(session, ref=brand)
    secret = chat_service.regenerate_identity_secret(session, actor=principal.actor, brand=found)
    return render(request, "chat/settings.html",
                  _context(request, session, principal, found, new_secret=secret, secret_hint=secret[-4:]))
