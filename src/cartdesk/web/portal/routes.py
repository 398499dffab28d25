"""The customer portal, per brand, public: track an order, start a return, print the label,
see the refund arrive.

A visitor gets in with order number + email (a uniform refusal, throttled per order and
per address so numbers cannot be guessed) or with a signed link; every page after that
carries the signed token in its URL, which is the only key to the order.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.brands.models import Brand
from cartdesk.commerce import portal, returns, service, shipments
from cartdesk.commerce.label import render_label
from cartdesk.commerce.models import Order, Resolution
from cartdesk.commerce.policy import REASONS
from cartdesk.commerce.schemas import ReturnCreate
from cartdesk.db.deps import DbSession
from cartdesk.events.schemas import Actor
from cartdesk.kit.errors import AppError, NotFound
from cartdesk.kit.money import format_money
from cartdesk.kit.routing import Router
from cartdesk.web.security import LoginThrottle
from cartdesk.web.templating import render

router = Router(prefix="/portal")
# Failed lookups: 5 per order number, 20 per address, in 15 minutes; then a wait.
_throttle = LoginThrottle(max_failures=5, max_failures_per_ip=20, window=900.0)


def _brand(session: Session, slug: str) -> Brand:
    brand = session.scalar(select(Brand).where(Brand.slug == slug, Brand.deleted_at.is_(None)))
    if brand is None:
        raise NotFound("No such store.")
    return brand


def _secret(request: Request) -> str:
    return request.app.state.settings.resolved_secret_key()


def _order(request: Request, session: Session, brand: Brand, token: str) -> Order | None:
    return portal.resolve(session, secret=_secret(request), token=token, brand=brand,
                          max_age=request.app.state.settings.portal_link_max_age_seconds)


def _expired(request: Request, brand: Brand) -> Response:
    return render(request, "portal/lookup.html", _ctx(
        brand, number="", email="", error="This link has expired or is not valid. Look your order up again."),
        status_code=404)


def _ctx(brand: Brand, **extra: Any) -> dict[str, Any]:
    return {"brand": brand, "money": format_money, "reasons": REASONS, **extra}


def order_link(request: Request, brand: Brand, order: Order) -> str:
    return f"/portal/{brand.slug}/o/{portal.sign(_secret(request), order=order)}"


@router.get("/{slug}", name="portal")
def lookup_page(request: Request, slug: str, session: DbSession) -> Response:
    return render(request, "portal/lookup.html", _ctx(_brand(session, slug), error=None, number="", email=""))


@router.post("/{slug}/lookup")
def lookup(request: Request, slug: str, session: DbSession, number: Annotated[str, Form()] = "",
           email: Annotated[str, Form()] = "") -> Response:
    brand = _brand(session, slug)
    key, ip = f"{brand.id}:{number.strip().lstrip('#').lower()}", request.client.host if request.client else None
    wait = _throttle.retry_after(email=key, ip=ip)
    if wait:
        return render(request, "portal/lookup.html", _ctx(
            brand, number=number, email=email,
            error=f"Too many attempts. Please wait {max(1, wait // 60)} minutes and try again."), status_code=429)
    order = portal.find_order(session, brand=brand, number=number, email=email)
    if order is None:
        _throttle.record_failure(email=key, ip=ip)
        return render(request, "portal/lookup.html", _ctx(brand, number=number, email=email, error=portal.NOT_FOUND),
                      status_code=404)
    return RedirectResponse(order_link(request, brand, order), status_code=303)


@router.get("/{slug}/o/{token}", name="portal_order")
def order_page(request: Request, slug: str, token: str, session: DbSession) -> Response:
    brand = _brand(session, slug)
    order = _order(request, session, brand, token)
    if order is None:
        return _expired(request, brand)
    return render(request, "portal/order.html", _ctx(
        brand, o=order, token=token, returns=service.returns_for_order(session, order_id=order.id),
        refunds=service.refunds_for_order(session, order_id=order.id),
        can_return=shipments.delivered_at(order) is not None and order.status != "cancelled",
        conversations=portal.conversations_for(session, brand_id=brand.id, customer_id=order.customer_id),
    ))


def _return_form(request: Request, session: Session, brand: Brand, order: Order, token: str, *,
                 refused: dict[int, str] | None = None, error: str | None = None, status_code: int = 200) -> Response:
    # Each line's decision up front, for a typical request (unopened, changed mind), so the customer
    # sees what can go back before choosing.
    preview = returns.check_return(session, order=order, return_in=ReturnCreate(
        order_id=order.id, items=[{"line_id": li.id, "quantity": 1} for li in order.lines]))
    return render(request, "portal/return.html", _ctx(
        brand, o=order, token=token, preview={d.line.id: d.decision for d in preview},
        units=returns.returnable_units(session, order=order), refused=refused or {}, error=error,
    ), status_code=status_code)


@router.get("/{slug}/o/{token}/return")
def return_page(request: Request, slug: str, token: str, session: DbSession) -> Response:
    brand = _brand(session, slug)
    order = _order(request, session, brand, token)
    if order is None:
        return _expired(request, brand)
    try:
        return _return_form(request, session, brand, order, token)
    except AppError as exc:
        return render(request, "portal/order.html", _ctx(
            brand, o=order, token=token, returns=[], refunds=[], can_return=False, conversations=[],
            error=exc.message), status_code=409)


@router.post("/{slug}/o/{token}/return")
async def create_return(request: Request, slug: str, token: str, session: DbSession) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    brand = _brand(session, slug)
    order = _order(request, session, brand, token)
    if order is None:
        return _expired(request, brand)
    chosen = [li for li in order.lines if form.get(f"pick_{li.id}")]
    if not chosen:
        return _return_form(request, session, brand, order, token, error="Choose at least one item to return.",
                            status_code=422)
    try:
        items = [{"line_id": li.id, "quantity": int(form.get(f"qty_{li.id}") or 1),
                  "reason": form.get(f"reason_{li.id}") or form.get("reason", ""),
                  "condition": form.get(f"condition_{li.id}") or "unopened"} for li in chosen]
        actor = Actor(type="customer", id=order.customer_id, name=order.shipping_address.get("name") or order.email)
        ret = returns.create_return(session, actor=actor, order=order, via="portal", return_in=ReturnCreate(
            order_id=order.id, items=items, reason=(form.get("reason") or items[0]["reason"])[:64],
            resolution=Resolution(form.get("resolution") or "refund")))
    except AppError as exc:
        session.rollback()
        refused = {i["line_id"]: i["reason"] for i in (exc.details or {}).get("items", []) if not i["eligible"]} \
            if isinstance(exc.details, dict) else {}
        return _return_form(request, session, brand, order, token, refused=refused, error=exc.message, status_code=409)
    except (ValueError, ValidationError):
        session.rollback()
        return _return_form(request, session, brand, order, token, error="Please check the quantities.", status_code=422)
    return RedirectResponse(f"/portal/{brand.slug}/o/{token}/returns/{ret.rma}", status_code=303)


@router.get("/{slug}/o/{token}/returns/{rma}")
def return_done(request: Request, slug: str, token: str, rma: str, session: DbSession) -> Response:
    brand = _brand(session, slug)
    order = _order(request, session, brand, token)
    if order is None:
        return _expired(request, brand)
    ret = returns.get_by_rma(session, rma=rma)
    if ret is None or ret.order_id != order.id:
        raise NotFound("No such return on this order.")
    return render(request, "portal/return_done.html", _ctx(
        brand, o=order, token=token, ret=ret, lines={li.id: li for li in order.lines},
        refunds=[r for r in service.refunds_for_order(session, order_id=order.id) if r.return_id == ret.id]))


@router.get("/{slug}/o/{token}/returns/{rma}/label.pdf")
def label(request: Request, slug: str, token: str, rma: str, session: DbSession) -> Response:
    brand = _brand(session, slug)
    order = _order(request, session, brand, token)
    if order is None:
        return _expired(request, brand)
    ret = returns.get_by_rma(session, rma=rma)
    if ret is None or ret.order_id != order.id or ret.status in ("rejected",):
        raise NotFound("No label for this return.")
    pdf = render_label(ret=ret, order=order, store_name=brand.name,
                       return_address=request.app.state.settings.portal_return_address)
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="return-{ret.rma}.pdf"'})
