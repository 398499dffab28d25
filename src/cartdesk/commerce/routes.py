"""REST API of the built-in store: products, orders, shipments, returns, refunds.

A store on any platform pushes its catalogue, orders and shipments here (supervisors
and admins: it is store data, not support work); agents refund, return, cancel,
readdress and reship with the ``orders:write`` scope, within their refund limit.
Lists are newest first, paged by keyset (``next_cursor``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import Depends, File, Query, UploadFile, status
from pydantic import BaseModel, Field

from cartdesk.auth.deps import AdminPrincipal, OrdersRead, OrdersWrite
from cartdesk.auth.models import Role
from cartdesk.auth.schemas import Principal
from cartdesk.brands import service as brands_service
from cartdesk.commerce import actions, csv_import, refunds, returns, service, shipments, store_credit
from cartdesk.commerce.models import ReturnStatus, StoreCreditKind
from cartdesk.commerce.schemas import (
    Address,
    OrderCreate,
    OrderRead,
    Page,
    ProductCreate,
    ProductRead,
    RefundCreate,
    RefundDecision,
    RefundRead,
    ReturnCreate,
    ReturnRead,
    ReturnTransition,
    ShipmentCreate,
    ShipmentRead,
    StoreCreditAdjust,
    StoreCreditBalance,
    StoreCreditEntryRead,
    StoreCreditRead,
    TrackingEventIn,
)
from cartdesk.customers import service as customers_service
from cartdesk.db.deps import DbSession
from cartdesk.kit.errors import Forbidden
from cartdesk.kit.openapi import error_responses
from cartdesk.kit.routing import Router

router = Router(prefix="/api/v1", tags=["store"], responses=error_responses(401, 403, 422))
Limit = Annotated[int, Query(ge=1, le=100)]


async def _store_writer(principal: OrdersWrite) -> Principal:
    if not principal.is_supervisor:
        raise Forbidden("Pushing store data (products, orders, shipments) needs a supervisor or admin.")
    return principal


StoreWrite = Annotated[Principal, Depends(_store_writer)]


# --- products ----------------------------------------------------------------------

@router.get("/products", response_model=Page[ProductRead], summary="List products")
async def list_products(session: DbSession, principal: OrdersRead, brand: int | None = None,
                        q: Annotated[str | None, Query(max_length=100, description="SKU or title prefix")] = None,
                        limit: Limit = 25, cursor: str | None = None) -> Page[ProductRead]:
    """Products, newest first; filter by brand or a SKU/title prefix."""
    rows, next_cursor = service.list_products(session, brand_id=brand, q=q, limit=limit, cursor=cursor)
    return Page[ProductRead](items=[ProductRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post("/products", status_code=status.HTTP_201_CREATED, response_model=ProductRead,
             summary="Create a product", responses=error_responses(409))
async def create_product(body: ProductCreate, session: DbSession, principal: StoreWrite) -> ProductRead:
    """Add a catalogue item with its stock per location (each stock level is an inventory movement)."""
    return ProductRead.model_validate(service.create_product(session, actor=principal.actor, product_in=body))


# --- orders ------------------------------------------------------------------------

@router.get("/orders", response_model=Page[OrderRead], summary="List orders")
async def list_orders(session: DbSession, principal: OrdersRead, brand: int | None = None,
                      customer_id: int | None = None, email: str | None = None, status: str | None = None,
                      limit: Limit = 25, cursor: str | None = None) -> Page[OrderRead]:
    """Orders, newest first; filter by brand, customer, email or status."""
    rows, next_cursor = service.list_orders(session, brand_id=brand, customer_id=customer_id, email=email,
                                            status=status, limit=limit, cursor=cursor)
    return Page[OrderRead](items=[OrderRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post("/orders", status_code=status.HTTP_201_CREATED, response_model=OrderRead,
             summary="Record an order", responses=error_responses(409))
async def create_order(body: OrderCreate, session: DbSession, principal: StoreWrite) -> OrderRead:
    """Totals are computed from the lines (quantity × unit price − discount + tax) plus shipping;
    `paid_total` defaults to the total. Lines name a SKU from the catalogue, or give title and price."""
    return OrderRead.model_validate(service.create_order(session, actor=principal.actor, order_in=body))


class ImportReport(BaseModel):
    created: int
    skipped: int
    errors: list[dict[str, object]]


@router.post("/orders/import", response_model=ImportReport, summary="Import orders from CSV")
def import_orders(session: DbSession, principal: StoreWrite, file: Annotated[UploadFile, File()],
                  brand: Annotated[str | None, Query()] = None) -> ImportReport:
    """One row per order line (see docs/commerce.md for the columns). Orders already present are
    skipped; an order with a bad row is reported with its row numbers and not imported."""
    text = file.file.read().decode("utf-8-sig")
    report = csv_import.import_orders(session, actor=principal.actor, text=text, brand=brand)
    return ImportReport(created=report.created, skipped=report.skipped, errors=report.errors)


@router.get("/orders/{order_id}", response_model=OrderRead, summary="Get an order", responses=error_responses(404))
async def get_order(order_id: int, session: DbSession, principal: OrdersRead) -> OrderRead:
    """One order with its lines and totals."""
    return OrderRead.model_validate(service.get_order_or_raise(session, order_id=order_id))


class CancelIn(BaseModel):
    reason: str = Field(default="", max_length=200)
    conversation_id: int | None = None


class AddressIn(BaseModel):
    address: Address
    conversation_id: int | None = None


class ReshipIn(BaseModel):
    line_ids: list[int] = []
    reason: str = Field(default="", max_length=200)
    conversation_id: int | None = None


@router.post("/orders/{order_id}/cancel", response_model=OrderRead, summary="Cancel an unshipped order",
             responses=error_responses(404, 409))
async def cancel_order(order_id: int, body: CancelIn, session: DbSession, principal: OrdersWrite) -> OrderRead:
    """Refunds what was paid in full and puts the items back in stock. Refused once anything shipped."""
    order = service.get_order_or_raise(session, order_id=order_id)
    actions.cancel_order(session, principal=principal, order=order, reason=body.reason,
                         conversation_id=body.conversation_id)
    return OrderRead.model_validate(order)


@router.post("/orders/{order_id}/address", response_model=OrderRead, summary="Change the shipping address",
             responses=error_responses(404, 409))
async def change_address(order_id: int, body: AddressIn, session: DbSession, principal: OrdersWrite) -> OrderRead:
    """Only before anything has shipped; the old and new address are kept in the audit log."""
    order = service.get_order_or_raise(session, order_id=order_id)
    actions.change_address(session, principal=principal, order=order, address=body.address,
                           conversation_id=body.conversation_id)
    return OrderRead.model_validate(order)


@router.post("/orders/{order_id}/reship", status_code=status.HTTP_201_CREATED, response_model=OrderRead,
             summary="Send items again as a free replacement order", responses=error_responses(404, 409))
async def reship(order_id: int, body: ReshipIn, session: DbSession, principal: OrdersWrite) -> OrderRead:
    """A zero-priced replacement order for the chosen lines (all when none are named), for a lost or damaged parcel."""
    order = service.get_order_or_raise(session, order_id=order_id)
    replacement = actions.reship(session, principal=principal, order=order, line_ids=body.line_ids,
                                 reason=body.reason, conversation_id=body.conversation_id)
    return OrderRead.model_validate(replacement)


# --- shipments ---------------------------------------------------------------------

@router.get("/shipments", response_model=Page[ShipmentRead], summary="List shipments")
async def list_shipments(session: DbSession, principal: OrdersRead, order_id: int | None = None,
                         limit: Limit = 25, cursor: str | None = None) -> Page[ShipmentRead]:
    """Shipments with their tracking events, newest first; filter by order."""
    rows, next_cursor = shipments.list_shipments(session, order_id=order_id, limit=limit, cursor=cursor)
    return Page[ShipmentRead](items=[ShipmentRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post("/shipments", status_code=status.HTTP_201_CREATED, response_model=ShipmentRead,
             summary="Record a shipment", responses=error_responses(404, 409))
async def create_shipment(body: ShipmentCreate, session: DbSession, principal: StoreWrite) -> ShipmentRead:
    """Ship some or all lines; tracking events may come along. The order's fulfilment status follows."""
    return ShipmentRead.model_validate(shipments.create_shipment(session, actor=principal.actor, shipment_in=body))


