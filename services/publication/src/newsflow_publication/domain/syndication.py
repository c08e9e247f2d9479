"""RSS 2.0, Atom 1.0 and JSON Feed 1.1 documents of a list of teasers. Pure.

XML is built with ElementTree, which escapes every text and attribute, so no headline or
teaser can break out of its element."""

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from .listings import Teaser

ATOM_NS = "http://www.w3.org/2005/Atom"


@dataclass(frozen=True, slots=True)
class Channel:
    title: str
    description: str
    site_url: str
    feed_url: str


def item_url(channel: Channel, teaser: Teaser) -> str:
    return teaser.url or f"{channel.site_url.rstrip('/')}/articles/{teaser.slug}"


def item_id(teaser: Teaser) -> str:
    return f"urn:newsflow:article:{teaser.article_id}"


def _updated(teasers: list[Teaser]) -> datetime:
    return max((t.published_at for t in teasers), default=datetime(1970, 1, 1, tzinfo=UTC))


def rss(channel: Channel, teasers: list[Teaser]) -> bytes:
    ET.register_namespace("atom", ATOM_NS)
    root = ET.Element("rss", version="2.0")
    ch = ET.SubElement(root, "channel")
    ET.SubElement(ch, "title").text = channel.title
    ET.SubElement(ch, "link").text = channel.site_url
    ET.SubElement(ch, "description").text = channel.description
    ET.SubElement(ch, "lastBuildDate").text = format_datetime(_updated(teasers), usegmt=True)
    ET.SubElement(ch, f"{{{ATOM_NS}}}link", href=channel.feed_url, rel="self", type="application/rss+xml")
    for teaser in teasers:
        item = ET.SubElement(ch, "item")
        ET.SubElement(item, "title").text = teaser.headline
        ET.SubElement(item, "link").text = item_url(channel, teaser)
        ET.SubElement(item, "guid", isPermaLink="false").text = item_id(teaser)
        ET.SubElement(item, "pubDate").text = format_datetime(
            (teaser.first_published_at or teaser.published_at).astimezone(UTC), usegmt=True
        )
        ET.SubElement(item, "description").text = teaser.teaser
        if teaser.section:
            ET.SubElement(item, "category").text = teaser.section
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def atom(channel: Channel, teasers: list[Teaser]) -> bytes:
    ET.register_namespace("", ATOM_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        element.text = text
        return element

    root = ET.Element(f"{{{ATOM_NS}}}feed")
    sub(root, "id", channel.feed_url)
    sub(root, "title", channel.title)
    sub(root, "subtitle", channel.description)
    sub(root, "updated", _updated(teasers).isoformat())
    sub(root, "link", href=channel.feed_url, rel="self")
    sub(root, "link", href=channel.site_url, rel="alternate")
    author = sub(root, "author")
    sub(author, "name", channel.title)
    for teaser in teasers:
        entry = sub(root, "entry")
        sub(entry, "id", item_id(teaser))
        sub(entry, "title", teaser.headline)
        sub(entry, "link", href=item_url(channel, teaser), rel="alternate")
        sub(entry, "published", (teaser.first_published_at or teaser.published_at).isoformat())
        sub(entry, "updated", teaser.published_at.isoformat())
        sub(entry, "summary", teaser.teaser)
        if teaser.section:
            sub(entry, "category", term=teaser.section)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def json_feed(channel: Channel, teasers: list[Teaser]) -> bytes:
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": channel.title,
        "description": channel.description,
        "home_page_url": channel.site_url,
        "feed_url": channel.feed_url,
        "items": [
            {
                "id": item_id(teaser),
                "url": item_url(channel, teaser),
                "title": teaser.headline,
                "summary": teaser.teaser,
                "content_text": teaser.teaser,
                "date_published": (teaser.first_published_at or teaser.published_at).isoformat(),
                "date_modified": teaser.published_at.isoformat(),
                **({"tags": [teaser.section]} if teaser.section else {}),
            }
            for teaser in teasers
        ],
    }
    return json.dumps(document, ensure_ascii=False).encode()


FORMATS = {
    "rss.xml": (rss, "application/rss+xml; charset=utf-8"),
    "atom.xml": (atom, "application/atom+xml; charset=utf-8"),
    "feed.json": (json_feed, "application/feed+json; charset=utf-8"),
}
