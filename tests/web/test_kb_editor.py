"""The agent-side knowledge-base editor: translations with fallback, preview, history with
restore, and categories/sections (create, rename, reorder, delete only when empty)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.auth.models import User
from cartdesk.brands.models import Brand
from cartdesk.events.models import Event
from cartdesk.knowledge import service as kb_service
from cartdesk.knowledge.models import Article, Category
from cartdesk.knowledge.schemas import TranslationIn
from tests.factories.knowledge import make_article, make_section, make_writer
from tests.web.conftest import HX, PAGE, login


@pytest.fixture
def article(session: Session, brand: Brand) -> Article:
    writer = make_writer(session)
    section = make_section(session, brand=brand, name="Shipping")
    article = make_article(session, writer=writer, section=section, title="Where is my parcel?",
                           body="Open the **tracking link**.")
    kb_service.save_translation(session, principal=writer, article=article, language="en",
                                translation_in=TranslationIn(title="Where is my parcel?", body_md="Check the email."))
    return article


def _fields(article: Article, **extra: str) -> dict[str, str]:
    return {"section_id": str(article.section_id), "status": "published", "visibility": "public", "tags": "", **extra}


def test_a_translation_is_written_in_the_editor_with_the_fallback_shown(
        client, session: Session, brand: Brand, supervisor: User, article: Article) -> None:  # type: ignore[no-untyped-def]
    token = login(client, supervisor)
    page = client.get(f"/kb/articles/{article.id}?lang=es", headers=PAGE)
    assert page.status_code == 200
    assert 'data-fallback="en"' in page.text and "visitors reading in es see the <b>en</b> version" in page.text
    assert "Check the email." in page.text  # the fallback text, to translate from
    saved = client.post(f"/kb/articles/{article.id}", headers=PAGE, follow_redirects=False, data={
        "csrf_token": token, "language": "es", **_fields(article, title="¿Dónde está mi paquete?",
                                                         body_md="Abre el **enlace**.")})
    assert saved.status_code == 303 and saved.headers["location"].endswith("?lang=es")
    es, fell_back = kb_service.localized(session, article=article, language="es")
    assert (es.title, fell_back) == ("¿Dónde está mi paquete?", False)
    en, _ = kb_service.localized(session, article=article, language="en")
    assert en.body_md == "Check the email."  # the default language is untouched
    again = client.get(f"/kb/articles/{article.id}?lang=es", headers=PAGE).text
    assert "data-fallback" not in again and "Abre el **enlace**." in again
    assert "<strong>enlace</strong>" in client.get(f"/hc/{brand.slug}/es/articles/{article.slug}", headers=PAGE).text


def test_preview_renders_like_the_help_center_and_stays_safe(client, supervisor: User) -> None:  # type: ignore[no-untyped-def]
    token = login(client, supervisor)
    html = client.post("/kb/articles/preview", headers={**HX, "X-CSRF-Token": token},
                       data={"body_md": "# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n<script>alert(1)</script>"}).text
    assert "<h1>Title</h1>" in html and "<td>1</td>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_history_restores_an_old_version_as_a_new_one(
        client, session: Session, supervisor: User, agent: User, article: Article) -> None:  # type: ignore[no-untyped-def]
    first = kb_service.versions(session, article_id=article.id, language="en")[0]
    token = login(client, agent)
    page = client.get(f"/kb/articles/{article.id}", headers=PAGE).text
    assert "Version 2" in page and "Restore this version" not in page  # agents read history only
    denied = client.post(f"/kb/articles/{article.id}/versions/{first.id}/restore", headers=PAGE,
                         data={"csrf_token": token}, follow_redirects=False)
    assert denied.status_code == 303
    assert len(kb_service.versions(session, article_id=article.id)) == 2
    client.cookies.clear()
    token = login(client, supervisor)
    assert "Restore this version" in client.get(f"/kb/articles/{article.id}", headers=PAGE).text
    done = client.post(f"/kb/articles/{article.id}/versions/{first.id}/restore", headers=PAGE,
                       data={"csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303
    session.expire_all()
    history = kb_service.versions(session, article_id=article.id, language="en")
    assert [v.version for v in history] == [1, 2, 3] and history[-1].body_md == "Open the **tracking link**."
    current, _ = kb_service.localized(session, article=article, language="en")
    assert current.version == 3 and "<strong>tracking link</strong>" in current.body_html
    event = session.scalars(select(Event).where(Event.verb == "kb.article.restored")).one()
    assert event.data["from_version"] == 1 and event.data["version"] == 3
    other = make_article(session, writer=make_writer(session), section=session.get(Category, article.section_id),
                         title="Returns", body="Thirty days.")
    foreign = kb_service.versions(session, article_id=other.id)[0]
    wrong = client.post(f"/kb/articles/{article.id}/versions/{foreign.id}/restore", headers=PAGE,
                        data={"csrf_token": token}, follow_redirects=False)
    wrong = client.get(wrong.headers["location"], headers=PAGE)
    # Both messages: the earlier one was still pending (the test did not follow that redirect).
    assert "is not a version of article" in wrong.text and "Restored as version 3." in wrong.text
    assert len(kb_service.versions(session, article_id=article.id)) == 3


def _names(session: Session, brand: Brand, parent_id: int | None) -> list[str]:
    session.expire_all()
    return [c.name for c in kb_service.list_categories(session, brand_id=brand.id) if c.parent_id == parent_id]


def test_categories_are_created_renamed_reordered_and_deleted_only_when_empty(
        client, session: Session, brand: Brand, supervisor: User, article: Article) -> None:  # type: ignore[no-untyped-def]
    token = login(client, supervisor)
    for name in ("Orders", "Payments"):
        client.post("/kb/categories", headers=PAGE, data={"csrf_token": token, "brand_id": brand.id, "name": name})
    tops = {c.name: c for c in kb_service.list_categories(session, brand_id=brand.id) if c.parent_id is None}
    client.post("/kb/categories", headers=PAGE, data={"csrf_token": token, "brand_id": brand.id,
                                                      "name": "Card declined", "parent_id": tops["Payments"].id})
    page = client.get(f"/kb/categories?brand={brand.slug}", headers=PAGE).text
    assert "Card declined" in page and "as a section of Payments" in page
    assert _names(session, brand, tops["Payments"].id) == ["Card declined"]

    before = _names(session, brand, None)
    client.post(f"/kb/categories/{tops['Payments'].id}/move", headers=PAGE, data={"csrf_token": token, "direction": "up"})
    after = _names(session, brand, None)
    assert after.index("Payments") == before.index("Payments") - 1 and sorted(after) == sorted(before)

    client.post(f"/kb/categories/{tops['Orders'].id}/rename", headers=PAGE, data={"csrf_token": token,
                                                                                  "name": "Your orders"})
    session.expire_all()
    renamed = session.get(Category, tops["Orders"].id)
    assert renamed.name == "Your orders" and renamed.slug == "orders"  # URLs stay

    refused = client.post(f"/kb/categories/{tops['Payments'].id}/delete", headers=PAGE, data={"csrf_token": token})
    assert "“Payments” still has 1 section. Move or delete them first; nothing was deleted." in refused.text
    section = session.get(Category, article.section_id)
    refused = client.post(f"/kb/categories/{section.id}/delete", headers=PAGE, data={"csrf_token": token})
    assert "still has 1 article" in refused.text and session.get(Category, section.id) is not None
    client.post(f"/kb/categories/{tops['Orders'].id}/delete", headers=PAGE, data={"csrf_token": token})
    assert "Your orders" not in _names(session, brand, None)
    verbs = set(session.scalars(select(Event.verb).where(Event.subject_type == "kb_category")))
    assert {"kb.category.renamed", "kb.category.moved", "kb.category.deleted"} <= verbs


def test_agents_see_categories_but_cannot_change_them(
        client, session: Session, brand: Brand, agent: User, article: Article) -> None:  # type: ignore[no-untyped-def]
    token = login(client, agent)
    page = client.get(f"/kb/categories?brand={brand.slug}", headers=PAGE).text
    assert "Shipping" in page and "Rename" not in page
    section = session.get(Category, article.section_id)
    answer = client.post(f"/kb/categories/{section.id}/rename", headers=PAGE, data={"csrf_token": token, "name": "X"})
    assert "needs a supervisor" in answer.text
    session.expire_all()
    assert session.get(Category, section.id).name == "Shipping"
