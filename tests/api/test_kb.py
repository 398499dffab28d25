"""The knowledge-base API: scopes and roles, the error shape, fallback, search without a token."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.brands.models import Brand
from cartdesk.knowledge.models import Feedback
from tests.api.conftest import Caller, caller, error_of, fields_of


def _section(client, who: Caller, brand: Brand) -> int:  # type: ignore[no-untyped-def]
    category = client.post("/api/v1/kb/categories", headers=who.headers, json={"brand": brand.slug, "name": "Orders"})
    assert category.status_code == 201, category.text
    section = client.post("/api/v1/kb/categories", headers=who.headers,
                          json={"brand": brand.slug, "name": "Changing an order", "parent_id": category.json()["id"]})
    assert section.status_code == 201
    return section.json()["id"]


def _article(client, who: Caller, section: int, **extra) -> dict:  # type: ignore[no-untyped-def]
    body = {"section_id": section, "title": "Change the delivery address",
            "body_md": "Write to us **before** the order ships.", "status": "published", **extra}
    response = client.post("/api/v1/kb/articles", headers=who.headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_supervisor_writes_and_agent_reads(client, brand: Brand, supervisor: Caller, agent: Caller) -> None:  # type: ignore[no-untyped-def]
    section = _section(client, supervisor, brand)
    created = _article(client, supervisor, section, tags=["Address"])
    assert (created["slug"], created["tags"], created["languages"]) == ("change-the-delivery-address", ["address"], ["en"])
    got = client.get(f"/api/v1/kb/articles/{created['id']}", headers=agent.headers)
    assert got.status_code == 200
    assert "<strong>before</strong>" in got.json()["translation"]["body_html"]
    refused = client.post("/api/v1/kb/articles", headers=agent.headers,
                          json={"section_id": section, "title": "x", "body_md": "y"})
    assert refused.status_code == 403 and error_of(refused)["code"] == "forbidden"


def test_translation_fallback_and_versions(client, brand: Brand, supervisor: Caller) -> None:  # type: ignore[no-untyped-def]
    article = _article(client, supervisor, _section(client, supervisor, brand))
    put = client.put(f"/api/v1/kb/articles/{article['id']}/translations/nl", headers=supervisor.headers,
                     json={"title": "Afleveradres wijzigen", "body_md": "Schrijf ons voordat de bestelling verzonden is."})
    assert put.status_code == 200 and put.json()["version"] == 1
    nl = client.get(f"/api/v1/kb/articles/{article['id']}?lang=nl", headers=supervisor.headers).json()
    assert (nl["translation"]["title"], nl["fallback"]) == ("Afleveradres wijzigen", False)
    fr = client.get(f"/api/v1/kb/articles/{article['id']}?lang=fr", headers=supervisor.headers).json()
    assert (fr["translation"]["language"], fr["fallback"]) == ("en", True)
    versions = client.get(f"/api/v1/kb/articles/{article['id']}/versions", headers=supervisor.headers).json()
    assert [(v["language"], v["version"]) for v in versions] == [("en", 1), ("nl", 1)]


def test_errors_have_the_one_shape(client, session: Session, brand: Brand, supervisor: Caller) -> None:  # type: ignore[no-untyped-def]
    section = _section(client, supervisor, brand)
    missing = client.get("/api/v1/kb/articles/999999", headers=supervisor.headers)
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
    bad = client.post("/api/v1/kb/articles", headers=supervisor.headers,
                      json={"section_id": section, "title": "", "body_md": "y", "language": "english", "slug": "Not A Slug"})
    assert bad.status_code == 422 and {"title", "language", "slug"} <= {f.split(".")[-1] for f in fields_of(bad) if f}
    _article(client, supervisor, section, slug="dup")
    conflict = client.post("/api/v1/kb/articles", headers=supervisor.headers,
                           json={"section_id": section, "title": "x", "body_md": "y", "slug": "dup"})
    assert conflict.status_code == 409 and fields_of(conflict) == {"slug"}
    lang = client.get("/api/v1/kb/search?q=x&lang=klingon")
    assert lang.status_code == 422 and error_of(lang)["details"] == [{"field": "lang", "value": "klingon"}]
    unauth = client.get("/api/v1/kb/articles")
    assert unauth.status_code == 401
    token_without_kb = caller(session, scopes=["conversations:read"])
    refused = client.get("/api/v1/kb/articles", headers=token_without_kb.headers)
    assert refused.status_code == 403 and error_of(refused)["details"] == {"scope": "kb:read"}


def test_search_without_token_sees_public_only(client, brand: Brand, supervisor: Caller, agent: Caller) -> None:  # type: ignore[no-untyped-def]
    section = _section(client, supervisor, brand)
    _article(client, supervisor, section, title="Address change", body_md="Public words about addresses.")
    _article(client, supervisor, section, title="Address fraud checks", visibility="internal",
             body_md="Internal: verify the address before changing it.")
    public = client.get(f"/api/v1/kb/search?q=address+&brand={brand.slug}").json()
    assert [h["title"] for h in public["hits"]] == ["Address change"]
    as_agent = client.get(f"/api/v1/kb/search?q=address+&brand={brand.slug}", headers=agent.headers).json()
    assert sorted(h["title"] for h in as_agent["hits"]) == ["Address change", "Address fraud checks"]


def test_feedback_is_counted(client, session: Session, brand: Brand, supervisor: Caller) -> None:  # type: ignore[no-untyped-def]
    article = _article(client, supervisor, _section(client, supervisor, brand))
    assert client.post(f"/api/v1/kb/articles/{article['id']}/feedback", json={"helpful": True}).status_code == 201
    no = client.post(f"/api/v1/kb/articles/{article['id']}/feedback",
                     json={"helpful": False, "comment": "It does not say how long it takes."})
    assert no.status_code == 201
    read = client.get(f"/api/v1/kb/articles/{article['id']}", headers=supervisor.headers).json()["article"]
    assert (read["helpful_count"], read["unhelpful_count"]) == (1, 1)
    comments = session.scalars(select(Feedback.comment).where(Feedback.article_id == article["id"])).all()
    assert "It does not say how long it takes." in comments
    draft = _article(client, supervisor, article["section_id"], title="Draft", status="draft")
    assert client.post(f"/api/v1/kb/articles/{draft['id']}/feedback", json={"helpful": True}).status_code == 404
