"""The help center's own words in the languages its articles come in; English otherwise.

Articles carry their translations in the database; these are the few words around them.
A missing key or language falls back to English, like the articles do.
"""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "help_center": "Help center", "contact_us": "Contact us", "how_can_we_help": "How can we help?",
        "hero_sub": "Answers about orders, delivery, returns and payments at {brand}.",
        "search_placeholder": "Search for answers, e.g. “where is my parcel”", "search_label": "Search the help center",
        "browse": "Browse by topic", "popular": "Popular articles", "articles": "articles", "article": "article",
        "still_need_help": "Still need help?", "answer_time": "Our team answers within one business day.",
        "helpful_q": "Was this article helpful?", "yes": "Yes", "no": "No", "thanks": "Thanks for letting us know.",
        "what_missing": "Sorry about that. What were you looking for?", "optional": "(optional)", "send": "Send",
        "related": "Related articles", "still_stuck": "Still stuck?", "write_to_us": "Write to us and a person will answer.",
        "updated": "Updated", "not_available": "This article is not yet available in {wanted}; here it is in {shown}.",
        "results_for": "results for", "result_for": "result for", "including": "including",
        "no_match": "No articles match “{q}”.", "try_other": "Try other words, or",
        "ask_us": "ask us directly", "back_to_store": "Back to the store", "search": "Search",
        "downloads": "Downloads", "download": "Download",
    },
    "es": {
        "help_center": "Centro de ayuda", "contact_us": "Contacto", "how_can_we_help": "¿En qué podemos ayudarte?",
        "hero_sub": "Respuestas sobre pedidos, envíos, devoluciones y pagos en {brand}.",
        "search_placeholder": "Busca respuestas, p. ej. «dónde está mi paquete»", "search_label": "Buscar en el centro de ayuda",
        "browse": "Temas", "popular": "Artículos populares", "articles": "artículos", "article": "artículo",
        "still_need_help": "¿Necesitas más ayuda?", "answer_time": "Nuestro equipo responde en un día hábil.",
        "helpful_q": "¿Te ha resultado útil este artículo?", "yes": "Sí", "no": "No", "thanks": "¡Gracias por tu opinión!",
        "what_missing": "Lo sentimos. ¿Qué estabas buscando?", "optional": "(opcional)", "send": "Enviar",
        "related": "Artículos relacionados", "still_stuck": "¿Sigues con dudas?",
        "write_to_us": "Escríbenos y una persona te responderá.", "updated": "Actualizado",
        "not_available": "Este artículo aún no está disponible en {wanted}; aquí lo tienes en {shown}.",
        "results_for": "resultados para", "result_for": "resultado para", "including": "incluye",
        "no_match": "Ningún artículo coincide con «{q}».", "try_other": "Prueba con otras palabras, o",
        "ask_us": "pregúntanos directamente", "back_to_store": "Volver a la tienda", "search": "Buscar",
        "downloads": "Descargas", "download": "Descargar",
    },
    "nl": {
        "help_center": "Klantenservice", "contact_us": "Contact", "how_can_we_help": "Waarmee kunnen we helpen?",
        "hero_sub": "Antwoorden over bestellingen, bezorging, retouren en betalen bij {brand}.",
        "search_placeholder": "Zoek een antwoord, bijv. “waar is mijn pakket”", "search_label": "Zoeken in de klantenservice",
        "browse": "Onderwerpen", "popular": "Populaire artikelen", "articles": "artikelen", "article": "artikel",
        "still_need_help": "Nog vragen?", "answer_time": "Ons team antwoordt binnen één werkdag.",
        "helpful_q": "Was dit artikel nuttig?", "yes": "Ja", "no": "Nee", "thanks": "Bedankt voor je reactie.",
        "what_missing": "Jammer. Wat zocht je?", "optional": "(optioneel)", "send": "Versturen",
        "related": "Gerelateerde artikelen", "still_stuck": "Kom je er niet uit?",
        "write_to_us": "Schrijf ons en een medewerker antwoordt.", "updated": "Bijgewerkt",
        "not_available": "Dit artikel is nog niet beschikbaar in het {wanted}; hier is het in het {shown}.",
        "results_for": "resultaten voor", "result_for": "resultaat voor", "including": "inclusief",
        "no_match": "Geen artikelen gevonden voor “{q}”.", "try_other": "Probeer andere woorden, of",
        "ask_us": "vraag het ons direct", "back_to_store": "Terug naar de winkel", "search": "Zoeken",
        "downloads": "Downloads", "download": "Downloaden",
    },
}


def translator(language: str):  # type: ignore[no-untyped-def]
    """``t(key, **values)`` for one page: the language's words, else the base language's, else English."""
    tables = [STRINGS.get(language, {}), STRINGS.get(language.split("-")[0], {}), STRINGS["en"]]

    def t(key: str, **values: object) -> str:
        text = next(table[key] for table in tables if key in table)
        return text.format(**values) if values else text

    return t
