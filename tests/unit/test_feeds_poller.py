"""The feed poller with in-memory adapters: versions, conditional GET, backoff, outages,
isolation of slow feeds, metrics, and the operator's GET /v1/feeds."""

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka.errors import KafkaConnectionError
from newsflow_ingest.adapters.feed_fetcher import Fetched, FetchFailed, NotModified
from newsflow_ingest.app import create_app
from newsflow_ingest.domain.feed_polls import Feed, FeedConfig, FeedState
from newsflow_ingest.entrypoints.feeds import FeedPoller
from newsflow_ingest.settings import Settings
from prometheus_client import REGISTRY
from pymongo.errors import ServerSelectionTimeoutError

from tests.support.fakes import FakeHeadStore, FakeKeyStore, FakeRateLimiter, RecordingPublisher

T0 = datetime(2026, 11, 28, 12, tzinfo=UTC)
OPERATOR = "nfk_operator_key-for-unit-tests"
PUBLISHER = "nfk_publisher_key-for-unit-tests"


def json_feed(*items: tuple[str, str]) -> bytes:
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "items": [{"id": i, "title": f"Title {i}", "content_html": body} for i, body in items],
    }
    return json.dumps(document).encode()


@dataclass
class FakeFeedStore:
    feeds: dict[str, Feed] = field(default_factory=dict)
    down: bool = False

    def add(self, name: str, interval_s: float = 60.0, enabled: bool = True) -> None:
        config = FeedConfig(
            name, "agency", f"https://{name}.example/feed", interval_s=interval_s, enabled=enabled
        )
        self.feeds[name] = Feed(config, FeedState())

    async def all(self) -> list[Feed]:
        if self.down:
            raise ServerSelectionTimeoutError("mongo down")
        return list(self.feeds.values())

    async def get(self, name: str) -> Feed | None:
        return self.feeds.get(name)

    async def save_state(self, name: str, state: FeedState) -> None:
        if self.down:
            raise ServerSelectionTimeoutError("mongo down")
        self.feeds[name] = Feed(self.feeds[name].config, state)

    def state(self, name: str) -> FeedState:
        return self.feeds[name].state


@dataclass
class FakeFetcher:
    """Serves one document per URL with an ETag, answering 304 when the client has it."""

    documents: dict[str, bytes] = field(default_factory=dict)
    failures: dict[str, Exception] = field(default_factory=dict)
    delays: dict[str, float] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)

    def serve(self, name: str, content: bytes) -> None:
        self.documents[f"https://{name}.example/feed"] = content

    async def fetch(self, url: str, *, etag: str | None, last_modified: str | None) -> Fetched | NotModified:
        self.requests.append((url, etag))
        await asyncio.sleep(self.delays.get(url, 0))
        if url in self.failures:
            raise self.failures[url]
        content = self.documents[url]
        current = f'"{hash(content)}"'
        if etag == current:
            return NotModified(etag=None, last_modified=None)
        return Fetched(
            content=content, content_type="application/feed+json", etag=current, last_modified=None
        )


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Rig:
    store: FakeFeedStore
    fetcher: FakeFetcher
    publisher: RecordingPublisher
    clock: Clock
    poller: FeedPoller


@pytest.fixture
def rig() -> Rig:
    store, fetcher, publisher, clock = FakeFeedStore(), FakeFetcher(), RecordingPublisher(), Clock()
    poller = FeedPoller(
        feeds=store,
        fetcher=fetcher,
        heads=FakeHeadStore(),
        publish=publisher,
        tick_s=5.0,
        backoff_max_s=900.0,
        concurrency=4,
        clock=clock,
    )
    return Rig(store, fetcher, publisher, clock, poller)


def sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_new_items_are_versions_and_a_304_changes_nothing(rig: Rig) -> None:
    rig.store.add("wire-a")
    rig.fetcher.serve("wire-a", json_feed(("a1", "<p>One.</p>"), ("a2", "<p>Two.</p>")))
    (first,) = await rig.poller.tick()
    assert first.outcome == "ok" and first.items == {"new": 2, "unchanged": 0, "skipped": 0, "rejected": 0}
    assert [(e.external_id, e.version, e.source) for e, _ in rig.publisher.events] == [
        ("a1", 1, "agency"),
        ("a2", 1, "agency"),
    ]
    assert await rig.poller.tick() == []  # not due yet
    rig.clock.advance(60)
    (second,) = await rig.poller.tick()
    assert second.outcome == "not_modified"
    assert rig.fetcher.requests[-1][1] == rig.store.state("wire-a").etag  # If-None-Match sent
    assert len(rig.publisher.events) == 2
    assert rig.store.state("wire-a").next_poll_at == T0 + timedelta(seconds=120)


