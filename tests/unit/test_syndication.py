"""The feeds parse cleanly with feedparser (bozo == 0) and escape whatever a headline holds."""

import json
from datetime import UTC, datetime, timedelta

import feedparser
import pytest
from newsflow_publication.domain.listings import Teaser
from newsflow_publication.domain.syndication import FORMATS, Channel

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
CHANNEL = Channel(
    title="Herald",
    description="News",
    site_url="https://herald.example",
    feed_url="https://herald.example/feed",
)
TEASERS = [
    Teaser(
        article_id=f"a{n}",
        slug=f"story-{n}",
        headline=f'Story {n} <script>alert(1)</script> & "quotes" ]]>',
        teaser="Opening words … with ünïcode",
        section="news",
        published_at=T0 + timedelta(minutes=n),
        version=1,
    )
    for n in range(3)
]


XML_FEEDS = ["atom.xml", "rss.xml"]


@pytest.mark.parametrize("name", XML_FEEDS)
def test_each_xml_feed_parses_without_errors_and_keeps_every_item(name: str) -> None:
    render, _ = FORMATS[name]
    parsed = feedparser.parse(render(CHANNEL, TEASERS))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert [e.title for e in parsed.entries] == [t.headline for t in TEASERS]
    assert [e.id for e in parsed.entries] == [f"urn:newsflow:article:a{n}" for n in range(3)]
    assert parsed.entries[0].link == "https://herald.example/articles/story-0"


@pytest.mark.parametrize("name", XML_FEEDS)
def test_an_empty_xml_feed_is_still_valid(name: str) -> None:
    render, _ = FORMATS[name]
    assert feedparser.parse(render(CHANNEL, [])).bozo == 0


def test_the_json_feed_follows_json_feed_1_1() -> None:
    """feedparser 6.0.14, the newest release, does not read JSON Feed: check the spec's rules."""
    render, _ = FORMATS["feed.json"]
    feed = json.loads(render(CHANNEL, TEASERS))
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(feed["title"], str) and feed["feed_url"].startswith("https://")
    assert [item["title"] for item in feed["items"]] == [t.headline for t in TEASERS]
    for item in feed["items"]:
        assert isinstance(item["id"], str) and item["id"]
        assert item.get("content_html") or item.get("content_text")
        assert item["url"].startswith("https://")
        datetime.fromisoformat(item["date_published"])
    assert json.loads(render(CHANNEL, []))["items"] == []
