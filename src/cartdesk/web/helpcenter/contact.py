""""Contact us": the form suggests articles as the visitor types, and either records a
deflection (they found the answer) or opens a conversation through the conversations service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.background import BackgroundTask

from cartdesk.conversations import service as conversations_service
from cartdesk.conversations.schemas import ConversationCreate
from cartdesk.db.deps import DbSession
from cartdesk.events.schemas import Actor
from cartdesk.kit import throttle
from cartdesk.kit.errors import NotFound
from cartdesk.kit.routing import Router
from cartdesk.knowledge import activity, lookup
from cartdesk.knowledge import service as kb_service
from cartdesk.web.helpcenter.common import brand_or_404, check_language, render, visitor_id

router = Router()

# The contact form's own channel: replies go out by the brand's email once connected.
CHANNEL = "web"


@router.get("/hc/{brand_slug}/{lang}/contact")
def contact_form(request: Request, brand_slug: str, lang: str, session: DbSession) -> Response:
    brand = brand_or_404(session, brand_slug)
    check_language(lang)
    return render(request, "helpcenter/contact.html", brand, lang, {"form": {}, "errors": {}, "results": None})


@router.get("/hc/{brand_slug}/{lang}/contact/suggestions")
def suggestions(request: Request, brand_slug: str, lang: str, session: DbSession, subject: str = "",
                body: str = "") -> Response:
    """Articles for what the visitor has written so far (subject first: it is the gist)."""
    brand = brand_or_404(session, brand_slug)
    check_language(lang)
    text = f"{subject} {body}".strip()[:500]
    results = lookup.search_articles(session, brand=brand, q=text + " ", language=lang, limit=3) if text else None
    response = render(request, "helpcenter/_suggestions.html", brand, lang, {"results": results, "text": text})
    if results is not None and results.hits:  # logged after the response is sent, as the search page does
        fields = {"brand_id": brand.id, "query": text[:300], "language": lang, "visitor": visitor_id(request),
                  "source": "contact", "result_count": len(results.hits)}
        response.background = BackgroundTask(activity.log_search_after_commit, request.app.state.db, **fields)
    return response


@router.post("/hc/{brand_slug}/{lang}/contact/resolved")
def resolved(request: Request, brand_slug: str, lang: str, session: DbSession,
             article_id: Annotated[int, Form()], text: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """"This answered my question": the visitor leaves without writing to us; that is a deflection."""
    brand = brand_or_404(session, brand_slug)
    check_language(lang)
    throttle.check(request, "deflect")
    article = kb_service.get_or_raise(session, article_id=article_id, include_internal=False,
                                      include_unpublished=False)
    if article.brand_id != brand.id:
        raise NotFound(f"Article {article_id} does not exist.", details={"id": article_id})
    activity.record_deflection(session, brand_id=brand.id, article_id=article.id, query=text)
    translation, _ = kb_service.localized(session, article=article, language=lang)
    return render(request, "helpcenter/_resolved.html", brand, lang, {"article": article, "tr": translation})


@router.post("/hc/{brand_slug}/{lang}/contact")
def submit(request: Request, brand_slug: str, lang: str, session: DbSession,
           name: Annotated[str, Form(max_length=200)] = "", email: Annotated[str, Form(max_length=320)] = "",
           subject: Annotated[str, Form(max_length=500)] = "", body: Annotated[str, Form(max_length=20_000)] = "",
           ) -> Response:
    brand = brand_or_404(session, brand_slug)
    check_language(lang)
    throttle.check(request, "contact")
    form = {"name": name.strip(), "email": email.strip(), "subject": subject.strip(), "body": body.strip()}
    errors: dict[str, str] = {}
    if not form["body"]:
        errors["body"] = "Tell us what you need help with."
    conversation_in = None
    try:
        conversation_in = ConversationCreate(
            customer={"email": form["email"] or None, "name": form["name"] or None},
            subject=form["subject"], message={"body": form["body"] or "-"}, channel=CHANNEL, brand=brand.id,
        )
    except ValidationError:
        errors["email"] = "Enter a valid email address, so we can answer you."
    if not form["email"]:
        errors["email"] = "Enter your email address, so we can answer you."
    if errors or conversation_in is None:
        return render(request, "helpcenter/contact.html", brand, lang,
                      {"form": form, "errors": errors, "results": None}, status_code=422)
    actor = Actor(type="customer", id=None, name=form["name"] or form["email"])
    conversation = conversations_service.create(session, actor=actor, conversation_in=conversation_in)
    return render(request, "helpcenter/sent.html", brand, lang, {"number": conversation.number, "form": form})
