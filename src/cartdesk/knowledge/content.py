"""Turning an article's Markdown into what is stored: sanitised HTML, plain text, a slug."""

from __future__ import annotations

import re
import unicodedata

from markdown_it import MarkdownIt

from cartdesk.kit.html import html_to_text, sanitize_html

# CommonMark plus GitHub tables; raw HTML in the Markdown is shown as text, not run,
# and whatever comes out is cleaned again by nh3 (defence in depth).
_MD = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


def render_markdown(body_md: str) -> str:
    return sanitize_html(_MD.render(body_md))


def plain_text(body_html: str) -> str:
    return re.sub(r"[ \t]+", " ", html_to_text(body_html))


def slugify(value: str, *, max_length: int = 80) -> str:
    """"Where is my parcel?" → "where-is-my-parcel" (accents folded, ASCII only)."""
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "article"


def summary_of(body_text: str, *, length: int = 180) -> str:
    """The first sentence or two of the body, for lists and search results."""
    flat = " ".join(body_text.split())
    if len(flat) <= length:
        return flat
    cut = flat.rfind(" ", 0, length)
    return flat[: cut if cut > 0 else length].rstrip(",.;:") + "…"