@router.post("/shipments/{shipment_id}/events", response_model=ShipmentRead, summary="Add a tracking event",
             responses=error_responses(404))
async def add_tracking(shipment_id: int, body: TrackingEventIn, session: DbSession, principal: StoreWrite) -> ShipmentRead:
    """A carrier scan; the shipment takes the status of its latest event, `delivered` stamps the delivery date that the return window runs from."""
    shipment = shipments.get_shipment_or_raise(session, shipment_id=shipment_id)
    return ShipmentRead.model_validate(
        shipments.add_tracking_event(session, actor=principal.actor, shipment=shipment, event_in=body))


# --- returns -----------------------------------------------------------------------

@router.get("/returns/{return_id}", response_model=ReturnRead, summary="Get a return", responses=error_responses(404))
async def get_return(return_id: int, session: DbSession, principal: OrdersRead) -> ReturnRead:
    """One return (RMA) with its items."""
    return ReturnRead.model_validate(returns.get_or_raise(session, return_id=return_id))


@router.get("/returns", response_model=list[ReturnRead], summary="List an order's returns")
async def list_returns(order_id: int, session: DbSession, principal: OrdersRead) -> list[ReturnRead]:
    """The returns of one order, oldest first."""
    return [ReturnRead.model_validate(r) for r in service.returns_for_order(session, order_id=order_id)]


