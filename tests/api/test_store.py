"""The built-in store API: pushing catalogue/orders/shipments, refunds within limits, returns, CSV."""

from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cartdesk.auth.models import Role
from cartdesk.brands.models import Brand
from tests.api.conftest import Caller, caller, error_of

ORDER = {
    "number": "1001", "customer": {"email": "Maya@Example.org", "name": "Maya Chen"}, "currency": "EUR",
    "lines": [{"sku": "MUG-1", "quantity": 2, "tax": "1.90"},
              {"sku": "CARD", "title": "Greeting card", "unit_price": "3.50", "quantity": 1}],
    "shipping_total": "4.90",
    "shipping_address": {"name": "Maya Chen", "line1": "Kastanienallee 5", "city": "Berlin", "country": "DE"},
    "placed_at": "2026-11-01T09:30:00Z",
}


def _push(client: TestClient, supervisor: Caller, brand: Brand) -> dict:
    r = client.post("/api/v1/products", headers=supervisor.headers, json={
        "brand": brand.id, "sku": "MUG-1", "title": "Stoneware mug", "price": "14.00", "currency": "EUR",
        "category": "Kitchen", "stock": [{"location": "Berlin", "quantity": 12}]})
    assert r.status_code == 201, r.text
    assert r.json()["price"] == "14.00" and r.json()["stock"] == [{"location": "Berlin", "quantity": 12}]
    r = client.post("/api/v1/orders", headers=supervisor.headers, json={**ORDER, "brand": brand.id})
    assert r.status_code == 201, r.text
    return r.json()


def test_push_an_order_and_read_it_back(client: TestClient, supervisor: Caller, agent: Caller, brand: Brand) -> None:
    order = _push(client, supervisor, brand)
    assert (order["subtotal"], order["tax_total"], order["total"]) == ("31.50", "1.90", "38.30")
    assert order["email"] == "maya@example.org" and order["financial_status"] == "paid"
    r = client.get(f"/api/v1/orders?customer_id={order['customer_id']}", headers=agent.headers)
    assert [o["number"] for o in r.json()["items"]] == ["1001"]
    assert client.get(f"/api/v1/orders/{order['id']}", headers=agent.headers).json()["lines"][0]["total"] == "29.90"
    # Agents do support work; pushing store data is for supervisors and admins.
    r = client.post("/api/v1/orders", headers=agent.headers, json={**ORDER, "number": "1002", "brand": brand.id})
    assert r.status_code == 403
    r = client.post("/api/v1/orders", headers=supervisor.headers, json={**ORDER, "brand": brand.id})
    assert r.status_code == 409 and error_of(r)["details"] == {"field": "number"}


