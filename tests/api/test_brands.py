from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.events.models import Event
from tests.api.conftest import Caller, fields_of

API = "/api/v1/brands"


def test_admins_create_and_update_brands_everyone_reads_them(client, admin: Caller, agent: Caller, session: Session) -> None:
    created = client.post(API, headers=admin.headers, json={
        "slug": "north-shop", "name": "North Shop", "support_email": "help@north.example",
        "timezone": "Europe/Berlin", "currency": "EUR",
    })
    assert created.status_code == 201, created.text
    brand = created.json()
    assert brand["currency"] == "EUR" and brand["color"] == "#4f46e5"
    assert brand["id"] in {b["id"] for b in client.get(API, headers=agent.headers).json()["items"]}
    assert client.get(f"{API}/{brand['id']}", headers=agent.headers).json()["slug"] == "north-shop"

    patched = client.patch(f"{API}/{brand['id']}", headers=admin.headers, json={"name": "North", "website_url": None})
    assert patched.status_code == 200 and patched.json()["name"] == "North"
    verbs = session.scalars(select(Event.verb).where(Event.subject_type == "brand", Event.subject_id == brand["id"])).all()
    assert verbs == ["brand.created", "brand.updated"]

    # New conversations can name it by slug.
    convo = client.post("/api/v1/conversations", headers=agent.headers, json={
        "customer": {"email": "c@example.com"}, "subject": "Hi", "message": {"body": "Hello"}, "brand": "north-shop",
    })
    assert convo.status_code == 201 and convo.json()["brand_id"] == brand["id"] and convo.json()["number"] == 1001


def test_brand_bad_input(client, admin: Caller, agent: Caller) -> None:
    assert client.post(API, headers=agent.headers, json={"slug": "x", "name": "X"}).status_code == 403
    bad = client.post(API, headers=admin.headers, json={
        "slug": "Not A Slug", "name": "", "currency": "euro", "timezone": "Mars/Olympus", "color": "red",
    })
    assert bad.status_code == 422
    assert fields_of(bad) == {"slug", "name", "currency", "timezone", "color"}
    assert fields_of(client.post(API, headers=admin.headers, json={"slug": "12345", "name": "N"})) == {"slug"}
    assert client.post(API, headers=admin.headers, json={"slug": "dup", "name": "A"}).status_code == 201
    dup = client.post(API, headers=admin.headers, json={"slug": "dup", "name": "B"})
    assert dup.status_code == 409 and fields_of(dup) == {"slug"}
    assert client.get(f"{API}/987654", headers=agent.headers).status_code == 404
    assert client.patch(f"{API}/987654", headers=admin.headers, json={"name": "x"}).status_code == 404
    brand_id = client.get(API, headers=agent.headers).json()["items"][0]["id"]
    null_name = client.patch(f"{API}/{brand_id}", headers=admin.headers, json={"name": None})
    assert null_name.status_code == 422 and fields_of(null_name) == {"name"}
