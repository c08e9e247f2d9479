"""Wire feeds against the real FerretDB and Kafka, with feeds served over real HTTP by a
local server that honours If-None-Match and counts requests: new items become version 1
events, a 304 produces nothing, a changed item becomes version 2, a failing feed backs off
and a hanging one times out while the others in the same tick succeed. Then the same
through the `newsflow-ingest` process and its `feeds` commands."""

import asyncio
import hashlib
import json
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from newsflow_contracts.topics import ARTICLE_INGESTED
from newsflow_ingest.adapters.feed_fetcher import HttpFeedFetcher
from newsflow_ingest.adapters.feed_sources import MongoFeedStore
from newsflow_ingest.adapters.heads import MongoHeadStore
from newsflow_ingest.app import create_app
from newsflow_ingest.domain.feed_polls import FeedConfig
from newsflow_ingest.domain.feeds import parse_feed
from newsflow_ingest.entrypoints.feeds import FeedPoller
from newsflow_ingest.settings import Settings
from pymongo import AsyncMongoClient, MongoClient

from tests.support.processes import BIN, Services
from tests.support.stack import KAFKA, MONGO, end_offsets, free_port, records_since, unique

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
TIMEOUT_S = 1.5


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml"
    delay_s: float = 0.0


@dataclass
class FeedServer:
    """Feeds over HTTP on 127.0.0.1; the ETag is the body's hash."""

    routes: dict[str, Route] = field(default_factory=dict)
    answers: list[tuple[str, int]] = field(default_factory=list)
    user_agents: set[str] = field(default_factory=set)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def count(self, path: str, status: int | None = None) -> int:
        return sum(1 for p, s in self.answers if p == path and status in (None, s))


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer(port=free_port())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            route = server.routes.get(self.path)
            server.user_agents.add(self.headers.get("User-Agent", ""))
            if route is None:
                return self._answer(404, b"")
            time.sleep(route.delay_s)
            etag = f'"{hashlib.sha256(route.body).hexdigest()[:16]}"'
            if route.status == 200 and self.headers.get("If-None-Match") == etag:
                return self._answer(304, b"", {"ETag": etag})
            self._answer(route.status, route.body, {"ETag": etag, "Content-Type": route.content_type})

        def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            server.answers.append((self.path, status))
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", server.port), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    httpd.shutdown()
    httpd.server_close()


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Wiring:
    feeds: MongoFeedStore
    poller: FeedPoller
    clock: Clock
    source: str


@pytest.fixture
async def wiring() -> AsyncIterator[Wiring]:
    """The real adapters and the app's own Kafka publisher (producer only, no consumers)."""
    database, source = unique("test_feeds"), unique("agency")
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO, tz_aware=True)
    app = create_app(Settings(ingest_db=database, kafka_bootstrap=KAFKA, feeds_enabled=False))
    fetcher = HttpFeedFetcher(timeout_s=TIMEOUT_S, max_bytes=1_000_000)
    clock = Clock()
    feeds = MongoFeedStore(mongo, database)
    poller = FeedPoller(
        feeds=feeds,
        fetcher=fetcher,
        heads=MongoHeadStore(mongo, database),
        publish=app.state.publish_ingested,
        tick_s=1.0,
        backoff_max_s=3600.0,
        concurrency=4,
        clock=clock,
    )
    try:
        async with app.state.broker:
            yield Wiring(feeds, poller, clock, source)
    finally:
        await fetcher.aclose()
        await mongo.drop_database(database)
        await mongo.close()


async def ingested_of(
    source: str, start: Any, expected: int, timeout_s: float = 15.0
) -> list[dict[str, Any]]:
    """The ingested events of `source` after `start`, once `expected` of them arrived."""

    def mine(records: list[Any]) -> list[dict[str, Any]]:
        found = []
        for record in records:
            try:  # other tests write poison records to the same topic
                value = json.loads(record.value or b"null")
            except ValueError:
                continue
            if isinstance(value, dict) and value.get("source") == source:
                found.append(value)
        return found

    records = await records_since(start, until=lambda rs: len(mine(rs)) >= expected, timeout_s=timeout_s)
    return mine(records)