async def test_a_changed_item_is_the_next_version_and_unchanged_ones_are_not_sent_again(rig: Rig) -> None:
    rig.store.add("wire-a")
    rig.fetcher.serve("wire-a", json_feed(("a1", "<p>One.</p>"), ("a2", "<p>Two.</p>")))
    await rig.poller.tick()
    rig.fetcher.serve("wire-a", json_feed(("a1", "<p>One, corrected.</p>"), ("a2", "<p>Two.</p>")))
    rig.clock.advance(60)
    (result,) = await rig.poller.tick()
    assert result.items == {"new": 1, "unchanged": 1, "skipped": 0, "rejected": 0}
    assert [(e.external_id, e.version) for e, _ in rig.publisher.events][-1] == ("a1", 2)


async def test_a_failing_feed_backs_off_exponentially_and_recovers(rig: Rig) -> None:
    rig.store.add("wire-a", interval_s=60)
    url = "https://wire-a.example/feed"
    rig.fetcher.failures[url] = FetchFailed("HTTP 500 Internal Server Error")
    before = sample("newsflow_feed_polls_total", {"feed": "wire-a", "outcome": "fetch_failed"})
    waits = []
    for _ in range(3):
        (result,) = await rig.poller.tick()
        state = rig.store.state("wire-a")
        assert result.outcome == "fetch_failed" and state.last_error == "HTTP 500 Internal Server Error"
        assert state.next_poll_at is not None
        waits.append((state.next_poll_at - rig.clock.now).total_seconds())
        rig.clock.now = state.next_poll_at
    assert waits == [120, 240, 480]
    assert rig.store.state("wire-a").consecutive_failures == 3
    assert sample("newsflow_feed_polls_total", {"feed": "wire-a", "outcome": "fetch_failed"}) == before + 3
    assert sample("newsflow_feed_consecutive_failures", {"feed": "wire-a"}) == 3
    del rig.fetcher.failures[url]
    rig.fetcher.serve("wire-a", json_feed(("a1", "<p>One.</p>")))
    (result,) = await rig.poller.tick()
    assert result.outcome == "ok" and rig.store.state("wire-a").consecutive_failures == 0
    assert sample("newsflow_feed_consecutive_failures", {"feed": "wire-a"}) == 0


async def test_a_document_that_is_no_feed_counts_as_a_failure(rig: Rig) -> None:
    rig.store.add("wire-a")
    rig.fetcher.serve("wire-a", b"<html><body>Maintenance</body></html>")
    (result,) = await rig.poller.tick()
    assert result.outcome == "invalid_feed"
    assert rig.store.state("wire-a").consecutive_failures == 1


async def test_kafka_down_retries_next_tick_without_backoff_or_forgetting_the_document(rig: Rig) -> None:
    rig.store.add("wire-a", interval_s=60)
    rig.fetcher.serve("wire-a", json_feed(("a1", "<p>One.</p>")))
    rig.publisher.fail_times = 1
    (result,) = await rig.poller.tick()
    state = rig.store.state("wire-a")
    assert result.outcome == "unavailable"
    assert state.consecutive_failures == 0 and state.etag is None  # the document is read again
    assert state.next_poll_at == T0 + timedelta(seconds=5)
    rig.clock.advance(5)
    (retried,) = await rig.poller.tick()
    assert retried.outcome == "ok"
    assert [e.version for e, _ in rig.publisher.events] == [1]


async def test_mongo_down_skips_the_tick_and_the_feed_stays_due(rig: Rig) -> None:
    rig.store.add("wire-a")
    rig.fetcher.serve("wire-a", json_feed(("a1", "<p>One.</p>")))
    rig.store.down = True
    assert await rig.poller.tick() == []
    rig.store.down = False
    (result,) = await rig.poller.tick()
    assert result.outcome == "ok"


async def test_an_item_a_newsroom_rule_rejects_is_counted_and_the_others_go_on(rig: Rig) -> None:
    rig.store.add("wire-a")
    rig.fetcher.serve("wire-a", json_feed(("bad", "<script>x()</script>"), ("good", "<p>Fine.</p>")))
    (result,) = await rig.poller.tick()
    assert result.items == {"new": 1, "unchanged": 0, "skipped": 0, "rejected": 1}
    assert result.skipped[0].item == "bad" and result.skipped[0].reason.startswith("body_html")
    assert rig.store.state("wire-a").last_skipped == result.skipped