@router.post("/returns", status_code=status.HTTP_201_CREATED, response_model=ReturnRead,
             summary="Open a return (RMA)", responses=error_responses(404, 409))
async def create_return(body: ReturnCreate, session: DbSession, principal: OrdersWrite) -> ReturnRead:
    """Every item is checked against the return policy; if one is refused, nothing is created and
    the 409's `details.items` gives each item's decision and reason."""
    order = service.get_order_or_raise(session, order_id=body.order_id)
    return ReturnRead.model_validate(
        returns.create_return(session, actor=principal.actor, order=order, return_in=body, via="api"))


@router.post("/returns/{return_id}/status", response_model=ReturnRead, summary="Move a return on",
             responses=error_responses(404, 409))
async def transition_return(return_id: int, body: ReturnTransition, session: DbSession,
                            principal: OrdersWrite) -> ReturnRead:
    """approved → received (unopened items go back in stock) → refunded (through the refund rules, less any restocking fee), or rejected."""
    ret = returns.get_or_raise(session, return_id=return_id)
    returns.transition(session, principal=principal, ret=ret, status=ReturnStatus(body.status), note=body.note)
    return ReturnRead.model_validate(ret)


# --- refunds -----------------------------------------------------------------------

@router.get("/refunds", response_model=list[RefundRead], summary="List refunds")
async def list_refunds(session: DbSession, principal: OrdersRead, order_id: int | None = None,
                       awaiting_approval: bool = False) -> list[RefundRead]:
    """An order's refunds, or (`awaiting_approval=true`) the approval queue, oldest first."""
    if awaiting_approval:
        rows = refunds.awaiting_approval(session)
    elif order_id is not None:
        rows = service.refunds_for_order(session, order_id=order_id)
    else:
        rows = []
    return [RefundRead.model_validate(r) for r in rows]


@router.post("/refunds", status_code=status.HTTP_201_CREATED, response_model=RefundRead,
             summary="Refund lines and/or shipping", responses=error_responses(404, 409))
