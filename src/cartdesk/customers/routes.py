"""REST API for customers. Thin: parse, call the service, shape the answer.

Handlers are ``async def`` like the other light API routes (db/deps.py says why):
each runs a few short indexed queries.

Merging customers and listing a customer's conversations span two domains;
those routes call the conversations service, which sits above this domain and
calls down into it (the services never import upwards; routes are the edge).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Response, status

from cartdesk.auth.deps import ConversationsRead, CustomersRead, CustomersWrite
from cartdesk.auth.schemas import Principal
from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.schemas import ConversationFilters, ConversationRead, Page
from cartdesk.customers import service
from cartdesk.customers.schemas import CustomerCreate, CustomerMerge, CustomerRead, CustomerUpdate
from cartdesk.db.deps import DbSession
from cartdesk.kit.errors import Conflict, Forbidden
from cartdesk.kit.openapi import error_responses
from cartdesk.kit.routing import Router

router = Router(prefix="/api/v1/customers", tags=["customers"], responses=error_responses(401, 403, 422))


async def _supervisor_with_write(principal: CustomersWrite) -> Principal:
    if not principal.is_supervisor:
        raise Forbidden("Deleting customers needs a supervisor or admin.")
    return principal


CustomersDelete = Annotated[Principal, Depends(_supervisor_with_write)]


@router.get("", response_model=Page[CustomerRead], summary="List customers")
async def list_customers(
    session: DbSession,
    principal: CustomersRead,
    q: Annotated[str | None, Query(max_length=320, description="Prefix of a name, email or phone")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    cursor: Annotated[str | None, Query(description="next_cursor from the previous page")] = None,
) -> Page[CustomerRead]:
    """Customers, newest first, paged by keyset (`next_cursor`). Merged and deleted customers are left out."""
    rows, next_cursor = service.list_customers(session, q=q, limit=limit, cursor=cursor)
    return Page[CustomerRead](items=[CustomerRead.model_validate(c) for c in rows], next_cursor=next_cursor)


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=CustomerRead, summary="Create a customer",
    responses=error_responses(409),
)
async def create_customer(body: CustomerCreate, session: DbSession, principal: CustomersWrite) -> CustomerRead:
    """Create a customer with their email, phone and other identities. An address that already
    belongs to another customer is a 409: merge the two instead."""
    customer = service.create(session, actor=principal.actor, customer_in=body)
    return CustomerRead.model_validate(customer)


@router.get("/{customer_id}", response_model=CustomerRead, summary="Get a customer", responses=error_responses(404))
async def get_customer(customer_id: int, session: DbSession, principal: CustomersRead) -> CustomerRead:
    """One customer with their identities. The id of a customer merged into another answers
    with the survivor, so old links keep working."""
    return CustomerRead.model_validate(service.get_or_raise(session, customer_id=customer_id))


@router.patch(
    "/{customer_id}", response_model=CustomerRead, summary="Update a customer", responses=error_responses(404, 409)
)
async def update_customer(
    customer_id: int, body: CustomerUpdate, session: DbSession, principal: CustomersWrite
) -> CustomerRead:
    """Change the fields given; a new email or phone is added to the customer's identities."""
    customer = service.get_or_raise(session, customer_id=customer_id)
    service.update(session, actor=principal.actor, customer=customer, customer_in=body)
    return CustomerRead.model_validate(customer)


@router.delete(
    "/{customer_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
    summary="Delete a customer", responses=error_responses(404, 409),
)
async def delete_customer(customer_id: int, session: DbSession, principal: CustomersDelete) -> Response:
    """Soft delete (supervisors and admins): the row stays for the audit trail, its identities
    are released. The old id of a merged customer is refused (409) rather than deleting the
    survivor it now stands for."""
    customer = service.get_or_raise(session, customer_id=customer_id, follow_merge=False)
    if customer.merged_into_id is not None:
        raise Conflict(
            f"Customer {customer_id} was merged into {customer.merged_into_id}; delete that one if you mean it.",
            details={"merged_into_id": customer.merged_into_id},
        )
    service.delete(session, actor=principal.actor, customer=customer)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{customer_id}/merge", response_model=CustomerRead, summary="Merge another customer into this one",
    responses=error_responses(404, 409),
)
async def merge_customer(customer_id: int, body: CustomerMerge, session: DbSession, principal: CustomersWrite) -> CustomerRead:
    """`source_id` is absorbed: its identities and conversations move here, and its id keeps
    resolving to this customer."""
    target = service.get_or_raise(session, customer_id=customer_id)
    source = service.get_or_raise(session, customer_id=body.source_id, follow_merge=False)
    conversations_service.merge_customers(session, principal=principal, target=target, source=source)
    return CustomerRead.model_validate(target)


@router.get(
    "/{customer_id}/conversations", response_model=Page[ConversationRead],
    summary="List a customer's conversations", responses=error_responses(404),
)
async def list_customer_conversations(
    customer_id: int,
    session: DbSession,
    principal: ConversationsRead,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    cursor: str | None = None,
) -> Page[ConversationRead]:
    """The customer's conversations that you may read, most recent activity first, paged by keyset."""
    customer = service.get_or_raise(session, customer_id=customer_id)
    result = conversations_service.list_conversations(
        session, principal=principal, filters=ConversationFilters(customer=customer.id), limit=limit, cursor=cursor
    )
    return Page[ConversationRead](
        items=[ConversationRead.model_validate(c) for c in result.items], next_cursor=result.next_cursor
    )
