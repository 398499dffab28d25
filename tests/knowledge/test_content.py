"""Content rules: Markdown is rendered and sanitised, slugs are unique per brand, every
save is a version, translations fall back to the default language, writers only."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.auth.models import Role
from cartdesk.auth.schemas import Principal
from cartdesk.brands.models import Brand
from cartdesk.events.models import Event
from cartdesk.kit.errors import Conflict, Forbidden, ValidationFailed
from cartdesk.knowledge import service
from cartdesk.knowledge.models import ArticleStatus, Category
from cartdesk.knowledge.schemas import ArticleCreate, ArticleUpdate, CategoryCreate, TranslationIn
from tests.factories.auth import make_user, principal
from tests.factories.conversations import make_brand
from tests.factories.knowledge import make_article, make_section


def test_markdown_is_rendered_and_sanitised(session: Session, writer: Principal, section: Category) -> None:
    article = make_article(session, writer=writer, section=section, title="Where is my parcel?",
                           body="## Tracking\n\nUse **the link** in [your email](https://example.org).\n\n"
                                "<script>alert(1)</script>\n\n[bad](javascript:alert(1))\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    translation, _ = service.localized(session, article=article, language="en")
    html = translation.body_html
    assert "<h2>Tracking</h2>" in html and "<strong>the link</strong>" in html
    assert '<a href="https://example.org"' in html and "<table>" in html
    # Raw HTML is shown as text, never run; a javascript: link never becomes a link.
    assert "<script" not in html and "&lt;script&gt;" in html and 'href="javascript' not in html
    assert "Use the link in your email." in translation.body_text
    assert article.slug == "where-is-my-parcel"
    assert translation.summary.startswith("Tracking")


def test_slugs_are_unique_per_brand(session: Session, writer: Principal, brand: Brand, section: Category) -> None:
    first = make_article(session, writer=writer, section=section, title="Returns", body="x")
    second = make_article(session, writer=writer, section=section, title="Returns", body="y")
    assert (first.slug, second.slug) == ("returns", "returns-2")
    with pytest.raises(Conflict):
        service.create_article(session, principal=writer, article_in=ArticleCreate(
            section_id=section.id, title="Other", body_md="z", slug="returns"))
    other_brand = make_brand(session)
    elsewhere = make_article(session, writer=writer, section=make_section(session, brand=other_brand),
                             title="Returns", body="z")
    assert elsewhere.slug == "returns"  # another brand's help center has its own addresses


def test_section_and_related_must_be_in_the_same_brand(session: Session, writer: Principal, section: Category) -> None:
    foreign = make_section(session, brand=make_brand(session))
    article = make_article(session, writer=writer, section=section, title="A", body="a")
    with pytest.raises(ValidationFailed) as info:
        service.update_article(session, principal=writer, article=article, article_in=ArticleUpdate(section_id=foreign.id))
    assert info.value.details == [{"field": "section_id", "value": foreign.id}]
    stranger = make_article(session, writer=writer, section=foreign, title="B", body="b")
    with pytest.raises(ValidationFailed):
        service.update_article(session, principal=writer, article=article,
                               article_in=ArticleUpdate(related_ids=[stranger.id]))
    with pytest.raises(ValidationFailed):
        service.update_article(session, principal=writer, article=article,
                               article_in=ArticleUpdate(related_ids=[article.id]))


def test_related_articles_are_symmetric(session: Session, writer: Principal, section: Category) -> None:
    a, b, c = (make_article(session, writer=writer, section=section, title=t, body=t) for t in "ABC")
    service.update_article(session, principal=writer, article=a, article_in=ArticleUpdate(related_ids=[b.id, c.id]))
    assert service.related_ids(session, article_id=b.id) == [a.id]
    service.update_article(session, principal=writer, article=a, article_in=ArticleUpdate(related_ids=[c.id]))
    assert service.related_ids(session, article_id=b.id) == []
    assert [x.id for x in service.related_articles(session, article=c)] == [a.id]


def test_sections_cannot_nest(session: Session, brand: Brand, section: Category) -> None:
    with pytest.raises(ValidationFailed):
        service.create_category(session, actor=principal(make_user(session)).actor,
                                category_in=CategoryCreate(brand=brand.id, parent_id=section.id, name="Deeper"))


def test_every_save_is_a_version_and_an_event(session: Session, writer: Principal, section: Category) -> None:
    article = make_article(session, writer=writer, section=section, title="Refunds", body="Five days.",
                           status=ArticleStatus.draft)
    service.save_translation(session, principal=writer, article=article, language="en",
                             translation_in=TranslationIn(title="Refunds", body_md="Three to five days."))
    history = service.versions(session, article_id=article.id)
    assert [(v.version, v.body_md) for v in history] == [(1, "Five days."), (2, "Three to five days.")]
    assert article.published_at is None
    service.update_article(session, principal=writer, article=article,
                           article_in=ArticleUpdate(status=ArticleStatus.published))
    assert article.published_at is not None
    verbs = session.scalars(select(Event.verb).where(Event.subject_type == "kb_article",
                                                     Event.subject_id == article.id).order_by(Event.id)).all()
    assert verbs == ["kb.article.created", "kb.translation.saved", "kb.article.published"]


def test_translation_fallback(session: Session, writer: Principal, section: Category) -> None:
    article = make_article(session, writer=writer, section=section, title="Delivery times", body="2-4 days.")
    service.save_translation(session, principal=writer, article=article, language="de",
                             translation_in=TranslationIn(title="Lieferzeiten", body_md="2-4 Werktage."))
    service.save_translation(session, principal=writer, article=article, language="pt",
                             translation_in=TranslationIn(title="Prazos de entrega", body_md="2-4 dias."))
    de, fell_back = service.localized(session, article=article, language="de")
    assert (de.title, fell_back) == ("Lieferzeiten", False)
    fr, fell_back = service.localized(session, article=article, language="fr")
    assert (fr.title, fell_back) == ("Delivery times", True)
    pt_br, fell_back = service.localized(session, article=article, language="pt-BR")
    assert (pt_br.title, fell_back) == ("Prazos de entrega", True)  # regional code → base language first


def test_bad_language_code_is_refused(session: Session, writer: Principal, section: Category) -> None:
    article = make_article(session, writer=writer, section=section, title="A", body="a")
    with pytest.raises(ValidationFailed) as info:
        service.save_translation(session, principal=writer, article=article, language="english",
                                 translation_in=TranslationIn(title="x", body_md="y"))
    assert info.value.details == [{"field": "language", "value": "english"}]


def test_only_supervisors_write(session: Session, section: Category) -> None:
    agent = principal(make_user(session, role=Role.agent))
    with pytest.raises(Forbidden):
        make_article(session, writer=agent, section=section, title="A", body="a")
    limited = principal(make_user(session, role=Role.supervisor), scopes=["kb:read"])
    with pytest.raises(Forbidden):
        make_article(session, writer=limited, section=section, title="A", body="a")


def test_tags_reach_the_index_text(session: Session, writer: Principal, section: Category) -> None:
    article = make_article(session, writer=writer, section=section, title="A", body="a", tags=["Refund", "money"])
    assert article.tags == ["refund", "money"]
    service.update_article(session, principal=writer, article=article, article_in=ArticleUpdate(tags=["invoice"]))
    assert [t.search_tags for t in service.translations(session, article_id=article.id)] == ["invoice"]
