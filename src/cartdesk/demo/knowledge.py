"""Seeding the demo help centers: categories, articles (with translations and related
links) written by the supervisor, then three weeks of visitor activity (views, ratings,
searches, deflections) so the insights page has something to show.

Everything goes through the knowledge services; ``Backdater`` dates each day's activity.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from cartdesk.auth import service as auth_service
from cartdesk.demo import kb_lumen, kb_northwind
from cartdesk.demo.history import Backdater
from cartdesk.demo.replay import DEMO_ACTOR, Cast
from cartdesk.knowledge import activity
from cartdesk.knowledge import service as kb_service
from cartdesk.knowledge.models import Article, ArticleStatus, Visibility
from cartdesk.knowledge.schemas import (
    ArticleCreate,
    ArticleUpdate,
    CategoryCreate,
    FeedbackIn,
    TranslationIn,
)

# What visitors type, and (for the insights page) what they search for that we have not written yet.
SEARCHES = ["where is my parcel", "tracking", "refund", "return label", "cancel order", "change address",
            "invoice", "discount code", "klarna", "international shipping", "delivery time", "password"]
MISSING = ["gift wrapping", "gift wrap", "price match", "price matching guarantee", "student discount",
           "students discount", "rent a tent", "tent rental"]
UNHELPFUL = {"Delivery times": "It doesn't say what happens on public holidays in Alaska.",
             "Using a discount code": "My code TRAIL15 still doesn't work and this didn't say why.",
             "Change the delivery address": "Too late for me, it already shipped with USPS."}


def seed(session: Session, clock: Backdater, cast: Cast, *, at: datetime) -> dict[str, dict[str, Article]]:
    """Both brands' help centers, written by the supervisor at ``at``."""
    writer = auth_service.principal_for(cast.users["supervisor"])
    written: dict[str, dict[str, Article]] = {}
    with clock.at(at):
        for brand_slug, module, translated in (("northwind", kb_northwind, ("es", kb_northwind.SPANISH)),
                                               ("lumen-loom", kb_lumen, ("nl", kb_lumen.DUTCH))):
            brand = cast.brands[brand_slug]
            articles = written[brand_slug] = {}
            for position, (slug, name, description, icon, sections) in enumerate(module.CATEGORIES):
                category = kb_service.create_category(session, actor=DEMO_ACTOR, category_in=CategoryCreate(
                    brand=brand.id, slug=slug, name=name, description=description, icon=icon, position=position))
                for s_position, (section_name, entries) in enumerate(sections):
                    section = kb_service.create_category(session, actor=DEMO_ACTOR, category_in=CategoryCreate(
                        brand=brand.id, parent_id=category.id, slug=f"{slug}-{s_position + 1}", name=section_name,
                        position=s_position))
                    for a_position, (title, tags, body) in enumerate(entries):
                        internal = kb_northwind.INTERNAL in tags
                        articles[title] = kb_service.create_article(session, principal=writer, article_in=ArticleCreate(
                            section_id=section.id, title=title, body_md=body.strip(), position=a_position,
                            tags=[t for t in tags if t != kb_northwind.INTERNAL], status=ArticleStatus.published,
                            visibility=Visibility.internal if internal else Visibility.public))
            language, texts = translated
            for title, (local_title, body) in texts.items():
                kb_service.save_translation(session, principal=writer, article=articles[title], language=language,
                                            translation_in=TranslationIn(title=local_title, body_md=body.strip()))
            related: dict[str, list[int]] = {}
            for a, b in module.RELATED:
                related.setdefault(a, []).append(articles[b].id)
            for title, ids in related.items():
                kb_service.update_article(session, principal=writer, article=articles[title],
                                          article_in=ArticleUpdate(related_ids=ids))
    return written


def simulate_activity(session: Session, clock: Backdater, cast: Cast, written: dict[str, dict[str, Article]], *,
                      rng: random.Random, now: datetime, days: int = 21) -> None:
    """Three weeks of help-center traffic on Northwind: views weighted towards the articles
    people need most, ratings, finished searches (some finding nothing) and deflections."""
    brand = cast.brands["northwind"]
    public = [a for a in written["northwind"].values() if a.visibility == Visibility.public]
    weights = [max(1, 12 - i) for i in range(len(public))]
    for day in range(days, 0, -1):
        when = (now - timedelta(days=day)).replace(hour=rng.randrange(8, 20), minute=rng.randrange(60))
        with clock.at(when):
            for article in rng.choices(public, weights=weights, k=rng.randint(35, 70)):
                activity.record_view(session, article=article)
            for article in rng.sample(public, k=rng.randint(2, 6)):
                title = next(t for t, a in written["northwind"].items() if a.id == article.id)
                helpful = rng.random() > (0.7 if title in UNHELPFUL else 0.15)
                comment = UNHELPFUL.get(title, "") if not helpful and rng.random() < 0.6 else ""
                activity.record_feedback(session, article=article,
                                         feedback_in=FeedbackIn(helpful=helpful, comment=comment))
            for n in range(rng.randint(6, 14)):
                missing = rng.random() < 0.25
                query = rng.choice(MISSING if missing else SEARCHES)
                row = activity.log_search(session, brand_id=brand.id, query=query, language="en", source="helpcenter",
                                          result_count=0 if missing else rng.randint(2, 8), visitor=f"demo-{day}-{n}")
                if row is not None and not missing and rng.random() < 0.7:
                    row.clicked_article_id = rng.choice(public).id
            for _ in range(rng.randint(1, 4)):
                article = rng.choice(public[:12])
                activity.record_deflection(session, brand_id=brand.id, article_id=article.id,
                                           query=rng.choice(SEARCHES))
