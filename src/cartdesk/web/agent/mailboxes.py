"""Admin pages for the email channel: mailboxes (list, add, edit, test), their health, the quarantine."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from cartdesk.auth.models import Role
from cartdesk.auth.schemas import Principal
from cartdesk.brands import service as brands_service
from cartdesk.channels.email import connection
from cartdesk.channels.email import service as email_service
from cartdesk.channels.email.models import Mailbox, Security
from cartdesk.channels.email.schemas import MailboxCreate, MailboxUpdate
from cartdesk.db.deps import DbSession
from cartdesk.db.session import on_commit
from cartdesk.kit.errors import AppError, Forbidden
from cartdesk.kit.routing import Router
from cartdesk.web.agent.common import sidebar
from cartdesk.web.deps import AgentPrincipal
from cartdesk.web.security import flash
from cartdesk.web.templating import render

router = Router(prefix="/settings")
_TEXT = ("name", "address", "from_name", "signature", "inbound_address", "imap_host", "imap_username", "imap_password",
         "imap_folder", "imap_done_folder", "smtp_host", "smtp_username", "smtp_password")
_INTS = ("imap_port", "smtp_port", "order_window_days", "max_per_sender_per_hour")
_BOOLS = ("enabled", "thread_by_subject", "accept_unknown_senders", "drop_spam", "acknowledge_new")


def _admin(principal: Principal) -> None:
    if principal.role != Role.admin:
        raise Forbidden("Only admins manage mailboxes.")


def _page(request: Request, session: Any, principal: Principal, name: str, context: dict[str, Any],
          status_code: int = 200) -> Response:
    return render(request, name, {**sidebar(session, principal=principal, active=None), "nav": "mailboxes",
                                  **context}, status_code=status_code)


@router.get("/mailboxes", name="mailboxes")
def mailbox_list(request: Request, session: DbSession, principal: AgentPrincipal) -> Response:
    _admin(principal)
    mailboxes = email_service.list_mailboxes(session)
    counts = email_service.quarantine_counts(session)
    brands = {b.id: b for b in brands_service.list_brands(session)}
    return _page(request, session, principal, "agent/mailboxes.html", {
        "mailboxes": mailboxes, "quarantined": counts, "brands": brands,
        "healthy": sum(1 for m in mailboxes if m.enabled and not m.last_error),
        "failing": sum(1 for m in mailboxes if m.enabled and m.last_error),
        "quarantine_total": sum(counts.values()),
    })


def _form_values(form: Any, *, creating: bool) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in _TEXT:
        if key in form:
            values[key] = str(form[key])
    for key in _INTS:
        if form.get(key, "") != "":
            values[key] = form[key]
    for key in _BOOLS:
        values[key] = form.get(key) == "on"
    for key in ("imap_security", "smtp_security"):
        if form.get(key):
            values[key] = form[key]
    if creating and form.get("brand"):
        values["brand"] = int(form["brand"])
    for key in ("inbound_address", "imap_done_folder"):
        if values.get(key) == "":
            values[key] = None
    return values


def _form(request: Request, session: Any, principal: Principal, *, mailbox: Mailbox | None, values: dict[str, Any],
          errors: list[str], status_code: int = 200) -> Response:
    return _page(request, session, principal, "agent/mailbox_form.html", {
        "mailbox": mailbox, "values": values, "errors": errors, "brands": brands_service.list_brands(session),
        "securities": [s.value for s in Security],
    }, status_code=status_code)


def _errors(exc: Exception) -> list[str]:
    if isinstance(exc, ValidationError):
        return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
    return [getattr(exc, "message", str(exc))]


@router.get("/mailboxes/new", name="mailbox_new")
def mailbox_new(request: Request, session: DbSession, principal: AgentPrincipal) -> Response:
    _admin(principal)
    return _form(request, session, principal, mailbox=None, errors=[], values={
        "imap_port": 993, "imap_security": "ssl", "imap_folder": "INBOX", "smtp_port": 587,
        "smtp_security": "starttls", "enabled": True, "thread_by_subject": True, "order_window_days": 14,
        "max_per_sender_per_hour": 30, "accept_unknown_senders": True, "drop_spam": True})


@router.post("/mailboxes/new")
async def mailbox_create(request: Request, session: DbSession, principal: AgentPrincipal) -> Response:
    _admin(principal)
    values = _form_values(await request.form(), creating=True)
    try:
        mailbox = email_service.create(session, actor=principal.actor, mailbox_in=MailboxCreate(**values),
                                       secret_key=request.app.state.settings.resolved_secret_key())
    except (ValidationError, AppError) as exc:
        session.rollback()
        return _form(request, session, principal, mailbox=None, values=values, errors=_errors(exc), status_code=422)
    on_commit(session, request.app.state.runner.poke_services)  # pollers pick it up now
    flash(request, f"Mailbox {mailbox.address} added.")
    return RedirectResponse(f"/settings/mailboxes/{mailbox.id}", status_code=303)


@router.get("/mailboxes/{mailbox_id}", name="mailbox")
def mailbox_page(request: Request, mailbox_id: int, session: DbSession, principal: AgentPrincipal) -> Response:
    _admin(principal)
    mailbox = email_service.get_or_raise(session, mailbox_id=mailbox_id)
    return _page(request, session, principal, "agent/mailbox.html", {
        "mailbox": mailbox, "brand": brands_service.get_or_raise(session, brand_id=mailbox.brand_id),
        "quarantine": email_service.list_quarantine(session, mailbox_id=mailbox.id, limit=50),
        "webhook_url": f"{request.app.state.settings.base_url.rstrip('/')}/api/v1/channels/email/inbound/"
                       f"{mailbox.inbound_secret}",
    })


@router.get("/mailboxes/{mailbox_id}/edit", name="mailbox_edit")
def mailbox_edit(request: Request, mailbox_id: int, session: DbSession, principal: AgentPrincipal) -> Response:
    _admin(principal)
    mailbox = email_service.get_or_raise(session, mailbox_id=mailbox_id)
    values = {c.key: getattr(mailbox, c.key) for c in Mailbox.__table__.columns if not c.key.endswith("_enc")}
    return _form(request, session, principal, mailbox=mailbox, values=values, errors=[])


@router.post("/mailboxes/{mailbox_id}/edit")
async def mailbox_update(request: Request, mailbox_id: int, session: DbSession, principal: AgentPrincipal) -> Response:
    _admin(principal)
    mailbox = email_service.get_or_raise(session, mailbox_id=mailbox_id)
    values = _form_values(await request.form(), creating=False)
    values.pop("address", None)  # the address names the mailbox; add a new one instead
    try:
        email_service.update(session, actor=principal.actor, mailbox=mailbox, mailbox_in=MailboxUpdate(**values),
                             secret_key=request.app.state.settings.resolved_secret_key())
    except (ValidationError, AppError) as exc:
        session.rollback()
        mailbox = email_service.get_or_raise(session, mailbox_id=mailbox_id)
        return _form(request, session, principal, mailbox=mailbox, values={**values, "address": mailbox.address},
                     errors=_errors(exc), status_code=422)
    on_commit(session, request.app.state.runner.poke_services)
    flash(request, "Mailbox saved.")
    return RedirectResponse(f"/settings/mailboxes/{mailbox_id}", status_code=303)


@router.post("/mailboxes/{mailbox_id}/test", name="mailbox_test")
def mailbox_test(request: Request, mailbox_id: int, session: DbSession, principal: AgentPrincipal) -> Response:
    _admin(principal)
    mailbox = email_service.get_or_raise(session, mailbox_id=mailbox_id)
    key = request.app.state.settings.resolved_secret_key()
    return render(request, "agent/_mailbox_test.html", {
        "checks": [("IMAP", connection.check_imap(mailbox, secret_key=key)),
                   ("SMTP", connection.check_smtp(mailbox, secret_key=key))]})


@router.get("/quarantine", name="quarantine")
def quarantine_page(request: Request, session: DbSession, principal: AgentPrincipal) -> Response:
    _admin(principal)
    mailboxes = {m.id: m for m in email_service.list_mailboxes(session)}
    return _page(request, session, principal, "agent/quarantine.html", {
        "rows": email_service.list_quarantine(session, limit=200), "mailboxes": mailboxes,
        "keep_days": request.app.state.settings.email_quarantine_days})


@router.post("/quarantine/{quarantine_id}/release", name="quarantine_release")
def quarantine_release(request: Request, quarantine_id: int, session: DbSession, principal: AgentPrincipal) -> Response:
    _admin(principal)
    from cartdesk.channels.email import ingest
    from cartdesk.channels.email.tasks import limits
    from cartdesk.conversations.attachment_routes import attachment_store

    row = email_service.get_quarantined_or_raise(session, quarantine_id=quarantine_id)
    back = request.headers.get("referer") or "/settings/quarantine"
    try:
        result = ingest.release(session, actor=principal.actor, quarantined=row, store=attachment_store(request),
                                limits=limits(request.app.state.settings))
    except AppError as exc:
        session.rollback()
        flash(request, exc.message, "error")
        return RedirectResponse(back, status_code=303)
    flash(request, f"Filed into conversation {result.conversation_id}.")
    return RedirectResponse(back, status_code=303)
