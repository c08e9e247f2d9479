"""Deduplication in `accept_submission`, with in-memory adapters: the finding is carried in
the ingested event and the 202 answer; the first article and its versions are unaffected."""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from newsflow_contracts.events import ArticleIngested, ArticleSubmitted
from newsflow_ingest.adapters.feed_fetcher import Fetched
from newsflow_ingest.app import create_app
from newsflow_ingest.dedup_service import Deduplicator, DedupPolicy
from newsflow_ingest.domain.articles import article_id_for
from newsflow_ingest.domain.dedup import fingerprint
from newsflow_ingest.domain.feed_polls import Feed, FeedConfig, FeedState
from newsflow_ingest.entrypoints.feeds import FeedPoller
from newsflow_ingest.service import Accepted, accept_submission
from newsflow_ingest.settings import Settings

from tests.support.fakes import (
    FakeFingerprintStore,
    FakeHeadStore,
    FakeIdempotencyStore,
    FakeKeyStore,
    FakeRateLimiter,
    RecordingPublisher,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = {
    a["external_id"]: a for a in map(json.loads, (ROOT / "samples/articles.jsonl").read_text().splitlines())
}
COPIES = {
    c["external_id"]: c
    for c in map(json.loads, (ROOT / "tests/fixtures/dedup/copies.jsonl").read_text().splitlines())
}
EXACT = COPIES["wire-1001"]  # demo-001 under another headline
NEAR = COPIES["wire-2001"]  # demo-002 lightly edited


class Newsroom:
    """Sources submitting through one ingest with deduplication on."""

    def __init__(self) -> None:
        self.heads, self.publish = FakeHeadStore(), RecordingPublisher()
        self.store = FakeFingerprintStore()
        self.dedup = Deduplicator(self.store, DedupPolicy())

    async def submit(self, source: str, article: dict[str, Any], **changes: str) -> Accepted:
        fields = {k: article[k] for k in ("external_id", "headline", "body_html")}
        return await accept_submission(
            ArticleSubmitted(**{**fields, **changes}),
            source=source,
            heads=self.heads,
            publish=self.publish,
            dedup=self.dedup,
        )

    def event(self, accepted: Accepted) -> ArticleIngested:
        (found,) = [
            e
            for e, _ in self.publish.events
            if (e.article_id, e.version) == (accepted.article_id, accepted.version)
        ]
        assert isinstance(found, ArticleIngested)
        return found


@pytest.fixture
def newsroom() -> Newsroom:
    return Newsroom()


async def test_an_exact_copy_from_another_source_carries_the_finding_in_its_event(newsroom: Newsroom) -> None:
    first = await newsroom.submit("herald", SAMPLES["demo-001"])
    copy = await newsroom.submit("wire", EXACT)
    assert first.duplicate is None and newsroom.event(first).duplicate is None
    assert copy.article_id != first.article_id and copy.new_version
    duplicate = newsroom.event(copy).duplicate
    assert duplicate is not None
    assert (duplicate.of_article_id, duplicate.kind, duplicate.similarity) == (first.article_id, "exact", 1.0)
    assert copy.duplicate == duplicate
    assert (
        len(newsroom.publish.events) == 2
    )  # recorded: the event goes out, publication keeps it off the sites


async def test_a_lightly_edited_copy_is_a_near_duplicate(newsroom: Newsroom) -> None:
    first = await newsroom.submit("herald", SAMPLES["demo-002"])
    copy = await newsroom.submit("wire", NEAR)
    duplicate = newsroom.event(copy).duplicate
    assert duplicate is not None and (duplicate.of_article_id, duplicate.kind) == (first.article_id, "near")
    assert DedupPolicy().threshold <= duplicate.similarity < 1


async def test_the_same_source_sending_the_same_body_under_another_id_is_a_duplicate_too(
    newsroom: Newsroom,
) -> None:
    first = await newsroom.submit("herald", SAMPLES["demo-001"])
    again = await newsroom.submit("herald", SAMPLES["demo-001"], external_id="demo-001-resent")
    assert again.duplicate is not None and again.duplicate.of_article_id == first.article_id


async def test_new_versions_of_the_first_article_are_versions_not_duplicates(newsroom: Newsroom) -> None:
    first = await newsroom.submit("herald", SAMPLES["demo-002"])
    await newsroom.submit("wire", NEAR)
    # the newsroom's own correction looks like the wire copy: still just its next version
    corrected = await newsroom.submit("herald", SAMPLES["demo-002"], body_html=NEAR["body_html"])
    assert (corrected.article_id, corrected.version) == (first.article_id, 2)
    assert corrected.duplicate is None and newsroom.event(corrected).duplicate is None
    unchanged = await newsroom.submit("herald", SAMPLES["demo-002"], body_html=NEAR["body_html"])
    assert not unchanged.new_version and unchanged.duplicate is None


async def test_a_duplicate_stays_a_duplicate_of_the_same_article_through_its_versions(
    newsroom: Newsroom,
) -> None:
    first = await newsroom.submit("herald", SAMPLES["demo-001"])
    copy = await newsroom.submit("wire", EXACT)
    resent = await newsroom.submit("wire", EXACT)
    assert not resent.new_version and resent.duplicate == copy.duplicate  # the 202 answer says so again
    edited = await newsroom.submit("wire", EXACT, body_html=EXACT["body_html"] + "<p>Updated at noon.</p>")
    assert edited.version == 2
    assert newsroom.event(edited).duplicate == copy.duplicate
    assert copy.duplicate is not None and copy.duplicate.of_article_id == first.article_id


async def test_a_copy_of_a_duplicate_names_the_first_article(newsroom: Newsroom) -> None:
    first = await newsroom.submit("herald", SAMPLES["demo-002"])
    near = await newsroom.submit("wire", NEAR)
    copy_of_copy = await newsroom.submit("agency", NEAR)
    assert copy_of_copy.duplicate == near.duplicate
    assert near.duplicate is not None and near.duplicate.of_article_id == first.article_id
    assert set(newsroom.store.sigs) == {first.article_id}  # only originals are remembered


async def test_distinct_articles_are_all_originals_and_remembered(newsroom: Newsroom) -> None:
    accepted = [await newsroom.submit("herald", article) for article in SAMPLES.values()]
    assert [a.duplicate for a in accepted] == [None] * len(SAMPLES)
    assert set(newsroom.store.sigs) == {a.article_id for a in accepted}


async def test_short_bodies_are_never_duplicates(newsroom: Newsroom) -> None:
    brief = {"external_id": "brief-1", "headline": "Quay closed", "body_html": "<p>More to follow.</p>"}
    await newsroom.submit("herald", brief)
    other = await newsroom.submit("wire", brief)
    assert other.duplicate is None and newsroom.store.exact == {}


async def test_an_exact_claim_by_an_article_never_stored_is_ignored(newsroom: Newsroom) -> None:
    # a crash between claiming the fingerprint and storing the version leaves a claim behind
    newsroom.dedup = Deduplicator(newsroom.store, DedupPolicy(claim_patience_s=0.05))
    newsroom.store.exact[fingerprint(SAMPLES["demo-001"]["body_html"]).exact] = "never-stored"
    first = await newsroom.submit("herald", SAMPLES["demo-001"])
    assert first.duplicate is None
    copy = await newsroom.submit("wire", EXACT)  # found through its bands instead
    assert copy.duplicate is not None and copy.duplicate.of_article_id == first.article_id


async def test_without_dedup_nothing_is_judged() -> None:
    heads, publish = FakeHeadStore(), RecordingPublisher()
    for source in ("herald", "wire"):
        submission = ArticleSubmitted(**{k: EXACT[k] for k in ("external_id", "headline", "body_html")})
        accepted = await accept_submission(submission, source=source, heads=heads, publish=publish)
        assert accepted.duplicate is None
    assert [e.duplicate for e, _ in publish.events] == [None, None]


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(max_body_bytes=100_000))
    keys = FakeKeyStore()
    keys.add("nfk_herald-key", "herald")
    keys.add("nfk_wire-key", "wire")
    app.state.heads, app.state.keys, app.state.publish_ingested = FakeHeadStore(), keys, RecordingPublisher()
    app.state.idempotency, app.state.rate_limiter = FakeIdempotencyStore(), FakeRateLimiter()
    app.state.dedup = Deduplicator(FakeFingerprintStore())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
        yield client