async def test_a_slow_feed_delays_no_other_and_is_not_started_twice(rig: Rig) -> None:
    rig.store.add("slow")
    rig.store.add("fast")
    rig.fetcher.serve("slow", json_feed(("s1", "<p>Slow.</p>")))
    rig.fetcher.serve("fast", json_feed(("f1", "<p>Fast.</p>")))
    rig.fetcher.delays["https://slow.example/feed"] = 3600
    started = await rig.poller.start_due()
    assert len(started) == 2
    fast = next(t for t in started if t.get_name() == "feed:fast")
    assert (await asyncio.wait_for(fast, 5)).outcome == "ok"
    assert rig.store.state("fast").last_outcome == "ok" and rig.store.state("slow").last_outcome is None
    assert await rig.poller.start_due() == []  # slow is still running; fast is not due
    for task in started:
        task.cancel()
    await asyncio.gather(*started, return_exceptions=True)


async def test_disabled_feeds_wait_for_an_explicit_poll(rig: Rig) -> None:
    rig.store.add("wire-a", enabled=False)
    rig.fetcher.serve("wire-a", json_feed(("a1", "<p>One.</p>")))
    assert await rig.poller.tick() == []
    result = await rig.poller.poll_now("wire-a")
    assert result is not None and result.outcome == "ok"
    assert await rig.poller.poll_now("nope") is None


async def test_a_bug_in_one_feed_is_recorded_and_backs_off(rig: Rig) -> None:
    rig.store.add("wire-a")
    rig.fetcher.failures["https://wire-a.example/feed"] = RuntimeError("surprise")
    (result,) = await rig.poller.tick()
    assert result.outcome == "error" and "surprise" in (result.state.last_error or "")
    assert result.state.consecutive_failures == 1


async def test_kafka_errors_are_our_side(rig: Rig) -> None:
    rig.store.add("wire-a")
    rig.fetcher.failures["https://wire-a.example/feed"] = KafkaConnectionError("broker gone")
    (result,) = await rig.poller.tick()
    assert result.outcome == "unavailable" and result.state.consecutive_failures == 0


@pytest.fixture
async def api() -> Any:
    app = create_app(Settings())
    keys = FakeKeyStore()
    keys.add(OPERATOR, "ops", scopes=("feeds",))
    keys.add(PUBLISHER, "cms")
    store = FakeFeedStore()
    store.add("wire-a")
    store.feeds["wire-b"] = Feed(
        FeedConfig("wire-b", "agency", "https://wire-b.example/feed"),
        FeedState(
            consecutive_failures=2, last_outcome="fetch_failed", last_error="HTTP 500", next_poll_at=T0
        ),
    )
    app.state.keys, app.state.feeds, app.state.rate_limiter = keys, store, FakeRateLimiter()
    transport = httpx.ASGITransport(app=app)  # no lifespan: no servers in the unit tier
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        yield client


async def test_feed_status_needs_the_feeds_scope(api: httpx.AsyncClient) -> None:
    assert (await api.get("/v1/feeds")).status_code == 401
    forbidden = await api.get("/v1/feeds", headers={"Authorization": f"Bearer {PUBLISHER}"})
    assert forbidden.status_code == 403 and "feeds" in forbidden.json()["title"]
    response = await api.get("/v1/feeds", headers={"Authorization": f"Bearer {OPERATOR}"})
    assert response.status_code == 200
    feeds = {f["name"]: f for f in response.json()["feeds"]}
    assert feeds["wire-a"]["status"] == "pending"
    assert feeds["wire-b"]["status"] == "failing"
    assert feeds["wire-b"]["consecutive_failures"] == 2 and feeds["wire-b"]["last_error"] == "HTTP 500"


async def test_metrics_are_exposed_for_prometheus(api: httpx.AsyncClient, rig: Rig) -> None:
    rig.store.add("metrics-feed")
    rig.fetcher.serve("metrics-feed", json_feed(("m1", "<p>M.</p>")))
    await rig.poller.tick()
    response = await api.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    assert 'newsflow_feed_polls_total{feed="metrics-feed",outcome="ok"} 1.0' in response.text
    assert 'newsflow_feed_items_total{feed="metrics-feed",outcome="new"} 1.0' in response.text
    assert 'newsflow_feed_consecutive_failures{feed="metrics-feed"} 0.0' in response.text
