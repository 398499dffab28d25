"""Jinja2 for the web app: one environment, display filters, and the two-layout rule.

Rule 8 of STYLE.md: one route, one template, two layouts. A page template says
``{% extends layout %}``; :func:`render` hands it the full layout for a normal
request and the bare fragment layout for an htmx request, so the same template
answers both.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from cartdesk.kit.clock import utcnow
from cartdesk.kit.html import sanitize_html
from cartdesk.web import icons
from cartdesk.web.security import csrf_token, pop_flashes

WEB_DIR = Path(__file__).parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

FULL_LAYOUT = "agent/_layout.html"
FRAGMENT_LAYOUT = "agent/_fragment.html"

STATUS_LABELS = {
    "new": "New", "open": "Open", "pending": "Pending", "on_hold": "On hold", "solved": "Solved", "closed": "Closed",
}
PRIORITY_LABELS = {"low": "Low", "normal": "Normal", "high": "High", "urgent": "Urgent"}
CHANNEL_LABELS = {
    "email": "Email", "chat": "Live chat", "api": "API", "sms": "SMS", "voice": "Phone", "phone": "Phone",
    "whatsapp": "WhatsApp", "facebook": "Facebook", "instagram": "Instagram", "twitter": "X / Twitter",
    "web": "Web form", "form": "Web form",
}


def reltime(value: datetime | None, now: datetime | None = None) -> str:
    """Compact relative time for lists: "now", "5m", "3h", "Yesterday", "Mar 3", "Mar 3, 2023"."""
    if value is None:
        return ""
    now = now or utcnow()
    delta = now - value
    if delta < timedelta(minutes=1):
        return "now"
    if delta < timedelta(hours=1):
        return f"{int(delta.total_seconds() // 60)}m"
    if delta < timedelta(hours=24):
        return f"{int(delta.total_seconds() // 3600)}h"
    if delta < timedelta(hours=48):
        return "Yesterday"
    if delta < timedelta(days=7):
        return f"{delta.days}d"
    day = f"{value:%b} {value.day}"
    return day if value.year == now.year else f"{day}, {value.year}"


def abstime(value: datetime | None) -> str:
    if value is None:
        return ""
    value = value.astimezone(UTC)
    return f"{value:%a} {value.day} {value:%b %Y, %H:%M} UTC"


def isotime(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value else ""


def initials(name: str | None) -> str:
    parts = [p for p in (name or "").replace("@", " ").split() if p[:1].isalnum()]
    return "".join(p[0] for p in parts[:2]).upper() or "?"


def avatar_hue(seed: Any) -> int:
    """A stable hue per person so the same name always has the same colour.

    The same arithmetic as ``hue()`` in static/app.js (which draws presence avatars):
    a 32-bit ``h * 31 + code unit`` hash over UTF-16, modulo 360.
    """
    h = 0
    data = str(seed).encode("utf-16-le")
    for i in range(0, len(data), 2):
        h = (h * 31 + int.from_bytes(data[i:i + 2], "little")) & 0xFFFFFFFF
    return h % 360


def safe_html(value: str | None) -> Markup:
    """Message HTML is sanitised when stored; cleaning again on display means no writer can
    ever put script into an agent's browser, whatever path the HTML took."""
    return Markup(sanitize_html(value or ""))


def _asset_version() -> str:
    # Cache-busting query string: browsers may keep the files forever, a deploy changes the hash.
    digest = hashlib.sha256()
    for name in ("app.css", "app.js", "store.css", "portal.css", "helpcenter.css", "helpcenter.js"):
        path = STATIC_DIR / name
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def create_templates() -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(reltime=reltime, abstime=abstime, isotime=isotime, initials=initials, hue=avatar_hue,
                       safe_html=safe_html)
    env.globals.update(
        icon=icons.icon,
        channel_icon=icons.channel_icon,
        STATUS_LABELS=STATUS_LABELS,
        PRIORITY_LABELS=PRIORITY_LABELS,
        CHANNEL_LABELS=CHANNEL_LABELS,
        asset_version=_asset_version(),
    )
    return Jinja2Templates(env=env)


def is_htmx(request: Request) -> bool:
    """An htmx request wants the fragment, except a history restore, which rebuilds the whole page."""
    return (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-history-restore-request") != "true"
    )


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    fragment = is_htmx(request)
    ctx: dict[str, Any] = {
        "layout": FRAGMENT_LAYOUT if fragment else FULL_LAYOUT,
        "is_fragment": fragment,
        "csrf_token": csrf_token(request),
        "principal": getattr(request.state, "principal", None),
        # Flashes wait for the next full page so that a background htmx refresh never eats them.
        "flashes": [] if fragment else pop_flashes(request),
        "nav": None,
    }
    ctx.update(context or {})
    response = request.app.state.templates.TemplateResponse(request, name, ctx, status_code=status_code)
    # The same URL answers with a fragment or a page: caches must keep them apart.
    response.headers["Vary"] = "HX-Request"
    return response
