"""RSS (0.9x, 1.0, 2.0) and Atom items as drafts, read by feedparser from bytes. Pure."""

import io
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser

from .feed_items import Draft, FeedImage, ItemError, external_id_for, http_url, language_tag, paragraphs, text


class NotXmlFeed(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class XmlFeed:
    format: str  # rss or atom
    entries: list[Any]  # feedparser's entries
    language: str | None  # the channel's, for items that declare none


def parse_xml(content: bytes, *, content_type: str | None, base_url: str | None) -> XmlFeed:
    """Raises NotXmlFeed when no feed can be read at all; a feed broken halfway keeps the
    items before the break (feedparser's lenient parser)."""
    headers = {"content-type": content_type or "application/xml"}
    if base_url:
        headers["content-location"] = base_url  # relative links resolve against the feed
    # A stream, never bytes or str: feedparser opens a str as a URL and bytes as a file path.
    result = feedparser.parse(io.BytesIO(content), response_headers=headers)
    version = str(result.get("version") or "")
    entries = list(result.get("entries") or [])
    if not version and not entries:
        problem = result.get("bozo_exception")
        raise NotXmlFeed(f"not an RSS or Atom feed{f': {problem}' if problem else ''}")
    return XmlFeed(
        format="atom" if version.startswith("atom") else "rss",
        entries=entries,
        language=language_tag(result.get("feed", {}).get("language")),
    )


def draft_from_entry(entry: Any, position: int, feed_language: str | None) -> Draft:
    link = http_url(entry.get("link"))
    guid = text(entry.get("id"))
    draft = Draft(ref=guid or link or f"item {position}")
    draft.external_id = external_id_for(guid, link)
    draft.headline = text(entry.get("title"))
    draft.body_html = _body(entry)
    names = [text(a.get("name")) for a in entry.get("authors", []) if isinstance(a, dict)]
    draft.byline = ", ".join(n for n in names if n) or text(entry.get("author"))
    tags = (text(tag.get("label")) or text(tag.get("term")) for tag in entry.get("tags", []))
    draft.subjects = [tag for tag in tags if tag]
    draft.language = _language(entry) or feed_language
    draft.canonical_url = link
    draft.first_created = _time(entry, "published")
    draft.updated = _time(entry, "updated")
    draft.images = _images(entry)
    return draft


def _body(entry: Any) -> str | None:
    """The fullest content (RSS content:encoded beats description), else the summary."""
    candidates = [c for c in entry.get("content", []) if text(c.get("value"))]
    if not candidates and text(entry.get("summary")):
        candidates = [entry.get("summary_detail") or {"type": "text/html", "value": entry["summary"]}]
    if not candidates:
        return None
    best = max(candidates, key=lambda c: len(c["value"]))
    value: str = best["value"]
    return paragraphs(value) if best.get("type") == "text/plain" else value


def _language(entry: Any) -> str | None:
    for detail in (*entry.get("content", []), entry.get("title_detail") or {}):
        found = language_tag(detail.get("language"))
        if found:
            return found
    return None


def _time(entry: Any, name: str) -> datetime | None:
    # dict.get: feedparser's own get maps a missing `updated` to `published`, with a warning
    parsed = dict.get(entry, f"{name}_parsed")
    if isinstance(parsed, time.struct_time):
        return datetime(*parsed[:6], tzinfo=UTC)  # feedparser converts to UTC
    if raw := dict.get(entry, name):
        raise ItemError(f"{name} is not a date: {str(raw)[:40]!r}")
    return None


def _images(entry: Any) -> list[FeedImage]:
    urls: list[str | None] = [
        link.get("href")
        for link in entry.get("links", [])
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/")
    ]
    urls += [
        media.get("url")
        for media in entry.get("media_content", [])
        if media.get("medium") == "image" or str(media.get("type", "")).startswith("image/")
    ]
    safe = [url for url in (http_url(u) for u in urls) if url]
    return [FeedImage(url=url) for url in dict.fromkeys(safe)]
