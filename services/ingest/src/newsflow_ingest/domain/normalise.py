"""Normalisation of what a newsroom sends: sanitised HTML, NFC text, UTC times."""

import html
import re
import unicodedata
from datetime import UTC, datetime

import nh3

ALLOWED_TAGS = {
    "p",
    "br",
    "h2",
    "h3",
    "h4",
    "strong",
    "em",
    "b",
    "i",
    "u",
    "s",
    "sub",
    "sup",
    "blockquote",
    "q",
    "cite",
    "ul",
    "ol",
    "li",
    "a",
    "figure",
    "figcaption",
    "img",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "caption",
    "hr",
    "abbr",
    "code",
    "pre",
    "span",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}

_WHITESPACE = re.compile(r"\s+")
_TAG_OPENING = re.compile(r"<(?=\s*[A-Za-z/!?])")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def sanitise_html(body_html: str) -> str:
    """Keep an allowlist of tags, attributes and URL schemes; drop scripts and handlers."""
    return nh3.clean(
        nfc(body_html),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    ).strip()


def plain_line(text: str) -> str:
    """A single line of plain text: markup removed, entities decoded, spaces folded.

    Decoding can reveal markup that was escaped (`&lt;script&gt;`), so it repeats until
    nothing changes; a `<` that would still open a tag is dropped, so that a site that
    forgets to escape a headline renders no tag from it."""
    current = nfc(text)
    for _ in range(4):
        decoded = html.unescape(nh3.clean(current, tags=set()))
        if decoded == current:
            break
        current = decoded
    return _WHITESPACE.sub(" ", _TAG_OPENING.sub("", current)).strip()


def utc(moment: datetime | None, *, default: datetime) -> datetime:
    if moment is None:
        return default
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