async def create_refund(body: RefundCreate, session: DbSession, principal: OrdersWrite) -> RefundRead:
    """Above your role's limit the refund is created `awaiting_approval` and holds its amount until a
    supervisor decides. Anything beyond what was paid is a 409 naming what is still refundable."""
    order = service.get_order_or_raise(session, order_id=body.order_id)
    return RefundRead.model_validate(refunds.request_refund(session, principal=principal, order=order, refund_in=body))


@router.get("/refunds/{refund_id}", response_model=RefundRead, summary="Get a refund", responses=error_responses(404))
async def get_refund(refund_id: int, session: DbSession, principal: OrdersRead) -> RefundRead:
    """One refund with its lines."""
    return RefundRead.model_validate(refunds.get_or_raise(session, refund_id=refund_id))


@router.post("/refunds/{refund_id}/decision", response_model=RefundRead, summary="Approve or decline a refund",
             responses=error_responses(404, 409))
async def decide_refund(refund_id: int, body: RefundDecision, session: DbSession, principal: OrdersWrite) -> RefundRead:
    """Supervisors and admins only, and never the requester; approving carries the refund out, declining releases the held amount."""
    refund = refunds.get_or_raise(session, refund_id=refund_id)
    refunds.decide(session, principal=principal, refund=refund, approve=body.decision == "approve", note=body.note)
    return RefundRead.model_validate(refund)


class LimitIn(BaseModel):
    amount: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2,
                                   description="null removes the limit")


@router.put("/refund-limits/{role}", response_model=LimitIn, summary="Set a role's refund limit")
async def set_refund_limit(role: Role, body: LimitIn, session: DbSession, principal: AdminPrincipal) -> LimitIn:
    """Admins only. Refunds above the limit need a supervisor's approval; `null` removes the limit."""
    refunds.set_limit(session, actor=principal.actor, role=str(role), amount=body.amount)
    return body


# --- store credit --------------------------------------------------------------------

def _credit(session: DbSession, customer_id: int) -> StoreCreditRead:
    ids = service.customer_ids(session, customer_id=customer_id)
    return StoreCreditRead(
        balances=[StoreCreditBalance(brand_id=b.brand_id, currency=b.currency, amount=b.amount)
                  for b in store_credit.balances(session, customer_ids=ids)],
        entries=[StoreCreditEntryRead.model_validate(e) for e in store_credit.entries(session, customer_ids=ids,
                                                                                      limit=50)])


@router.get("/customers/{customer_id}/store-credit", response_model=StoreCreditRead,
            summary="A customer's store credit", responses=error_responses(404))
async def get_store_credit(customer_id: int, session: DbSession, principal: OrdersRead) -> StoreCreditRead:
    """Balances per brand and currency, and the latest 50 ledger entries (issued by returns settled as
    store credit, redeemed, adjusted)."""
    customer = customers_service.get_or_raise(session, customer_id=customer_id)  # a merged one: its target
    return _credit(session, customer.id)


@router.post("/customers/{customer_id}/store-credit", status_code=status.HTTP_201_CREATED,
             response_model=StoreCreditRead, summary="Adjust or redeem store credit",
             responses=error_responses(404, 409))
async def adjust_store_credit(customer_id: int, body: StoreCreditAdjust, session: DbSession,
                              principal: OrdersWrite) -> StoreCreditRead:
    """Supervisors and admins. A negative amount takes credit away (spent: `kind` "redeemed"); a
    balance never goes below zero (409 with the balance)."""
    customer = customers_service.get_or_raise(session, customer_id=customer_id)
    brand = brands_service.resolve(session, ref=body.brand)
    store_credit.adjust(session, principal=principal, customer_id=customer.id, brand_id=brand.id,
                        amount=body.amount, currency=body.currency, note=body.note,
                        kind=StoreCreditKind(body.kind))
    return _credit(session, customer.id)