def test_keyset_pages_cover_every_order_once(client: TestClient, supervisor: Caller, brand: Brand) -> None:
    for n in range(7):
        r = client.post("/api/v1/orders", headers=supervisor.headers, json={
            **ORDER, "number": f"P{n}", "brand": brand.id,
            "lines": [{"sku": "X", "title": "Thing", "unit_price": "1.00", "quantity": 1}]})
        assert r.status_code == 201
    seen, cursor = [], None
    while True:
        r = client.get("/api/v1/orders", headers=supervisor.headers,
                       params={"limit": 3, "brand": brand.id, **({"cursor": cursor} if cursor else {})})
        seen += [o["number"] for o in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if not cursor:
            break
    assert seen == [f"P{n}" for n in reversed(range(7))]
    assert client.get("/api/v1/orders?cursor=junk", headers=supervisor.headers).status_code == 422


def test_refund_over_the_limit_goes_to_approval_and_over_paid_is_refused(
    client: TestClient, session: Session, supervisor: Caller, agent: Caller, brand: Brand
) -> None:
    order = _push(client, supervisor, brand)
    mug = order["lines"][0]
    r = client.post("/api/v1/refunds", headers=agent.headers, json={
        "order_id": order["id"], "lines": [{"line_id": mug["id"], "quantity": 1, "amount": "15.00"}]})
    assert r.status_code == 409 and error_of(r)["details"]["refundable_amount"] == "14.95"
    admin = caller(session, role=Role.admin)
    assert client.put("/api/v1/refund-limits/agent", headers=agent.headers, json={"amount": "10"}).status_code == 403
    assert client.put("/api/v1/refund-limits/agent", headers=admin.headers, json={"amount": "10"}).status_code == 200
    r = client.post("/api/v1/refunds", headers=agent.headers, json={
        "order_id": order["id"], "lines": [{"line_id": mug["id"], "quantity": 1}], "reason": "Chipped"})
    assert r.status_code == 201 and r.json()["status"] == "awaiting_approval" and r.json()["amount"] == "14.95"
    refund_id = r.json()["id"]
    queue = client.get("/api/v1/refunds?awaiting_approval=true", headers=supervisor.headers).json()
    assert [q["id"] for q in queue] == [refund_id]
    r = client.post(f"/api/v1/refunds/{refund_id}/decision", headers=agent.headers, json={"decision": "approve"})
    assert r.status_code == 403
    r = client.post(f"/api/v1/refunds/{refund_id}/decision", headers=supervisor.headers, json={"decision": "approve"})
    assert r.json()["status"] == "succeeded"
    read = client.get(f"/api/v1/orders/{order['id']}", headers=agent.headers).json()
    assert read["financial_status"] == "partially_refunded" and Decimal(read["refunded_total"]) == Decimal("14.95")
    r = client.post("/api/v1/refunds", headers=agent.headers, json={"order_id": order["id"], "shipping": "4.95"})
    assert r.status_code == 409 and error_of(r)["details"] == {"field": "shipping", "refundable_shipping": "4.90"}
    r = client.post("/api/v1/refunds", headers=agent.headers, json={"order_id": order["id"], "shipping": "4.901"})
    assert r.status_code == 422 and error_of(r)["code"] == "validation_error"
    r = client.post("/api/v1/refunds", headers=agent.headers, json={"order_id": order["id"], "shipping": "4.90"})
    assert r.json()["status"] == "succeeded"


def test_cancel_and_address_change_refuse_once_shipped(client: TestClient, supervisor: Caller, agent: Caller,
                                                       brand: Brand) -> None:
    order = _push(client, supervisor, brand)
    address = {"address": {"line1": "Torstr. 1", "city": "Berlin", "country": "DE"}}
    assert client.post(f"/api/v1/orders/{order['id']}/address", headers=agent.headers, json=address).status_code == 200
    r = client.post("/api/v1/shipments", headers=supervisor.headers, json={
        "order_id": order["id"], "carrier": "DHL", "tracking_number": "JD0001",
        "events": [{"occurred_at": "2026-11-02T10:00:00Z", "status": "in_transit", "description": "Left the hub"}]})
    assert r.status_code == 201 and r.json()["status"] == "in_transit"
    r = client.post(f"/api/v1/orders/{order['id']}/cancel", headers=agent.headers, json={"reason": "late"})
    assert r.status_code == 409 and "already shipped" in error_of(r)["message"]
    r = client.post(f"/api/v1/orders/{order['id']}/address", headers=agent.headers, json=address)
    assert r.status_code == 409
    shipment_id = client.get(f"/api/v1/shipments?order_id={order['id']}", headers=agent.headers).json()["items"][0]["id"]
    r = client.post(f"/api/v1/shipments/{shipment_id}/events", headers=supervisor.headers, json={
        "occurred_at": "2026-11-04T10:00:00Z", "status": "delivered", "description": "Delivered to neighbour"})
    assert r.json()["delivered_at"].startswith("2026-11-04")


def test_return_refused_by_policy_explains_each_item(client: TestClient, supervisor: Caller, agent: Caller,
                                                     brand: Brand) -> None:
    order = _push(client, supervisor, brand)
    r = client.post("/api/v1/returns", headers=agent.headers, json={
        "order_id": order["id"], "items": [{"line_id": order["lines"][0]["id"]}]})
    assert r.status_code == 409 and error_of(r)["code"] == "return_not_allowed"
    assert error_of(r)["details"]["items"][0]["reason"].startswith("This order has not been delivered yet")


def test_csv_import_creates_skips_and_reports_rows(client: TestClient, supervisor: Caller, brand: Brand) -> None:
    csv_text = (
        "order_number,email,customer_name,placed_at,currency,sku,title,quantity,unit_price,tax,shipping_total\n"
        "C-1,ann@example.org,Ann,2026-10-01T10:00:00+00:00,USD,TEE,T-shirt,2,15.00,2.40,5.00\n"
        "C-1,ann@example.org,Ann,2026-10-01T10:00:00+00:00,USD,CAP,Cap,1,9.99,0,\n"
        "C-2,bob@example.org,Bob,2026-10-02T10:00:00+00:00,USD,TEE,T-shirt,abc,15.00,0,0\n"
        "C-3,cy@example.org,Cy,,USD,MUG,Mug,1,8.00,0,0\n"
    )
    files = {"file": ("orders.csv", csv_text, "text/csv")}
    r = client.post(f"/api/v1/orders/import?brand={brand.id}", headers=supervisor.headers, files=files)
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["created"], report["skipped"]) == (2, 0)
    assert report["errors"] == [{"rows": "4", "order_number": "C-2", "message": "lines.0.quantity: Input should be a valid integer, unable to parse string as an integer"}]
    c1 = client.get("/api/v1/orders?email=ann@example.org", headers=supervisor.headers).json()["items"][0]
    assert c1["total"] == "47.39"
    again = client.post(f"/api/v1/orders/import?brand={brand.id}", headers=supervisor.headers, files=files).json()
    assert (again["created"], again["skipped"]) == (0, 2)


