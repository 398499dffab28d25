"""Fold quoted history and signatures away from a customer's reply.

mail-parser-reply finds the reply headers that start quoted history ("On … wrote:",
Outlook's "From:/Sent:" blocks, "-----Original Message-----", in many languages);
we keep the text above the first one, drop "> " quoted lines, and split off the
signature: a ``-- `` line, "Sent from my …" phone footers, or a short closing block
naming the sender. The full original stays on the message (``meta.original_text``)
so folding never loses a word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# Languages whose reply headers we recognise (the library's codes).
LANGUAGES = ["en", "de", "fr", "it", "nl", "es", "pt", "sv", "da", "no", "fi", "pl", "ru", "ja", "zh", "cs"]
_QUOTED = re.compile(r"^\s*>")
_SIG_START = re.compile(
    r"^(--\s*|__+\s*|sent from (my )?\S+.*|sent from outlook.*|get outlook for .*|"
    r"von meinem \S+ gesendet.*|gesendet von .*|envoyé de mon \S+.*|inviato da(l mio)? \S+.*|enviado desde mi \S+.*|"
    r"verzonden met .*|skickat från min .*|sendt fra min .*|lähetetty .*)$",
    re.IGNORECASE,
)
# A closing that starts a signature block on its own line ("Thanks," stays: it is often the message).
_REGARDS = re.compile(r"^(best |kind |warm |warmest )?regards,?$|^(mit )?freundlichen grüßen,?$|^cordialement,?$",
                      re.IGNORECASE)
_HEADER_LINE = re.compile(r"^[*\s]*[^\W\d_][\w .'-]{0,24}\*?\s?:(?!//)")
_SEPARATOR = re.compile(r"^\s*([=_*-]{3,}|-+\s*[\w ]{3,40}\s*-+)\s*$")
# Written so that no two parts can match the same characters: a long run of ">>>>" must
# not make these backtrack exponentially.
_ADDRESS_COLON = re.compile(r"@\S*(?:\s+[^\s:]+){0,3}\s*:\s*$|@\S+\s+wrote:?\s*$", re.IGNORECASE)
_SHORT_COLON = re.compile(r"^\s*[^\s:]+(?:\s+[^\s:]+){0,3}\s*:\s*$")
_CLOSING = re.compile(
    r"^(thanks|thank you|many thanks|cheers|best|best regards|kind regards|regards|warm regards|sincerely|"
    r"mit freundlichen grüßen|viele grüße|gruß|cordialement|merci|saludos|groeten|mvh|hälsningar)\b.{0,20}$",
    re.IGNORECASE,
)
_MAX_SIGNATURE_LINES = 14
# The library's patterns backtrack badly on huge quotes (a 766 KB fixture took minutes):
# a reply is at the top, so only this much, with lines cut short, is looked at.
_MAX_SCAN_CHARS = 20_000
_MAX_LINE_CHARS = 1_000


@dataclass(frozen=True, slots=True)
class Extracted:
    reply: str  # what the customer wrote this time, signature removed
    signature: str  # the signature that was folded away ("" when none)
    folded: bool  # something (quote or signature) was removed

    @property
    def unquoted(self) -> str:
        """The reply with its signature: only quoted history removed."""
        return f"{self.reply}\n\n{self.signature}".strip() if self.signature else self.reply


@lru_cache(maxsize=1)
def _patterns() -> dict[str, object]:
    """The library's three compiled patterns, built once: it would rebuild them for every mail."""
    from mailparser_reply.parser import EmailMessage

    sample = EmailMessage(text="", languages=list(LANGUAGES))
    return {"_header_regex": sample.HEADER_REGEX, "_disclaimers_regex": sample.DISCLAIMERS_REGEX,
            "_signature_regex": sample.SIGNATURE_REGEX}


def _read(text: str):  # type: ignore[no-untyped-def]
    from mailparser_reply.parser import EmailMessage

    return EmailMessage(text=text, languages=list(LANGUAGES), **_patterns()).read()  # type: ignore[arg-type]