async def test_new_items_then_304_then_a_changed_item(feed_server: FeedServer, wiring: Wiring) -> None:
    rss = (FIXTURES / "rss.xml").read_bytes()
    feed_server.routes["/rss"] = Route(rss)
    await wiring.feeds.save_config(
        FeedConfig("gazette", wiring.source, feed_server.url("/rss"), format="rss", interval_s=60)
    )
    start = await end_offsets(ARTICLE_INGESTED.name)

    (first,) = await wiring.poller.tick()
    assert first.outcome == "ok" and first.items["new"] == 3 and first.items["skipped"] == 4
    stored = await wiring.feeds.get("gazette")
    assert stored is not None and stored.state.etag and stored.state.items_seen == 7
    assert stored.state.next_poll_at is not None
    assert abs((stored.state.next_poll_at - wiring.clock.now).total_seconds() - 60) < 0.01

    wiring.clock.now += timedelta(seconds=60)
    (second,) = await wiring.poller.tick()
    assert second.outcome == "not_modified"
    assert feed_server.count("/rss", 304) == 1

    feed_server.routes["/rss"] = Route(rss.replace(b"Traffic is light.", b"Traffic is heavy."))
    wiring.clock.now += timedelta(seconds=60)
    (third,) = await wiring.poller.tick()
    assert third.items == {"new": 1, "unchanged": 2, "skipped": 4, "rejected": 0}

    events = await ingested_of(wiring.source, start, expected=4)
    await asyncio.sleep(1)  # nothing else may follow
    events = await ingested_of(wiring.source, start, expected=5, timeout_s=1)
    assert sorted((e["external_id"], e["version"]) for e in events) == sorted(
        [
            ("https://gazette.example/news/bridge-reopens", 1),
            (first_budget_id(rss), 1),
            ("gazette-scripted-1", 1),
            ("https://gazette.example/news/bridge-reopens", 2),
        ]
    )
    bridge_v2 = next(e for e in events if e["version"] == 2)
    assert "Traffic is heavy." in bridge_v2["content"]["body_html"]
    assert bridge_v2["content"]["headline"] == "Bridge reopens after repairs"  # markup removed
    scripted = next(e for e in events if e["external_id"] == "gazette-scripted-1")
    assert "script" not in scripted["content"]["body_html"]
    assert feed_server.user_agents == {"newsflow-ingest/0.1.0"}


def first_budget_id(rss: bytes) -> str:
    return next(i.external_id for i in parse_feed(rss).items if i.headline == "Council votes on the budget")


async def test_a_failing_and_a_hanging_feed_block_neither_each_other_nor_a_good_one(
    feed_server: FeedServer, wiring: Wiring
) -> None:
    feed_server.routes["/broken"] = Route(b"oops", status=500)
    feed_server.routes["/hang"] = Route((FIXTURES / "atom.xml").read_bytes(), delay_s=5)
    feed_server.routes["/good"] = Route(
        (FIXTURES / "jsonfeed.json").read_bytes(), content_type="application/feed+json"
    )
    for name in ("broken", "hang", "good"):
        config = FeedConfig(name, wiring.source, feed_server.url(f"/{name}"), interval_s=30)
        await wiring.feeds.save_config(config)
    start = await end_offsets(ARTICLE_INGESTED.name)
    began = time.monotonic()

    tasks = {t.get_name(): t for t in await wiring.poller.start_due()}
    good = await tasks["feed:good"]
    assert good.outcome == "ok" and good.items["new"] == 2
    assert time.monotonic() - began < TIMEOUT_S and not tasks["feed:hang"].done()
    results = {r.feed: r for r in await asyncio.gather(*tasks.values())}
    assert time.monotonic() - began < TIMEOUT_S + 2
    assert results["hang"].outcome == "fetch_failed"
    assert results["hang"].state.last_error == f"no complete answer within {TIMEOUT_S:g} s"
    assert results["broken"].state.last_error == "HTTP 500 Internal Server Error"

    broken = await wiring.feeds.get("broken")
    assert broken is not None and broken.state.consecutive_failures == 1
    assert broken.state.next_poll_at is not None
    first_wait = broken.state.next_poll_at - wiring.clock.now
    assert abs(first_wait.total_seconds() - 60) < 0.01  # 30 s x 2

    wiring.clock.now = broken.state.next_poll_at
    feed_server.routes["/hang"].delay_s = 0
    later = {r.feed: r for r in await wiring.poller.tick()}
    assert later["broken"].state.consecutive_failures == 2
    assert later["broken"].state.next_poll_at is not None
    assert abs((later["broken"].state.next_poll_at - wiring.clock.now).total_seconds() - 120) < 0.01
    assert later["hang"].outcome == "ok" and later["hang"].state.consecutive_failures == 0
    assert later["good"].outcome == "not_modified"

    events = await ingested_of(wiring.source, start, expected=4)
    assert sorted(e["external_id"] for e in events) == sorted(
        [i.external_id for name in ("jsonfeed.json", "atom.xml") for i in parsed_items(name)]
    )