def test_store_connections_are_for_admins_and_checked(client: TestClient, session: Session, supervisor: Caller,
                                                      brand: Brand) -> None:
    admin = caller(session, role=Role.admin)
    body = {"brand": brand.id, "platform": "shopify", "base_url": "https://acme.myshopify.com",
            "credentials": {"access_token": "shpat_x"}, "webhook_secret": "s3cret-s3cret"}
    assert client.post("/api/v1/store-connections", headers=supervisor.headers, json=body).status_code == 403
    r = client.post("/api/v1/store-connections", headers=admin.headers, json={**body, "credentials": {}})
    assert r.status_code == 422 and error_of(r)["details"] == [{"field": "credentials.access_token"}]
    r = client.post("/api/v1/store-connections", headers=admin.headers, json=body)
    assert r.status_code == 201 and r.json()["platform"] == "shopify" and "credentials" not in r.json()
    from sqlalchemy import select

    from cartdesk.jobs.models import Job

    first = session.scalar(select(Job).where(Job.dedupe_key == f"store-sync:{r.json()['id']}:first"))
    assert first is not None and first.name == "commerce.store.sync"  # the first import is queued at once


def test_store_credit_is_read_and_adjusted_through_the_api(client: TestClient, session: Session, supervisor: Caller,
                                                           agent: Caller, brand: Brand) -> None:
    order = _push(client, supervisor, brand)
    line = order["lines"][0]["id"]
    r = client.post("/api/v1/refunds", headers=agent.headers, json={
        "order_id": order["id"], "lines": [{"line_id": line, "quantity": 1}], "method": "store_credit"})
    assert r.status_code == 201 and r.json()["status"] == "succeeded"
    url = f"/api/v1/customers/{order['customer_id']}/store-credit"
    credit = client.get(url, headers=agent.headers).json()
    assert credit["balances"] == [{"brand_id": brand.id, "currency": "EUR", "amount": "14.95"}]
    assert [(e["kind"], e["amount"], e["refund_id"]) for e in credit["entries"]] == [("issued", "14.95", r.json()["id"])]
    spend = {"brand": brand.id, "amount": "-20.00", "currency": "EUR", "note": "Spent at the till", "kind": "redeemed"}
    assert client.post(url, headers=agent.headers, json={**spend, "amount": "-5.00"}).status_code == 403
    refused = client.post(url, headers=supervisor.headers, json=spend)
    assert refused.status_code == 409 and error_of(refused)["details"]["balance"] == "14.95"
    r = client.post(url, headers=supervisor.headers, json={**spend, "amount": "-4.95"})
    assert r.status_code == 201 and r.json()["balances"][0]["amount"] == "10.00"
    assert client.post(url, headers=supervisor.headers, json={**spend, "amount": "1.555"}).status_code == 422
    assert client.get("/api/v1/customers/999999/store-credit", headers=agent.headers).status_code == 404
