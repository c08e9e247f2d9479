"""JSON Feed 1.1 (and 1.0) items as drafts (https://www.jsonfeed.org/version/1.1/). Pure."""

from typing import Any

from .feed_items import (
    Draft,
    FeedImage,
    ItemError,
    external_id_for,
    http_url,
    iso_time,
    language_tag,
    paragraphs,
    text,
)

VERSION_PREFIX = "https://jsonfeed.org/version/"


def is_jsonfeed(document: Any) -> bool:
    return isinstance(document, dict) and str(document.get("version", "")).startswith(VERSION_PREFIX)


def draft_from_jsonfeed_item(item: Any, position: int, feed: dict[str, Any]) -> Draft:
    if not isinstance(item, dict):
        raise ItemError("not a JSON object")
    item_id = item.get("id")
    item_id = str(item_id) if isinstance(item_id, int | float) else text(item_id)  # 1.0 allowed numbers
    link = http_url(item.get("url"))
    draft = Draft(ref=item_id or link or f"item {position}")
    draft.external_id = external_id_for(item_id, link)
    draft.headline = text(item.get("title"))
    if html := text(item.get("content_html")):
        draft.body_html = html
    elif plain := text(item.get("content_text")) or text(item.get("summary")):
        draft.body_html = paragraphs(plain)
    draft.byline = _byline(item) or _byline(feed)
    tags = item.get("tags")
    draft.subjects = [t for t in (text(tag) for tag in tags) if t] if isinstance(tags, list) else []
    draft.language = language_tag(item.get("language")) or language_tag(feed.get("language"))
    draft.canonical_url = link
    draft.first_created = iso_time(item.get("date_published"), "date_published")
    draft.updated = iso_time(item.get("date_modified"), "date_modified")
    draft.images = _images(item)
    return draft


def _byline(holder: dict[str, Any]) -> str | None:
    authors = holder.get("authors")
    if not isinstance(authors, list):
        single = holder.get("author")  # JSON Feed 1.0
        authors = [single] if isinstance(single, dict) else []
    names = [text(a.get("name")) for a in authors if isinstance(a, dict)]
    return ", ".join(n for n in names if n) or None


def _images(item: dict[str, Any]) -> list[FeedImage]:
    images = [FeedImage(url=url) for url in [http_url(item.get("image"))] if url]
    attachments = item.get("attachments")
    for attachment in attachments if isinstance(attachments, list) else []:
        if isinstance(attachment, dict) and str(attachment.get("mime_type", "")).startswith("image/"):
            url = http_url(attachment.get("url"))
            if url and url not in {i.url for i in images}:
                images.append(FeedImage(url=url, caption=text(attachment.get("title"))))
    return images
