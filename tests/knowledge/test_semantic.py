"""Semantic search (the ml extra): embeddings in the database, fused with BM25 by RRF.

Runs where the extra is installed; CI installs it (CPU torch) and must run these."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.auth.schemas import Principal
from cartdesk.brands.models import Brand
from cartdesk.knowledge import lookup, semantic, service
from cartdesk.knowledge.models import Category, Embedding
from cartdesk.knowledge.schemas import TranslationIn
from cartdesk.knowledge.tasks import embed
from tests.conftest import IN_CI
from tests.factories.knowledge import make_article

if not semantic.installed():
    if IN_CI:
        raise RuntimeError("CI must install the ml extra (CPU torch) so the semantic tests run")
    pytest.skip("the ml extra is not installed", allow_module_level=True)


def test_meaning_finds_what_words_miss(session: Session, writer: Principal, brand: Brand, section: Category) -> None:
    track = make_article(session, writer=writer, section=section, title="Where is my parcel?",
                         body="Open the tracking link in your shipping confirmation email.")
    make_article(session, writer=writer, section=section, title="Payment methods",
                 body="We accept Visa, Mastercard and PayPal.")
    make_article(session, writer=writer, section=section, title="Reset your password",
                 body="Click forgot password on the sign in page.")
    assert semantic.index_brand(session, brand_id=brand.id) == 3
    q = "my delivery never showed up "
    assert lookup.search_articles(session, brand=brand, q=q, hybrid=False).hits == []  # no shared word
    hits = lookup.search_articles(session, brand=brand, q=q, hybrid=True).hits
    assert hits[0].article_id == track.id
    assert semantic.index_brand(session, brand_id=brand.id) == 0  # nothing stale: nothing recomputed


def test_embedding_job_follows_new_versions(session: Session, writer: Principal, section: Category) -> None:
    article = make_article(session, writer=writer, section=section, title="Refunds", body="Five days.")
    translation = service.translations(session, article_id=article.id)[0]
    embed(session, {"translation_id": translation.id})
    first = session.get(Embedding, translation.id)
    assert first is not None and first.version == 1 and len(first.vector) == 384 * 4
    before = bytes(first.vector)
    service.save_translation(session, principal=writer, article=article, language="en",
                             translation_in=TranslationIn(title="Refunds", body_md="Refunds take three days."))
    embed(session, {"translation_id": translation.id})
    embed(session, {"translation_id": translation.id})  # idempotent
    rows = session.scalars(select(Embedding).where(Embedding.translation_id == translation.id)).all()
    assert len(rows) == 1 and rows[0].version == 2 and bytes(rows[0].vector) != before


def test_rrf_rewards_agreement() -> None:
    scores = semantic.fuse([1, 2, 3], [3, 1, 4])
    assert sorted(scores, key=lambda k: -scores[k])[:2] == [1, 3]
