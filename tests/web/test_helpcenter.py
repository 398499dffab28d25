"""Help-center pages through the app: addresses, fallback, feedback, views, search logging,
the contact form (suggestions, deflection, conversation), sitemap; and the agent's
knowledge pages (composer suggestions, insights)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cartdesk.auth.models import User
from cartdesk.brands.models import Brand
from cartdesk.conversations.models import Conversation, Message
from cartdesk.knowledge import service as kb_service
from cartdesk.knowledge.models import Article, ArticleView, Deflection, Feedback, SearchLog, Visibility
from cartdesk.knowledge.schemas import TranslationIn
from tests.factories.conversations import make_conversation
from tests.factories.knowledge import make_article, make_section, make_writer
from tests.web.conftest import HX, PAGE, login


@pytest.fixture
def articles(session: Session, brand: Brand) -> dict[str, Article]:
    writer = make_writer(session)
    section = make_section(session, brand=brand, name="Tracking")
    track = make_article(session, writer=writer, section=section, title="Where is my parcel?",
                         body="Open the **tracking link** in your shipping email.", tags=["tracking"])
    returns = make_article(session, writer=writer, section=section, title="Return an item",
                           body="Print the prepaid return label from your account.")
    make_article(session, writer=writer, section=section, title="Carrier claim playbook",
                 body="Open a claim with the carrier for a lost parcel.", visibility=Visibility.internal)
    kb_service.save_translation(session, principal=writer, article=track, language="de",
                                translation_in=TranslationIn(title="Wo ist mein Paket?", body_md="Öffne den Link."))
    return {"track": track, "returns": returns}


def test_home_category_and_article_pages(client, brand: Brand, articles: dict[str, Article]) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/help", headers=PAGE, follow_redirects=False).headers["location"] == f"/hc/{brand.slug}/en"
    home = client.get(f"/hc/{brand.slug}/en", headers=PAGE)
    assert home.status_code == 200 and "Where is my parcel?" in home.text
    assert "Carrier claim playbook" not in home.text  # internal articles are for agents only
    page = client.get(f"/hc/{brand.slug}/en/articles/where-is-my-parcel", headers=PAGE)
    assert "<strong>tracking link</strong>" in page.text and 'hreflang="de"' in page.text
    german = client.get(f"/hc/{brand.slug}/de/articles/where-is-my-parcel", headers=PAGE)
    assert "Wo ist mein Paket?" in german.text and "not yet available" not in german.text
    french = client.get(f"/hc/{brand.slug}/fr/articles/return-an-item", headers=PAGE)
    assert "Return an item" in french.text and "not yet available in Français" in french.text
    assert client.get(f"/hc/{brand.slug}/en/articles/carrier-claim-playbook", headers=PAGE).status_code == 404
    assert client.get(f"/hc/{brand.slug}/english/articles/return-an-item", headers=PAGE).status_code == 404
    assert client.get("/hc/no-such-brand/en", headers=PAGE).status_code == 404


def test_sitemap_lists_public_pages_in_each_language(client, brand: Brand, articles: dict[str, Article]) -> None:  # type: ignore[no-untyped-def]
    xml = client.get(f"/hc/{brand.slug}/sitemap.xml").text
    assert f"/hc/{brand.slug}/de/articles/where-is-my-parcel</loc>" in xml
    assert f"/hc/{brand.slug}/en/articles/return-an-item</loc>" in xml
    assert "carrier-claim" not in xml


def test_search_fragment_and_logging(client, session: Session, brand: Brand, articles: dict[str, Article]) -> None:  # type: ignore[no-untyped-def]
    for typed in ("wher", "where is my parc", "where is my parcel"):
        response = client.get(f"/hc/{brand.slug}/en/search", params={"q": typed, "view": "instant"}, headers=HX)
        assert response.status_code == 200
    assert 'class="hc-instant"' in response.text and "Where is my parcel?" in response.text
    assert "<html" not in response.text  # htmx gets the fragment
    logged = session.scalars(select(SearchLog).where(SearchLog.brand_id == brand.id)).all()
    assert [(s.query, s.result_count) for s in logged] == [("where is my parcel", 1)]  # keystrokes collapse
    client.get(f"/hc/{brand.slug}/en/search", params={"q": "gift wrapping"}, headers=PAGE)
    empty = session.scalars(select(SearchLog).where(SearchLog.result_count == 0)).all()
    assert [s.normalized for s in empty] == ["gift wrapping"]


def test_view_beacon_counts_and_credits_the_search(client, session: Session, brand: Brand,  # type: ignore[no-untyped-def]
                                                   articles: dict[str, Article]) -> None:
    client.get(f"/hc/{brand.slug}/en/search", params={"q": "where is my parcel"}, headers=PAGE)
    response = client.post(f"/hc/{brand.slug}/en/articles/where-is-my-parcel/view", data={"q": "where is my parcel"})
    assert response.status_code == 204
    session.expire_all()
    assert session.get(Article, articles["track"].id).view_count == 1
    assert session.scalar(select(func.count()).select_from(ArticleView)) == 1
    search = session.scalars(select(SearchLog)).one()
    assert search.clicked_article_id == articles["track"].id


def test_feedback_yes_and_no_with_comment(client, session: Session, brand: Brand, articles: dict[str, Article]) -> None:  # type: ignore[no-untyped-def]
    url = f"/hc/{brand.slug}/en/articles/return-an-item/feedback"
    yes = client.post(url, data={"helpful": "yes"}, headers=HX)
    assert "Thanks for letting us know" in yes.text
    no = client.post(url, data={"helpful": "no"}, headers=HX)
    assert "What were you looking for?" in no.text
    feedback_id = session.scalars(select(Feedback.id).where(Feedback.helpful.is_(False))).one()
    done = client.post(url, data={"helpful": "no", "feedback_id": feedback_id, "comment": "Which carriers?"}, headers=HX)
    assert "Thanks" in done.text
    again = client.post(url, data={"helpful": "no", "feedback_id": feedback_id, "comment": "overwrite"}, headers=HX)
    assert again.status_code == 404  # a comment cannot be replaced
    session.expire_all()
    article = session.get(Article, articles["returns"].id)
    assert (article.helpful_count, article.unhelpful_count) == (1, 1)
    assert session.get(Feedback, feedback_id).comment == "Which carriers?"


def test_contact_suggests_and_deflects(client, session: Session, brand: Brand, articles: dict[str, Article]) -> None:  # type: ignore[no-untyped-def]
    suggestions = client.get(f"/hc/{brand.slug}/en/contact/suggestions", params={"subject": "my parcel never came"},
                             headers=HX)
    assert "Where is my parcel?" in suggestions.text and "This answered my question" in suggestions.text
    assert "Carrier claim playbook" not in suggestions.text
    done = client.post(f"/hc/{brand.slug}/en/contact/resolved",
                       data={"article_id": articles["track"].id, "text": "my parcel never came"}, headers=HX)
    assert "Glad that helped" in done.text
    deflection = session.scalars(select(Deflection)).one()
    assert (deflection.article_id, deflection.query) == (articles["track"].id, "my parcel never came")
    assert session.scalar(select(func.count()).select_from(Conversation)) == 0


def test_contact_creates_a_conversation(client, session: Session, brand: Brand, articles: dict[str, Article]) -> None:  # type: ignore[no-untyped-def]
    url = f"/hc/{brand.slug}/en/contact"
    bad = client.post(url, data={"name": "Ana", "email": "not-an-email", "subject": "Hi", "body": ""}, headers=PAGE)
    assert bad.status_code == 422 and "Tell us what you need help with." in bad.text and "valid email" in bad.text
    assert session.scalar(select(func.count()).select_from(Conversation)) == 0
    sent = client.post(url, data={"name": "Ana Costa", "email": "ana@example.org", "subject": "Boots too small",
                                  "body": "Can I swap NW-12345 for a size 9?"}, headers=PAGE)
    assert sent.status_code == 200 and "We got your message" in sent.text
    conversation = session.scalars(select(Conversation)).one()
    assert (conversation.channel, conversation.subject, conversation.brand_id) == ("web", "Boots too small", brand.id)
    body = session.scalars(select(Message.body_text).where(Message.conversation_id == conversation.id)).one()
    assert body == "Can I swap NW-12345 for a size 9?"
    assert f"#{conversation.number}" in sent.text


def test_composer_suggestions_for_the_agent(client, session: Session, brand: Brand, agent: User,  # type: ignore[no-untyped-def]
                                            articles: dict[str, Article]) -> None:
    conversation = make_conversation(session, brand=brand, subject="Lost?", body="My parcel is lost, no tracking.")
    from cartdesk.conversations import service as conversations_service
    from cartdesk.conversations.schemas import ConversationUpdate
    from tests.factories.auth import principal

    conversations_service.update(session, principal=principal(agent), conversation=conversation,
                                 update_in=ConversationUpdate(assignee_id=agent.id))
    assert client.get(f"/kb/assist/{conversation.id}", headers=HX, follow_redirects=False).status_code in (204, 303)
    login(client, agent)
    fragment = client.get(f"/kb/assist/{conversation.id}", headers=HX)
    assert fragment.status_code == 200
    assert "Where is my parcel?" in fragment.text and "Carrier claim playbook" in fragment.text  # agents see internal
    assert f"/hc/{brand.slug}/en/articles/where-is-my-parcel" in fragment.text
    searched = client.get(f"/kb/assist/{conversation.id}", params={"q": "return label"}, headers=HX)
    assert searched.text.index("Return an item") < searched.text.index("</ul>")


def test_insights_are_for_supervisors(client, session: Session, brand: Brand, agent: User, supervisor: User,  # type: ignore[no-untyped-def]
                                      articles: dict[str, Article]) -> None:
    for q in ("gift wrap", "gift wrapping", "gift wrapping"):
        client.get(f"/hc/{brand.slug}/en/search", params={"q": q}, headers=PAGE)
        client.cookies.clear()  # three different visitors
    login(client, agent)
    assert client.get("/kb/insights", headers=PAGE).status_code == 403
    client.cookies.clear()
    login(client, supervisor)
    page = client.get(f"/kb/insights?brand={brand.slug}", headers=PAGE)
    assert page.status_code == 200
    assert "gift wrapping" in page.text and "also: gift wrap" in page.text


def test_page_words_follow_the_language(client, brand: Brand, articles: dict[str, Article]) -> None:  # type: ignore[no-untyped-def]
    spanish = client.get(f"/hc/{brand.slug}/es/articles/return-an-item", headers=PAGE).text
    assert "¿Te ha resultado útil este artículo?" in spanish
    assert "Este artículo aún no está disponible en Español; aquí lo tienes en English." in spanish
    regional = client.get(f"/hc/{brand.slug}/nl-BE", headers=PAGE).text
    assert "Waarmee kunnen we helpen?" in regional  # nl-BE → nl
    german = client.get(f"/hc/{brand.slug}/de", headers=PAGE).text
    assert "How can we help?" in german  # no German words yet: English, like a missing article


def test_supervisor_writes_articles_in_the_app(client, session: Session, brand: Brand, agent: User,  # type: ignore[no-untyped-def]
                                               supervisor: User, articles: dict[str, Article]) -> None:
    from tests.web.conftest import csrf_of

    token = login(client, agent)
    listing = client.get(f"/kb/articles?brand={brand.slug}", headers=PAGE)
    assert "Carrier claim playbook" in listing.text and "New article" not in listing.text
    refused = client.post(f"/kb/articles/{articles['returns'].id}", headers=PAGE, data={
        "csrf_token": token, "title": "Hijacked", "body_md": "x", "section_id": str(articles["returns"].section_id),
        "status": "published", "visibility": "public"})
    assert refused.status_code == 403 and "needs a supervisor" in refused.text
    client.cookies.clear()
    login(client, supervisor)
    form = client.get(f"/kb/articles/new?brand={brand.slug}", headers=PAGE)
    token = csrf_of(form.text)
    created = client.post("/kb/articles", headers=PAGE, follow_redirects=False, data={
        "csrf_token": token, "title": "Gift wrapping", "body_md": "We wrap any order for **$4.95**.",
        "section_id": str(articles["returns"].section_id), "status": "published", "visibility": "public",
        "tags": "gift, wrapping"})
    assert created.status_code == 303
    article_id = int(created.headers["location"].rsplit("/", 1)[1])
    edited = client.post(f"/kb/articles/{article_id}", headers=PAGE, follow_redirects=False, data={
        "csrf_token": token, "title": "Gift wrapping", "body_md": "We wrap any order for **$5**.",
        "section_id": str(articles["returns"].section_id), "status": "published", "visibility": "public",
        "tags": "gift"})
    assert edited.status_code == 303
    assert [v.body_md for v in kb_service.versions(session, article_id=article_id)] == [
        "We wrap any order for **$4.95**.", "We wrap any order for **$5**."]
    assert "<strong>$5</strong>" in client.get(f"/hc/{brand.slug}/en/articles/gift-wrapping", headers=PAGE).text
    bad = client.post("/kb/articles", headers=PAGE, data={
        "csrf_token": token, "title": "", "body_md": "", "section_id": "", "status": "draft", "visibility": "public"})
    assert bad.status_code == 422 and "Check the title" in bad.text


def test_public_forms_are_throttled_per_address(client, session: Session, brand: Brand,  # type: ignore[no-untyped-def]
                                                articles: dict[str, Article]) -> None:
    url = f"/hc/{brand.slug}/en/contact"
    data = {"name": "Spam", "email": "spam@example.org", "subject": "Hi", "body": "Buy now"}
    codes = [client.post(url, data=data, headers=PAGE).status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
    assert session.scalar(select(func.count()).select_from(Conversation)) == 5
    for _ in range(125):
        client.post(f"/hc/{brand.slug}/en/articles/return-an-item/view", data={})
    session.expire_all()
    assert session.get(Article, articles["returns"].id).view_count == 120  # beyond the cap: not counted
    api = [client.post(f"/api/v1/kb/articles/{articles['track'].id}/feedback", json={"helpful": True}).status_code
           for _ in range(31)]
    assert api[-1] == 429 and api[:30] == [201] * 30
