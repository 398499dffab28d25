"""Word stems per language, for full-text search on SQLite (PostgreSQL has its own).

One table maps a language code (``de``, ``pt-BR``: the part before ``-`` decides) to a
Snowball algorithm; the same names are PostgreSQL's text-search configurations, so both
engines stem a language alike. A language with no stemmer gets ``simple``: lower-cased
words, unstemmed. Stems are cached per word: a help center's vocabulary is small, and the
pure-Python Snowball stemmers are the slow part of indexing without the cache.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import snowballstemmer

# ISO 639-1 code -> Snowball algorithm and PostgreSQL text-search configuration name.
LANGUAGES: dict[str, str] = {
    "ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "da": "danish", "nl": "dutch",
    "en": "english", "fi": "finnish", "fr": "french", "de": "german", "el": "greek", "hi": "hindi",
    "hu": "hungarian", "id": "indonesian", "ga": "irish", "it": "italian", "lt": "lithuanian", "ne": "nepali",
    "no": "norwegian", "nb": "norwegian", "nn": "norwegian", "pt": "portuguese", "ro": "romanian",
    "ru": "russian", "sr": "serbian", "es": "spanish", "sv": "swedish", "ta": "tamil", "tr": "turkish",
    "yi": "yiddish",
}
SIMPLE = "simple"
_WORD = re.compile(r"\w+", re.UNICODE)


def algorithm(language: str) -> str:
    """The Snowball algorithm / PostgreSQL configuration for a language code, else ``simple``."""
    return LANGUAGES.get((language or "").split("-", 1)[0].split("_", 1)[0].lower(), SIMPLE)


@lru_cache(maxsize=64)
def _stemmer(name: str) -> Any:
    if name == SIMPLE or name not in snowballstemmer.algorithms():
        return None
    return snowballstemmer.stemmer(name)


@lru_cache(maxsize=200_000)
def stem(language: str, word: str) -> str:
    """One lower-cased word's stem in a language (the word itself when there is no stemmer)."""
    word = word.lower()
    stemmer = _stemmer(algorithm(language))
    return stemmer.stemWord(word) if stemmer is not None else word


def stem_text(language: str | None, text: str | None) -> str:
    """Every word of a text replaced by its stem, space-separated: what the SQLite index holds."""
    if not text:
        return ""
    lang = language or ""
    return " ".join(stem(lang, w) for w in _WORD.findall(text))
