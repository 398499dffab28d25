"""Turning what a person typed into a query that can never be a syntax error.

User input is never passed to a query language as is. It is split on
whitespace into terms; each term is matched literally (quotes, brackets, ``AND``
and ``*`` are just characters), all terms must match, and the last term is
treated as a prefix while the person is still typing it (no trailing space, and
at least MIN_PREFIX characters), so results appear as they type.
"""

from __future__ import annotations

from dataclasses import dataclass

# Enough for any real search; caps the work a pasted essay can cause.
MAX_TERMS = 12
MAX_TERM_LENGTH = 64
# A prefix stands for every indexed word that starts with it, and both engines
# merge all of their postings before the first row comes back: "o*" over millions
# of messages is most of the index. Three characters keep that set small.
MIN_PREFIX = 3


@dataclass(frozen=True)
class Terms:
    words: tuple[str, ...]
    prefix: bool  # the last word is still being typed

    @property
    def empty(self) -> bool:
        return not self.words

    @property
    def head(self) -> tuple[str, ...]:
        return self.words[:-1] if self.prefix else self.words

    @property
    def last(self) -> str | None:
        return self.words[-1] if self.prefix else None

    def exact(self) -> Terms:
        return Terms(words=self.words, prefix=False)


def parse(raw: str) -> Terms:
    # A term with no letter or digit matches nothing in any index: drop it rather
    # than send the engine an empty phrase.
    words = tuple(w[:MAX_TERM_LENGTH] for w in raw.split() if any(c.isalnum() for c in w))[:MAX_TERMS]
    typing = bool(raw) and not raw[-1].isspace()
    return Terms(words=words, prefix=bool(words) and typing and len(words[-1]) >= MIN_PREFIX)


def fts5_match(terms: Terms) -> str:
    """An FTS5 MATCH expression: every word a quoted phrase (``"`` doubled), ANDed, last one a prefix."""
    phrases = ['"' + w.replace('"', '""') + '"' for w in terms.words]
    if terms.prefix:
        phrases[-1] += "*"
    return " ".join(phrases)


def tsquery_prefix(terms: Terms) -> str | None:
    """The ``to_tsquery`` text for the word being typed, when it is plain letters and digits.

    Only such a word can be quoted into tsquery syntax with no way to inject an
    operator; anything else (an email, ``foo-bar``) is matched as a whole word.
    """
    last = terms.last
    if last is None or not all(c.isalnum() for c in last):
        return None
    return f"'{last}':*"