async def test_the_202_answer_names_the_first_article(api: httpx.AsyncClient) -> None:
    fields = ("external_id", "headline", "body_html")
    first = await api.post(
        "/v1/articles",
        json={k: SAMPLES["demo-001"][k] for k in fields},
        headers={"Authorization": "Bearer nfk_herald-key"},
    )
    copy = await api.post(
        "/v1/articles", json={k: EXACT[k] for k in fields}, headers={"Authorization": "Bearer nfk_wire-key"}
    )
    assert first.status_code == copy.status_code == 202
    assert "duplicate_of" not in first.json()
    assert copy.json()["duplicate_of"] == first.json()["article_id"] == article_id_for("herald", "demo-001")


class OneFeed:
    """A feed store and fetcher serving one JSON Feed document."""

    def __init__(self, items: list[dict[str, str]]) -> None:
        self.feed = Feed(FeedConfig("wire", "wire-agency", "https://wire.example/feed"), FeedState())
        self.document = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": items}).encode()

    async def get(self, name: str) -> Feed | None:
        return self.feed

    async def all(self) -> list[Feed]:
        return [self.feed]

    async def save_state(self, name: str, state: FeedState) -> None:
        self.feed = Feed(self.feed.config, state)

    async def fetch(self, url: str, *, etag: str | None, last_modified: str | None) -> Fetched:
        return Fetched(
            content=self.document, content_type="application/feed+json", etag=None, last_modified=None
        )


async def test_a_wire_feed_item_copying_an_article_is_a_duplicate(newsroom: Newsroom) -> None:
    first = await newsroom.submit("herald", SAMPLES["demo-001"])
    wire = OneFeed([{"id": "w-1", "title": EXACT["headline"], "content_html": EXACT["body_html"]}])
    poller = FeedPoller(
        feeds=wire,
        fetcher=wire,
        heads=newsroom.heads,
        publish=newsroom.publish,
        tick_s=60,
        backoff_max_s=60,
        concurrency=1,
        dedup=newsroom.dedup,
    )
    result = await poller.poll_now("wire")
    assert result is not None and result.items["new"] == 1
    event, _ = newsroom.publish.events[-1]
    assert isinstance(event, ArticleIngested) and event.source == "wire-agency"
    assert event.duplicate is not None and event.duplicate.of_article_id == first.article_id
