"""Wire feeds: how a fetched document (RSS, Atom, JSON Feed 1.1 or IPTC ninjs) becomes
submissions. Pure.

A document that is not a feed at all is an `InvalidFeed` (the poll fails); an item that
cannot become a submission is `Skipped` with its reason, and the other items go on."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from newsflow_contracts.events import ArticleSubmitted

from .feed_items import Draft, ItemError, Skipped, submission_from, text
from .feeds_jsonfeed import draft_from_jsonfeed_item, is_jsonfeed
from .feeds_ninjs import NotNinjs, draft_from_ninjs_item, ninjs_items
from .feeds_xml import NotXmlFeed, draft_from_entry, parse_xml

FeedFormat = Literal["rss", "atom", "jsonfeed", "ninjs"]
MAX_ITEMS = 500


class InvalidFeed(ValueError):
    """The document is not a feed (of the declared format)."""


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    format: FeedFormat
    items: list[ArticleSubmitted]
    skipped: list[Skipped]

    @property
    def seen(self) -> int:
        return len(self.items) + len(self.skipped)


def parse_feed(
    content: bytes, *, content_type: str | None = None, declared: str = "auto", base_url: str | None = None
) -> ParsedFeed:
    if declared in ("jsonfeed", "ninjs") or (declared == "auto" and _looks_like_json(content, content_type)):
        return _parse_json(content, declared)
    try:
        xml = parse_xml(content, content_type=content_type, base_url=base_url)
    except NotXmlFeed as error:
        raise InvalidFeed(str(error)) from error
    format: FeedFormat = "atom" if xml.format == "atom" else "rss"
    return _collect(format, xml.entries, lambda entry, n: draft_from_entry(entry, n, xml.language))


def _looks_like_json(content: bytes, content_type: str | None) -> bool:
    if content_type and "json" in content_type.lower():
        return True
    return content.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[")


def _parse_json(content: bytes, declared: str) -> ParsedFeed:
    try:
        document = json.loads(content)
    except (ValueError, RecursionError) as error:  # RecursionError: absurdly deep nesting
        raise InvalidFeed(f"not JSON: {error}") from None
    if declared == "jsonfeed" or (declared == "auto" and is_jsonfeed(document)):
        items = document.get("items") if isinstance(document, dict) else None
        if not is_jsonfeed(document) or not isinstance(items, list):
            raise InvalidFeed("not a JSON Feed: needs a jsonfeed.org version and an items list")
        return _collect("jsonfeed", items, lambda item, n: draft_from_jsonfeed_item(item, n, document))
    try:
        return _collect("ninjs", ninjs_items(document), draft_from_ninjs_item)
    except NotNinjs as error:
        raise InvalidFeed(str(error)) from error


def _collect(format: FeedFormat, entries: list[Any], to_draft: Callable[[Any, int], Draft]) -> ParsedFeed:
    items: list[ArticleSubmitted] = []
    skipped: list[Skipped] = []
    ids: set[str] = set()
    for position, entry in enumerate(entries[:MAX_ITEMS], start=1):
        try:
            mapped = submission_from(to_draft(entry, position))
        except ItemError as error:
            mapped = Skipped(_ref(entry, position), str(error))
        except (TypeError, ValueError, AttributeError, KeyError) as error:  # odd shapes of untrusted data
            mapped = Skipped(_ref(entry, position), f"malformed item: {type(error).__name__}: {error}")
        if isinstance(mapped, Skipped):
            skipped.append(mapped)
        elif mapped.external_id in ids:  # two versions in one document would flip at every poll
            skipped.append(Skipped(mapped.external_id, "the same id appears earlier in the feed"))
        else:
            ids.add(mapped.external_id)
            items.append(mapped)
    if len(entries) > MAX_ITEMS:
        beyond = len(entries) - MAX_ITEMS
        skipped.append(Skipped(f"items after {MAX_ITEMS}", f"{beyond} items beyond the limit of {MAX_ITEMS}"))
    return ParsedFeed(format=format, items=items, skipped=skipped)


def _ref(entry: Any, position: int) -> str:
    if isinstance(entry, dict):
        for key in ("id", "uri", "guid", "url", "link"):
            found = text(entry.get(key))
            if found:
                return found[:200]
    return f"item {position}"