def extract(text: str, *, sender_name: str | None = None) -> Extracted:
    """The new part of a reply. Falls back to the whole text when folding would leave nothing.

    Very long bodies are read only up to ``_MAX_SCAN_CHARS`` (the full text is kept on
    the message anyway), so one pathological mail cannot stall the mailbox."""
    source = "\n".join(line.rstrip()[:_MAX_LINE_CHARS] for line in text.replace("\r\n", "\n").split("\n"))
    source = source.strip()[:_MAX_SCAN_CHARS]
    if not source:
        return Extracted(reply="", signature="", folded=False)
    body = _without_quotes(source)
    body, signature = _split_signature(body, sender_name)
    if not body:
        return Extracted(reply=source, signature="", folded=False)
    return Extracted(reply=body, signature=signature, folded=body != source)


def _without_quotes(source: str) -> str:
    # A header wrapped just before its colon (">:" on its own line) would read as a quote.
    source = re.sub(r"\n(>\s*:)", r"\1", source)
    try:
        replies = _read(source).replies
    except Exception:  # a library bug must never lose the message
        replies = []
    block = source
    if replies:
        first = replies[0]
        block = first.content
        if first.headers and block.startswith(first.headers):
            block = block[len(first.headers):]  # bottom-posting: the header came first
    lines = [line for line in block.split("\n") if not _QUOTED.match(line)]
    cut = _own_header(lines)
    if cut is not None and cut > 0:
        lines = lines[:cut]
    elif len(replies) > 1:
        lines = _without_header_start(lines)
    return "\n".join(lines).strip()


def _without_header_start(lines: list[str]) -> list[str]:
    """The library split inside a header block ("À :" after "De :"): drop its first lines."""
    end = len(lines)
    seen_header = False
    while end > 1:
        line = lines[end - 1]
        if ((_HEADER_LINE.match(line) and ("@" in line or re.search(r"\d", line)))
                or re.match(r"^\s*<[^>]*@[^>]*>\s*$", line) or re.match(r"^\s*-+\s*\w[\w ]+-+\s*$", line)):
            seen_header = True
        elif not (not line.strip() or _SEPARATOR.match(line) or _HEADER_LINE.match(line)):
            break
        end -= 1
    return lines[:end] if seen_header else lines


def _own_header(lines: list[str]) -> int | None:
    """Reply headers the library misses: a block of 3+ "Name: value" lines that names an
    address or a date (localised From/Sent/To/Subject), or a "<address> wrote:"-style
    line ending in a colon (Russian, split Android headers)."""
    for i, line in enumerate(lines):
        if i > 0 and _SHORT_COLON.match(line) and "@" in lines[i - 1]:
            return _above_separators(lines, i - 1)  # "Le … <a@b>" / "a écrit :"
        if _ADDRESS_COLON.search(line):
            if i > 0 and lines[i - 1].strip() and re.search(r"\d", lines[i - 1]) and lines[i - 1].rstrip()[-1:] not in ".!?":
                return _above_separators(lines, i - 1)
            return _above_separators(lines, i)
        if _HEADER_LINE.match(line):
            window = [x for x in lines[i:i + 6] if x.strip()]
            headers = [x for x in window if _HEADER_LINE.match(x)]
            if len(headers) >= 3 and any("@" in x or re.search(r"\d", x) for x in headers):
                return _above_separators(lines, i)
    return None


def _above_separators(lines: list[str], i: int) -> int:
    while i > 0 and (not lines[i - 1].strip() or _SEPARATOR.match(lines[i - 1])):
        i -= 1
    return i


def _split_signature(body: str, sender_name: str | None) -> tuple[str, str]:
    lines = body.split("\n")
    for i, line in enumerate(lines):
        if i > 0 and (_SIG_START.match(line.strip()) or (_REGARDS.match(line.strip()) and len(lines) - i <= 8)):
            return "\n".join(lines[:i]).strip(), "\n".join(lines[i:]).strip()
    if sender_name:
        cut = _sender_block(lines, sender_name)
        if cut is not None:
            return "\n".join(lines[:cut]).strip(), "\n".join(lines[cut:]).strip()
    return body, ""


def _sender_block(lines: list[str], sender_name: str) -> int | None:
    """Where a trailing signature naming the sender starts (a closing line above it counts)."""
    names = {n.lower() for n in (sender_name.strip(), sender_name.split()[0]) if n}
    start = max(1, len(lines) - _MAX_SIGNATURE_LINES)
    for i in range(len(lines) - 1, start - 1, -1):
        if lines[i].strip().lower() in names or lines[i].strip().lower().startswith(tuple(n + " " for n in names)):
            if i > 0 and _CLOSING.match(lines[i - 1].strip()):
                return i - 1
            return i
    return None
