"""The feed poller: every tick, poll the feeds that are due and submit their items through
`accept_submission`, exactly as the HTTP API does.

Each feed is polled on its own: its own task, its own time limit, its own errors. A slow or
failing feed delays no other, and a feed still being polled is not started again. The
number of feeds polled at once is bounded."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from aiokafka.errors import KafkaError
from prometheus_client import Counter, Gauge
from pymongo.errors import PyMongoError

from ..adapters.feed_fetcher import Fetched, FetchFailed, HttpFeedFetcher, NotModified
from ..adapters.feed_sources import FeedStore
from ..adapters.heads import HeadStore
from ..dedup_service import Deduplicator
from ..domain.articles import InvalidArticle, Withdrawn
from ..domain.feed_items import Skipped
from ..domain.feed_polls import Feed, FeedState, PollOutcome, failed, interrupted, not_modified, read
from ..domain.feeds import InvalidFeed, ParsedFeed, parse_feed
from ..service import ConcurrentUpdate, PublishIngested, accept_submission
from ..settings import Settings

log = logging.getLogger("newsflow.ingest.feeds")

POLLS = Counter("newsflow_feed_polls", "Feed polls, by outcome.", ["feed", "outcome"])
ITEMS = Counter(
    "newsflow_feed_items",
    "Feed items read: new (a new version), unchanged, skipped, rejected.",
    ["feed", "outcome"],
)
FAILURES = Gauge("newsflow_feed_consecutive_failures", "Failed polls of the feed in a row.", ["feed"])

# Our side, not the feed's: retried at the next tick, without backoff.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    PyMongoError,
    KafkaError,
    OSError,
    TimeoutError,
    ConcurrentUpdate,
)


class Fetcher(Protocol):
    async def fetch(
        self, url: str, *, etag: str | None, last_modified: str | None
    ) -> Fetched | NotModified: ...


@dataclass(frozen=True, slots=True)
class PollResult:
    feed: str
    outcome: PollOutcome
    state: FeedState
    items: dict[str, int] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)


class FeedPoller:
    def __init__(
        self,
        *,
        feeds: FeedStore,
        fetcher: Fetcher,
        heads: HeadStore,
        publish: PublishIngested,
        tick_s: float,
        backoff_max_s: float,
        concurrency: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        dedup: Deduplicator | None = None,
    ) -> None:
        self.feeds = feeds
        self.fetcher = fetcher
        self.heads = heads
        self.publish = publish
        self.tick_s = tick_s
        self.backoff_max_s = backoff_max_s
        self.clock = clock
        self.dedup = dedup
        self._slots = asyncio.Semaphore(concurrency)
        self._polling: dict[str, asyncio.Task[PollResult]] = {}

    async def run(self) -> None:
        """Until cancelled."""
        try:
            while True:
                await self.start_due()
                await asyncio.sleep(self.tick_s)
        finally:
            for task in self._polling.values():
                task.cancel()

    async def tick(self) -> list[PollResult]:
        """Start the due feeds and wait for them (tests, and `newsflow-ingest feeds poll`)."""
        return list(await asyncio.gather(*await self.start_due()))

    async def start_due(self) -> list[asyncio.Task[PollResult]]:
        try:
            feeds = await self.feeds.all()
        except PyMongoError as error:
            log.warning("cannot read the configured feeds, retrying next tick: %s", error)
            return []
        now = self.clock()
        started = []
        for feed in feeds:
            FAILURES.labels(feed.config.name).set(feed.state.consecutive_failures)
            if feed.due(now) and feed.config.name not in self._polling:
                started.append(self._start(feed))
        return started

    async def poll_now(self, name: str) -> PollResult | None:
        """Poll one feed now, due or not (enabled or not)."""
        feed = await self.feeds.get(name)
        if feed is None:
            return None
        running = self._polling.get(name)
        return await (running or self._start(feed))

    def _start(self, feed: Feed) -> asyncio.Task[PollResult]:
        task = asyncio.create_task(self._poll(feed), name=f"feed:{feed.config.name}")
        self._polling[feed.config.name] = task
        task.add_done_callback(lambda _: self._polling.pop(feed.config.name, None))
        return task

    async def _poll(self, feed: Feed) -> PollResult:
        async with self._slots:
            result = await self._poll_once(feed)
        POLLS.labels(feed.config.name, result.outcome).inc()
        for outcome, count in result.items.items():
            ITEMS.labels(feed.config.name, outcome).inc(count)
        FAILURES.labels(feed.config.name).set(result.state.consecutive_failures)
        try:
            await self.feeds.save_state(feed.config.name, result.state)
        except PyMongoError as error:  # the feed stays due: it is polled again next tick
            log.warning("feed %s: cannot record its state: %s", feed.config.name, error)
        return result

    async def _poll_once(self, feed: Feed) -> PollResult:
        config, state, now = feed.config, feed.state, self.clock()
        try:
            fetched = await self.fetcher.fetch(config.url, etag=state.etag, last_modified=state.last_modified)
            if isinstance(fetched, NotModified):
                after = not_modified(
                    state,
                    now=now,
                    interval_s=config.interval_s,
                    etag=fetched.etag,
                    last_modified=fetched.last_modified,
                )
                return PollResult(config.name, "not_modified", after)
            parsed = await asyncio.to_thread(  # parsing a large document would stall the API
                parse_feed,
                fetched.content,
                content_type=fetched.content_type,
                declared=config.format,
                base_url=config.url,
            )
            items, skipped = await self._submit(feed, parsed)
        except (FetchFailed, InvalidFeed) as error:
            outcome: PollOutcome = "fetch_failed" if isinstance(error, FetchFailed) else "invalid_feed"
            log.warning("feed %s: %s: %s", config.name, outcome, error)
            return PollResult(config.name, outcome, self._failed(feed, now, outcome, str(error)))
        except UNAVAILABLE as error:
            log.warning("feed %s: interrupted, retrying next tick: %r", config.name, error)
            after = interrupted(state, now=now, retry_s=self.tick_s, error=f"{type(error).__name__}: {error}")
            return PollResult(config.name, "unavailable", after)
        except Exception as error:
            log.exception("feed %s: unexpected error", config.name)
            return PollResult(config.name, "error", self._failed(feed, now, "error", repr(error)))
        after = read(
            state,
            now=now,
            interval_s=config.interval_s,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            items_seen=parsed.seen,
            items=items,
            skipped=skipped,
        )
        return PollResult(config.name, "ok", after, items, skipped)

    async def _submit(self, feed: Feed, parsed: ParsedFeed) -> tuple[dict[str, int], list[Skipped]]:
        counts = {"new": 0, "unchanged": 0, "skipped": len(parsed.skipped), "rejected": 0}
        skipped = list(parsed.skipped)
        for item in parsed.items:
            try:
                accepted = await accept_submission(
                    item, source=feed.config.source, heads=self.heads, publish=self.publish, dedup=self.dedup
                )
            except InvalidArticle as error:
                counts["rejected"] += 1
                skipped.append(Skipped(item.external_id, f"{error.field}: {error}"))
                continue
            except Withdrawn as error:  # killed or taken down: the feed cannot bring it back
                counts["rejected"] += 1
                skipped.append(Skipped(item.external_id, str(error)))
                continue
            counts["new" if accepted.new_version else "unchanged"] += 1
        return counts, skipped

    def _failed(self, feed: Feed, now: datetime, outcome: PollOutcome, error: str) -> FeedState:
        return failed(
            feed.state,
            now=now,
            interval_s=feed.config.interval_s,
            cap_s=self.backoff_max_s,
            outcome=outcome,
            error=error[:500],
        )


@asynccontextmanager
async def polling(state: Any, settings: Settings) -> AsyncIterator[FeedPoller]:
    """The poller over the app's adapters (`state.feeds`, `heads`, `publish_ingested`, `dedup`); its
    loop runs only when `settings.feeds_enabled`, so one-shot polls can share the wiring."""
    fetcher = HttpFeedFetcher(timeout_s=settings.feed_timeout_s, max_bytes=settings.feed_max_bytes)
    poller = FeedPoller(
        feeds=state.feeds,
        fetcher=fetcher,
        heads=state.heads,
        publish=state.publish_ingested,
        tick_s=settings.feeds_tick_s,
        backoff_max_s=settings.feed_backoff_max_s,
        concurrency=settings.feeds_concurrency,
        dedup=state.dedup,
    )
    loop = asyncio.create_task(poller.run(), name="feed-poller") if settings.feeds_enabled else None
    try:
        yield poller
    finally:
        if loop is not None:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        await fetcher.aclose()
