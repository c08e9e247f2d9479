"""Feed documents into submissions: RSS 2.0, Atom, JSON Feed 1.1 and IPTC's ninjs examples,
and the malformed or hostile input a feed can carry (skipped with a reason, never raised)."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from newsflow_contracts.events import ArticleSubmitted
from newsflow_ingest.domain.articles import normalise
from newsflow_ingest.domain.feed_items import external_id_for, http_url
from newsflow_ingest.domain.feed_polls import FeedConfig, retry_delay_s
from newsflow_ingest.domain.feeds import MAX_ITEMS, InvalidFeed, ParsedFeed, parse_feed

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
NOW = datetime(2026, 11, 28, tzinfo=UTC)


def parsed(name: str, **kwargs: str) -> ParsedFeed:
    return parse_feed((FIXTURES / name).read_bytes(), **kwargs)


def by_id(feed: ParsedFeed) -> dict[str, ArticleSubmitted]:
    return {item.external_id: item for item in feed.items}


def reasons(feed: ParsedFeed) -> dict[str, str]:
    return {s.item: s.reason for s in feed.skipped}


def test_rss_items_map_to_submissions() -> None:
    feed = parsed("rss.xml", base_url="https://gazette.example/rss.xml")
    assert feed.format == "rss"
    bridge = by_id(feed)["https://gazette.example/news/bridge-reopens"]
    assert bridge.headline == "Bridge reopens after <b>repairs</b>"  # markup goes in normalise
    assert bridge.body_html.startswith("<p>The harbour bridge reopened")  # content:encoded, not description
    assert bridge.byline == "Ann Reporter"
    assert bridge.subjects == ["Transport", "Local"]
    assert bridge.language == "en-gb"
    assert bridge.canonical_url == "https://gazette.example/news/bridge-reopens"
    assert bridge.first_created == bridge.updated == datetime(2026, 11, 3, 8, tzinfo=UTC)
    assert [i.url for i in bridge.images] == ["https://gazette.example/img/bridge.jpg"]


def test_an_id_outside_the_submission_alphabet_becomes_a_stable_hash() -> None:
    budget = next(i for i in parsed("rss.xml").items if i.headline == "Council votes on the budget")
    assert budget.external_id == external_id_for("budget 2027?id=42")
    assert budget.external_id.startswith("sha256-") and len(budget.external_id) <= 200
    assert parsed("rss.xml").items[1].external_id == budget.external_id  # the same at every poll


def test_relative_links_resolve_against_the_feed_url() -> None:
    budget = parsed("rss.xml", base_url="https://gazette.example/rss.xml").items[1]
    assert budget.canonical_url == "https://gazette.example/news/budget?id=42&ref=rss"


def test_hostile_and_incomplete_rss_items_are_skipped_with_a_reason() -> None:
    feed = parsed("rss.xml")
    scripted = by_id(feed)["gazette-scripted-1"]
    assert scripted.canonical_url is None and scripted.images == []  # javascript: URLs dropped
    content = normalise(scripted, now=NOW)
    assert "script" not in content.body_html and "onclick" not in content.body_html
    assert reasons(feed) == {
        "item 4": "no id or link to identify the item",  # its only link was javascript:
        "https://gazette.example/news/untitled": "no title",
        "gazette-tides-7": "published is not a date: 'the day after tomorrow'",
        "gazette-empty-1": "no body",
    }


def test_atom_entries_map_to_submissions() -> None:
    feed = parsed("atom.xml")
    assert feed.format == "atom"
    bridge, tide = feed.items
    assert bridge.external_id == external_id_for("tag:leport.example,2026:pont")
    assert bridge.body_html == "<p>Le pont du port a rouvert.</p>"
    assert bridge.byline == "Anne, Bruno" and bridge.subjects == ["Transport"]
    assert bridge.language == "fr"
    assert bridge.first_created == datetime(2026, 11, 3, 7, tzinfo=UTC)
    assert bridge.updated == datetime(2026, 11, 3, 10, tzinfo=UTC)
    assert tide.language == "en"  # the entry's own xml:lang
    assert tide.body_html == "<p>High tide at noon.</p><p>Keep away from the quay.</p>"  # text content
    assert reasons(feed) == {"tag:leport.example,2026:odd": "published later than it was updated"}


def test_json_feed_items_map_to_submissions() -> None:
    feed = parsed("jsonfeed.json", content_type="application/feed+json")
    assert feed.format == "jsonfeed"
    dam = by_id(feed)["vt-2026-0001"]
    assert dam.headline == "Dam inspection passes"
    assert dam.byline == "Cora Writer, Dan Editor"
    assert dam.subjects == ["Water", "Infrastructure"]
    assert dam.language == "en-GB"
    assert dam.first_created == datetime(2026, 11, 2, 8, tzinfo=UTC)
    assert dam.updated == datetime(2026, 11, 2, 8, 30, tzinfo=UTC)
    assert [(i.url, i.caption) for i in dam.images] == [
        ("https://valley.example/img/dam.jpg", None),
        ("https://valley.example/img/dam-2.jpg", "The spillway"),
    ]
    market = next(i for i in feed.items if i.headline == "Market moves to Saturday")
    assert market.body_html == "<p>The weekly market moves to Saturday.</p><p>Stalls open at 8 &lt; 9.</p>"
    assert market.canonical_url is None  # javascript:
    assert market.byline == "Valley Times desk"  # the feed's authors
    assert reasons(feed) == {
        "vt-2026-0003": "no title",
        "vt-2026-0004": "date_published is not a date: 'last Tuesday'",
        "item 5": "not a JSON object",
        "vt-2026-0001": "the same id appears earlier in the feed",
    }


def test_json_feed_is_recognised_by_content_without_a_content_type() -> None:
    assert parsed("jsonfeed.json").format == "jsonfeed"


def test_iptc_ninjs_text_item_with_html_and_text_bodies() -> None:
    feed = parsed("ninjsExSimpleText_3.json")
    (item,) = feed.items
    assert item.external_id == "http://ninjs.example.com/newsitems/20130709simp123"
    assert item.headline == "Captain of wrecked cruise ship on trial in Italy"
    assert item.body_html.startswith("<p>GROSSETO, Italy (AP)")  # the html body, not the text one
    assert "<body>" not in item.body_html
    assert item.byline == "Paulo Santalucia and Frances d'Emilio"
    assert item.updated == datetime(2013, 7, 9, 10, 37, tzinfo=UTC)


def test_iptc_ninjs_item_with_a_picture_association() -> None:
    (item,) = parsed("tt_text_image_3.json").items
    assert item.external_id == "http://tt.se/media/text/210526-militarovning-a0f2d045"
    assert item.headline == "Militärövning i jätteformat hålls 2023"
    assert item.language == "sv"
    assert "<title>" not in item.body_html and "Pandemin satte stopp" in item.body_html
    assert item.subjects and all(s.strip() for s in item.subjects)
    (picture,) = item.images
    assert picture.url.endswith("a001_NormalPreview.jpg")  # the widest rendition up to 2048 px
    assert picture.credit == "Karl Melander/TT"
    assert picture.caption and picture.caption.startswith("En stor internationell")
    assert item.updated == datetime(2021, 5, 26, 11, 40, 18, tzinfo=UTC)


def test_iptc_ninjs_item_without_a_body_is_skipped() -> None:
    feed = parsed("ntb_text.json")
    assert feed.items == []
    assert reasons(feed) == {"urn:8d19cf88-b3ab-4972-8fec-1207599f2872": "no body"}


def test_ninjs_lists_and_wrapped_lists_non_articles_and_withdrawn_items() -> None:
    text = json.loads((FIXTURES / "ninjsExSimpleText_3.json").read_text())
    picture = {"uri": "urn:pic:1", "type": "picture", "headlines": [{"value": "A picture"}]}
    killed = {**text, "uri": "urn:killed:1", "pubStatus": "canceled"}
    for document in ([text, picture, killed], {"items": [text, picture, killed]}):
        feed = parse_feed(json.dumps(document).encode())
        assert feed.format == "ninjs"
        assert [i.external_id for i in feed.items] == [text["uri"]]
        assert reasons(feed) == {
            "urn:pic:1": "a ninjs picture item is not an article",
            "urn:killed:1": "pubStatus is canceled",
        }


def test_ninjs_2_lower_case_names() -> None:
    item = {
        "guid": "urn:agency:2-1",
        "headline": "Old style",
        "body_text": "First.\nSecond.",
        "versioncreated": "2020-01-02T03:04:05Z",
        "firstcreated": "2020-01-01T00:00:00Z",
        "associations": {
            "main": {
                "type": "picture",
                "renditions": {"web": {"href": "https://agency.example/p.jpg", "width": 800}},
            }
        },
    }
    (submission,) = parse_feed(json.dumps(item).encode(), declared="ninjs").items
    assert submission.body_html == "<p>First.</p><p>Second.</p>"
    assert submission.first_created == datetime(2020, 1, 1, tzinfo=UTC)
    assert [i.url for i in submission.images] == ["https://agency.example/p.jpg"]


def test_a_feed_cut_off_halfway_keeps_the_items_before_the_break() -> None:
    feed = parsed("broken.xml")
    assert [i.external_id for i in feed.items] == ["half-1"]
    assert [s.reason for s in feed.skipped] == ["no id or link to identify the item"]


@pytest.mark.parametrize(
    "document",
    [
        b"",
        b"\x00\x01\x02 not a feed",
        b"<html><body><p>a web page</p></body></html>",
        b"{not json",
        b"[" * 100_000,  # nesting deep enough to exhaust the recursion limit
        b'{"title": "neither a JSON Feed nor ninjs"}',
        b"42",
    ],
)
def test_a_document_that_is_not_a_feed_is_invalid(document: bytes) -> None:
    with pytest.raises(InvalidFeed):
        parse_feed(document)


def test_a_declared_json_feed_must_be_one() -> None:
    with pytest.raises(InvalidFeed, match="not a JSON Feed"):
        parse_feed(b'{"version": "1", "items": []}', declared="jsonfeed")


def test_a_body_naming_a_local_file_is_not_read_as_that_file() -> None:
    """feedparser opens bytes as a path when it can: the parser must only ever see a stream."""
    path = str(FIXTURES / "rss.xml").encode()
    with pytest.raises(InvalidFeed):
        parse_feed(path, content_type="application/rss+xml")


def test_limits_of_untrusted_values() -> None:
    long_title = "T" * 600
    item = {"id": "x" * 300, "title": long_title, "content_text": "Body", "tags": ["a"] * 80}
    document = {"version": "https://jsonfeed.org/version/1.1", "items": [item]}
    (submission,) = parse_feed(json.dumps(document).encode()).items
    assert len(submission.headline) == 500 and submission.headline.endswith("…")
    assert submission.external_id.startswith("sha256-")  # over 200 characters
    assert submission.subjects == ["a"]


def test_only_the_first_items_of_a_huge_document_are_read() -> None:
    items = [{"id": f"i{n}", "title": "T", "content_text": "B"} for n in range(MAX_ITEMS + 5)]
    document = {"version": "https://jsonfeed.org/version/1.1", "items": items}
    feed = parse_feed(json.dumps(document).encode())
    assert len(feed.items) == MAX_ITEMS
    assert feed.skipped[-1].reason == f"5 items beyond the limit of {MAX_ITEMS}"


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://example.org/a", True),
        ("HTTP://example.org/a", True),
        ("javascript:alert(1)", False),
        ("data:text/html;base64,PHNjcmlwdD4=", False),
        ("//example.org/a", False),
        ("https://exa mple.org/", False),
        ("https:///nohost", False),
        (42, False),
    ],
)
def test_only_absolute_http_urls_are_kept(url: object, kept: bool) -> None:
    assert (http_url(url) is not None) is kept


def test_backoff_doubles_per_failure_up_to_the_cap() -> None:
    assert [retry_delay_s(60, n, 3600) for n in range(1, 8)] == [120, 240, 480, 960, 1920, 3600, 3600]
    assert retry_delay_s(7200, 3, 3600) == 7200  # never shorter than the interval itself
    assert retry_delay_s(60, 10_000, 3600) == 3600


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Has Spaces"},
        {"source": " "},
        {"url": "file:///etc/passwd"},
        {"url": "https://"},
        {"format": "csv"},
        {"interval_s": 0.0},
    ],
)
def test_feed_configuration_is_validated(change: dict[str, object]) -> None:
    config = {"name": "wire-a", "source": "agency", "url": "https://agency.example/feed"} | change
    with pytest.raises(ValueError):
        FeedConfig(**config)  # type: ignore[arg-type]


def test_times_are_taken_as_utc_and_kept_in_order() -> None:
    item = {"id": "t1", "title": "T", "content_text": "B", "date_published": "2026-11-01T10:00:00"}
    document = {"version": "https://jsonfeed.org/version/1.1", "items": [item]}
    (submission,) = parse_feed(json.dumps(document).encode()).items
    assert submission.first_created == submission.updated == datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert normalise(submission, now=NOW + timedelta(days=1)).updated == submission.updated