def parsed_items(name: str) -> list[Any]:
    return parse_feed((FIXTURES / name).read_bytes()).items


@pytest.fixture
def ingest_process() -> Iterator[Services]:
    services = Services.isolated()
    services.env["NEWSFLOW_FEEDS_TICK_S"] = "0.2"
    yield services
    services.stop_all()
    with MongoClient(MONGO) as mongo:
        mongo.drop_database(services.env["NEWSFLOW_INGEST_DB"])


def create_key(services: Services, source: str, *scopes: str) -> str:
    scope_args = [arg for scope in scopes for arg in ("--scope", scope)]
    out = cli(services, "keys", "create", "--source", source, *scope_args).stdout
    return next(line.split()[1] for line in out.splitlines() if line.startswith("key:"))


def cli(services: Services, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "newsflow-ingest"), *args], env=services.env, capture_output=True, text=True, timeout=120
    )


async def test_the_service_polls_configured_feeds_and_reports_them(
    feed_server: FeedServer, ingest_process: Services
) -> None:
    source = unique("agency")
    feed_server.routes["/ninjs"] = Route(
        (FIXTURES / "tt_text_image_3.json").read_bytes(), content_type="application/json"
    )
    url = feed_server.url("/ninjs")
    added = cli(
        ingest_process, "feeds", "add", "--name", "tt", "--source", source, "--url", url, "--interval", "1"
    )
    assert added.returncode == 0, added.stderr
    refused = cli(ingest_process, "feeds", "add", "--name", "Bad Name", "--source", "s", "--url", url)
    assert refused.returncode == 2 and "name" in refused.stderr
    start = await end_offsets(ARTICLE_INGESTED.name)
    polled = cli(ingest_process, "feeds", "poll", "tt")
    assert polled.returncode == 0, polled.stderr
    assert polled.stdout.startswith("tt: ok (new 1, unchanged 0, skipped 0, rejected 0)")
    assert "tt " in cli(ingest_process, "feeds", "list").stdout

    key = ingest_process.create_key("ops")  # publish and retract only
    operator_key = create_key(ingest_process, "ops", "feeds")
    ingest_process.start("ingest")
    async with httpx.AsyncClient(base_url=ingest_process.url("ingest")) as client:
        assert (await client.get("/v1/feeds", headers={"Authorization": f"Bearer {key}"})).status_code == 403
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            answer = await client.get("/v1/feeds", headers={"Authorization": f"Bearer {operator_key}"})
            (tt,) = answer.json()["feeds"]
            if tt["last_outcome"] == "not_modified":
                break
            await asyncio.sleep(0.2)
        assert tt["status"] == "ok" and tt["last_outcome"] == "not_modified", tt  # the service's own poll
        metrics = (await client.get("/metrics")).text
        assert 'newsflow_feed_polls_total{feed="tt",outcome="not_modified"}' in metrics
    (event,) = await ingested_of(source, start, expected=2, timeout_s=3)  # the CLI's; the service's was a 304
    assert event["external_id"] == "http://tt.se/media/text/210526-militarovning-a0f2d045"

    assert cli(ingest_process, "feeds", "remove", "tt").returncode == 0
    assert cli(ingest_process, "feeds", "remove", "tt").returncode == 1
