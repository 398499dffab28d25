"""Turning untrusted text and HTML into something safe to show an agent."""

from __future__ import annotations

import html
import re

import nh3

_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "hr", "i",
    "img", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table", "tbody", "td",
    "th", "thead", "tr", "u", "ul",
}
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
_URL = re.compile(r"(https?://[^\s<>\"']+)")


def sanitize_html(raw: str) -> str:
    """Keep formatting, drop scripts, styles, event handlers and unknown schemes (nh3/ammonia)."""
    return nh3.clean(
        raw,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "cid"},
        link_rel="noopener noreferrer nofollow",
    )


def text_to_html(text: str) -> str:
    """Plain text as HTML paragraphs, with links made clickable."""
    paragraphs = re.split(r"\n{2,}", text.strip())
    out = []
    for para in paragraphs:
        escaped = html.escape(para)
        escaped = _URL.sub(r'<a href="\1" rel="noopener noreferrer nofollow">\1</a>', escaped)
        out.append("<p>" + escaped.replace("\n", "<br>") + "</p>")
    return "".join(out)


def html_to_text(raw: str) -> str:
    """A readable plain-text rendering of HTML (for previews and search)."""
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</li>|</h\d>", "\n", raw)
    text = nh3.clean(text, tags=set())
    text = html.unescape(text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
