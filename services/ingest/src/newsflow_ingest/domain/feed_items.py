"""One feed item, whatever its format, as a submission: safe ids, URLs, dates, text. Pure.

Everything read from a feed is untrusted: values of the wrong type are ignored, unsafe URLs
dropped, and an item that cannot become a valid `ArticleSubmitted` is skipped with a reason.
The HTML is sanitised later, by `accept_submission`, as for every other entry point."""

import hashlib
import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from newsflow_contracts.events import ArticleSubmitted, SubmittedImage
from pydantic import ValidationError

EXTERNAL_ID = re.compile(r"^[\w.:/@+-]+$")
MAX_EXTERNAL_ID = 200
MAX_HEADLINE = 500
MAX_BYLINE = 500
MAX_SUBJECTS = 50
MAX_IMAGES = 50
MAX_URL = 2000
LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_UNSAFE_IN_URL = re.compile(r"[\s\x00-\x1f\x7f<>\"']")


class ItemError(ValueError):
    """The item cannot be mapped; the message is the reason it is skipped."""


@dataclass(frozen=True, slots=True)
class Skipped:
    item: str  # the item's id, link or position, for the operator
    reason: str


@dataclass(frozen=True, slots=True)
class FeedImage:
    url: str
    caption: str | None = None
    credit: str | None = None


@dataclass(slots=True)
class Draft:
    """What a format mapper found in one item, before the submission rules apply."""

    ref: str
    external_id: str | None = None
    headline: str | None = None
    body_html: str | None = None
    byline: str | None = None
    subjects: list[str] = field(default_factory=list)
    language: str | None = None
    canonical_url: str | None = None
    first_created: datetime | None = None
    updated: datetime | None = None
    images: list[FeedImage] = field(default_factory=list)


def text(value: Any) -> str | None:
    """A non-blank string, stripped; anything else (numbers, lists, null) is absent."""
    return (value.strip() or None) if isinstance(value, str) else None


def external_id_for(*candidates: str | None) -> str | None:
    """The first candidate, kept when it fits the submission's id rule, else a stable hash."""
    for candidate in candidates:
        if candidate and candidate.strip():
            value = candidate.strip()
            if len(value) <= MAX_EXTERNAL_ID and EXTERNAL_ID.match(value):
                return value
            return "sha256-" + hashlib.sha256(value.encode()).hexdigest()
    return None


def http_url(value: Any) -> str | None:
    """An absolute http(s) URL, or None (javascript:, data:, relative and odd URLs)."""
    url = text(value)
    if url is None or len(url) > MAX_URL or _UNSAFE_IN_URL.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def language_tag(value: Any) -> str | None:
    tag = text(value)
    if tag is None:
        return None
    tag = tag.replace("_", "-")
    return tag if LANGUAGE.match(tag) else None


def iso_time(value: Any, name: str) -> datetime | None:
    """An ISO 8601 / RFC 3339 time; present but unreadable is an error, not 'now'."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ItemError(f"{name} is not a date")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ItemError(f"{name} is not a date: {value[:40]!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def paragraphs(plain: str) -> str:
    """Plain text as HTML: each line a paragraph, escaped."""
    lines = (line.strip() for line in plain.splitlines())
    return "".join(f"<p>{html.escape(line, quote=False)}</p>" for line in lines if line)


_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.IGNORECASE | re.DOTALL)


def html_fragment(document: str) -> str:
    """The inside of <body> when a whole HTML document was sent (its <title> is not body text)."""
    found = _BODY.search(document)
    return found.group(1) if found else document


def clip(value: str | None, limit: int) -> str | None:
    if value is None or len(value) <= limit:
        return value
    return value[: limit - 1].rstrip() + "…"


def submission_from(draft: Draft) -> ArticleSubmitted | Skipped:
    if draft.external_id is None:
        return Skipped(draft.ref, "no id or link to identify the item")
    if draft.headline is None:
        return Skipped(draft.ref, "no title")
    if draft.body_html is None:
        return Skipped(draft.ref, "no body")
    updated = draft.updated or draft.first_created
    if draft.first_created and updated and draft.first_created > updated:
        return Skipped(draft.ref, "published later than it was updated")
    try:
        return ArticleSubmitted(
            external_id=draft.external_id,
            headline=clip(draft.headline, MAX_HEADLINE),
            body_html=draft.body_html,
            byline=clip(draft.byline, MAX_BYLINE),
            subjects=list(dict.fromkeys(draft.subjects))[:MAX_SUBJECTS],
            language=draft.language,
            canonical_url=draft.canonical_url,
            first_created=draft.first_created,
            updated=updated,
            images=[
                SubmittedImage(url=i.url, caption=i.caption, credit=i.credit)
                for i in draft.images[:MAX_IMAGES]
            ],
        )
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return Skipped(draft.ref, f"{where}: {first['msg']}")
