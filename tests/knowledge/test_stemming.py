"""Stemming follows the translation's language, on SQLite (Snowball in Python, into FTS5) and
PostgreSQL (the language's text-search configuration) alike.

The engine-level checks call ``search.candidates`` with the parsed query and no typo
expansion, and end each query with a space (no prefix), so a hit can only come from the
two words sharing a stem in that language.
"""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from cartdesk.auth.schemas import Principal
from cartdesk.brands.models import Brand
from cartdesk.kit import stemming
from cartdesk.knowledge import lookup, search, service
from cartdesk.knowledge.models import Category
from cartdesk.knowledge.schemas import TranslationIn
from tests.factories.knowledge import make_article

GERMAN = {
    "returns": ("Rücksendungen und Umtausch", "Alle Rücksendungen sind innerhalb von 30 Tagen kostenlos. "
                "Drucken Sie das Etikett aus und bringen Sie den Karton zur Post."),
    "delivery": ("Lieferungen ins Ausland", "Wir liefern in alle Länder der EU. Internationale Lieferungen "
                 "brauchen fünf bis acht Werktage."),
    "payment": ("Zahlungsarten", "Wir akzeptieren Kreditkarten, PayPal und Kauf auf Rechnung."),
}
FRENCH = {
    "refund": ("Quand serai-je remboursé ?", "Votre commande est remboursée sur le moyen de paiement "
               "d'origine sous cinq jours ouvrés."),
    "delivery": ("Commandes livrées en retard", "Les colis sont livrés par La Poste. Un colis livré en retard "
                 "donne droit à un bon d'achat."),
}


def _corpus(session: Session, writer: Principal, section: Category, texts: dict[str, tuple[str, str]],
            language: str) -> dict[str, int]:
    return {key: make_article(session, writer=writer, section=section, title=title, body=body, language=language).id
            for key, (title, body) in texts.items()}


def _found(session: Session, brand: Brand, q: str, language: str) -> list[int]:
    return [c.article_id for c in search.candidates(
        session, query=search.parse(q), brand_id=brand.id, language=language, fallback=language,
        include_internal=False, limit=5)]


@pytest.mark.parametrize(("q", "expected"), [
    ("Rücksendung ", "returns"),  # singular finds the plural
    ("Lieferung ", "delivery"),
    ("Land ", "delivery"),  # the umlaut plural "Länder"
    ("Kreditkarte ", "payment"),
])
def test_a_german_query_finds_the_inflected_form(session: Session, brand: Brand, writer: Principal,
                                                 section: Category, q: str, expected: str) -> None:
    corpus = _corpus(session, writer, section, GERMAN, "de")
    assert _found(session, brand, q, "de")[:1] == [corpus[expected]]


@pytest.mark.parametrize(("q", "expected"), [
    ("rembourser ", "refund"),  # the infinitive finds "remboursé", "remboursée"
    ("livrer ", "delivery"),  # and "livrées", "livrés", "livré"
])
def test_a_french_query_finds_the_inflected_form(session: Session, brand: Brand, writer: Principal,
                                                 section: Category, q: str, expected: str) -> None:
    corpus = _corpus(session, writer, section, FRENCH, "fr")
    assert _found(session, brand, q, "fr")[:1] == [corpus[expected]]


def test_english_stemming_would_not_have_found_them() -> None:
    """The control: what the index did before (English for every language) misses these."""
    for word, inflected, language in (("rücksendung", "rücksendungen", "de"), ("lieferung", "lieferungen", "de"),
                                      ("rembourser", "remboursé", "fr"), ("livrer", "livrées", "fr")):
        assert stemming.stem(language, word) == stemming.stem(language, inflected)
        assert stemming.stem("en", word) != stemming.stem("en", inflected)


def test_each_translation_is_stemmed_in_its_own_language(session: Session, brand: Brand, writer: Principal,
                                                         section: Category) -> None:
    article = make_article(session, writer=writer, section=section, title="Returns and exchanges",
                           body="Returns are free within 30 days.")
    service.save_translation(session, principal=writer, article=article, language="de", translation_in=TranslationIn(
        title="Rücksendungen und Umtausch", body_md="Alle Rücksendungen sind kostenlos."))
    assert _found(session, brand, "Rücksendung ", "de") == [article.id]
    assert _found(session, brand, "return ", "en") == [article.id]
    # A German visitor typing an English word still finds the English (fallback) text.
    hits = lookup.search_articles(session, brand=brand, q="returning ", language="de").hits
    assert [h.article_id for h in hits] == [article.id]


def test_a_language_without_a_stemmer_is_matched_word_for_word(session: Session, brand: Brand, writer: Principal,
                                                               section: Category) -> None:
    assert stemming.algorithm("ja") == stemming.SIMPLE and stemming.algorithm("pt-BR") == "portuguese"
    article = make_article(session, writer=writer, section=section, title="Zwrot towaru",
                           body="Zwroty przyjmujemy w ciągu 30 dni.", language="pl")
    assert _found(session, brand, "zwroty ", "pl") == [article.id]
    assert _found(session, brand, "ciągu ", "pl") == [article.id]
