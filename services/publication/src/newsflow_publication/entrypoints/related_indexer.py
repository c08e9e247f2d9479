"""The related indexer: keeps every published article's Related list in Redis.

It reads the published topic from its start, every partition, without a consumer group:
the compacted topic holds the current version of every live article (a retraction is a
retracted record and a tombstone), which is all the index needs, so a start rebuilds the
index in memory and rewrites every list, and no other replay is needed.

Then it follows the topic. A new or changed article gets its own list at once and is
offered to the lists of the articles it is most related to (the measure is symmetric), so
it shows on their pages within a second; those partners' whole lists are recomputed later,
oldest first, at `NEWSFLOW_RELATED_REFRESH_PER_S` lists a second at most. A retracted article
loses its list and leaves its partners' lists (the API already stops showing it, since its
teaser is gone). When the collection has doubled since the last rebuild, every row is
recomputed with today's IDF, and every list waits for its refresh.

The work is CPU-bound and runs a slice at a time; the background part takes at most a
quarter of the time (`CPU_SHARE`). A deployment runs it as a process of its own,
`newsflow-publication related` (`related_app.py`), once: any more compute the same lists. For
a single process in development, the read API can run it too (`NEWSFLOW_RELATED_ENABLED`).

Memory, beside the index: the topic is read with small fetches (`FETCH_PARTITION_BYTES`,
`FETCH_BYTES`; aiokafka's defaults, 1 MB a partition and 50 MB a fetch, hold several MB of
records at once while the whole topic is read at start); the signature's terms are interned,
so that the index holds one copy of each word rather than one per article (some 20 MB at 2,000
articles); and the memory the C allocator keeps after articles replace older ones is given
back to the system (`release_memory`, at most every `RELEASE_EVERY_S`)."""

import asyncio
import contextlib
import ctypes
import itertools
import json
import logging
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from newsflow_contracts.cloudevents import HEADER_TYPE
from newsflow_contracts.events import ArticleRetracted
from newsflow_contracts.topics import ARTICLE_PUBLISHED

from ..adapters.related import RedisRelated
from ..domain.related import RelatedIndex
from ..settings import Settings

log = logging.getLogger("newsflow.publication.related")

SCHEME = "logtf"
"""The enrichment signature scheme the index compares; other schemes are left out."""
REBUILD_GROWTH = 1.0
"""A rebuild when the collection has grown by this share since the last one: doubling keeps
the total work of rebuilds below twice that of the last one."""
SLICE_S = 0.02
"""Longest the indexer computes before letting the event loop serve requests and records."""
CPU_SHARE = 0.25
"""After each piece of background work (refreshing lists, rebuilding rows) the indexer rests
three times as long as it took, so that work never takes more than a quarter of the process
from the consumers and the read API. New records are indexed at once: that is what makes a
new article show within a second."""
POLL_MS = 200
STOP_S = 5.0
FETCH_PARTITION_BYTES = 256 * 1024
"""Most bytes fetched from one partition at once (a larger record still comes whole)."""
FETCH_BYTES = 1024 * 1024
"""Most bytes of one fetch, all partitions together."""
RELEASE_EVERY_S = 30.0


def _malloc_trim() -> Any:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


_MALLOC_TRIM = _malloc_trim()


def release_memory() -> None:
    """Hand the free memory glibc's allocator keeps back to the system. Articles replacing
    older ones free their dicts and the decoded records in between the index's live ones; the
    allocator keeps those pages (measured: 15-20 MB after 6,000 records at 2,000 articles, about
    half of the growth, the rest being the index's own dicts). A few ms."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


async def rest(worked_s: float) -> None:
    await asyncio.sleep(worked_s * (1 - CPU_SHARE) / CPU_SHARE)


def terms_of(value: bytes) -> tuple[str, dict[str, float] | None]:
    """(article id, signature terms) of a published article; None terms when it has no
    signature of the scheme."""
    article = json.loads(value)
    signature = (article.get("enrichment") or {}).get("signature") or {}
    if signature.get("scheme") != SCHEME:
        return article["article_id"], None
    terms = {sys.intern(t["term"]): float(t["weight"]) for t in signature.get("terms", ())}
    return sys.intern(article["article_id"]), terms


def _header(record: ConsumerRecord[bytes, bytes], name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode()
    return None


class RelatedIndexer:
    def __init__(
        self,
        settings: Settings,
        store: RedisRelated,
        index: RelatedIndex | None = None,
        stopping: asyncio.Event | None = None,
    ) -> None:
        self.settings = settings
        self.stopping = stopping or asyncio.Event()
        self.refresh_allowance = 0.0
        self.store = store
        self.index = index or RelatedIndex()
        self.waiting: dict[str, None] = {}
        """Articles whose lists need recomputing, oldest first."""
        self.arrival: dict[str, None] = {}
        """Indexed articles in the order they (last) arrived."""
        self.size_at_rebuild = 0
        self.rebuilt_at: float | None = None
        self.caught_up = False
        """The topic read up to its end at the start, and every list written once."""
        self.released_at = 0.0

    # one record

    def apply(self, record: ConsumerRecord[bytes, bytes], *, rows: bool = True) -> tuple[str, str] | None:
        """Index or forget the record's article: ("added" | "removed", article id). Without
        `rows` the article is only loaded, for a rebuild to compute its row later."""
        if record.key is None:
            return None
        key = record.key.decode()
        if record.value is None or _header(record, HEADER_TYPE) == ArticleRetracted.event_type:
            if key not in self.index:
                return None
            return "removed", key
        try:
            article_id, terms = terms_of(record.value)
        except (ValueError, KeyError, TypeError) as error:
            log.warning(
                "related: skipped an unreadable record at %s:%s (%s)", record.partition, record.offset, error
            )
            return None
        if not terms:
            return None  # no signature to compare (an enricher failed, or an older scheme)
        if rows:
            self.index.add(article_id, terms)
        else:
            self.index.load(article_id, terms)
        self.arrival.pop(article_id, None)
        self.arrival[article_id] = None
        return "added", article_id

    def oldest_beyond_capacity(self) -> list[str]:
        """The articles to let go of, oldest first, to keep `related_max_articles`."""
        excess = len(self.index) - self.settings.related_max_articles
        return list(itertools.islice(self.arrival, max(excess, 0)))

    async def publish_new(self, article_id: str) -> None:
        related = self.index.related_of(article_id)
        await self.store.replace({article_id: related})
        await self.store.offer(article_id, related)
        for partner in related:
            self.waiting[partner] = None

    async def forget(self, article_id: str) -> None:
        partners = set(self.index.related_of(article_id))
        self.index.remove(article_id)
        self.arrival.pop(article_id, None)
        self.waiting.pop(article_id, None)
        await self.store.forget(article_id, partners)
        for partner in partners:
            self.waiting[partner] = None

    async def handle(self, record: ConsumerRecord[bytes, bytes]) -> None:
        change = self.apply(record)
        if change is not None:
            action, article_id = change
            if action == "added":
                await self.publish_new(article_id)
            else:
                await self.forget(article_id)
        for oldest in self.oldest_beyond_capacity():
            await self.forget(oldest)

    # background work, a slice at a time

    async def refresh_some(self, elapsed_s: float) -> None:
        """Recompute the oldest waiting lists: `related_refresh_per_s` of them a second at
        most, and no more than a slice of time at once."""
        rate = self.settings.related_refresh_per_s
        self.refresh_allowance = min(self.refresh_allowance + elapsed_s * rate, rate)
        deadline = time.monotonic() + SLICE_S
        lists: dict[str, dict[str, float]] = {}
        while self.waiting and self.refresh_allowance >= 1 and time.monotonic() < deadline:
            self.refresh_allowance -= 1
            article_id = next(iter(self.waiting))
            del self.waiting[article_id]
            if article_id in self.index:
                lists[article_id] = self.index.related_of(article_id)
        if lists:
            await self.store.replace(lists)

    async def rebuild(self) -> None:
        """Every row with today's IDF, pausing between slices; then every list waits."""
        started = time.monotonic()
        self.index.refresh_vectors()
        slice_end = time.monotonic() + SLICE_S
        for article_id in list(self.index.articles):
            if self.stopping.is_set():
                return
            self.index.reindex(article_id)
            if time.monotonic() > slice_end:
                await rest(SLICE_S)
                slice_end = time.monotonic() + SLICE_S
        self.waiting.update(dict.fromkeys(self.index.articles))
        self.size_at_rebuild = len(self.index)
        self.rebuilt_at = time.time()
        log.info("related: rebuilt %d rows in %.1f s", len(self.index), time.monotonic() - started)

    def due_for_rebuild(self) -> bool:
        return len(self.index) >= max(self.size_at_rebuild * (1 + REBUILD_GROWTH), self.size_at_rebuild + 10)

    async def report(self) -> None:
        await self.store.set_status(
            articles=len(self.index), waiting=len(self.waiting), rebuilt_at=self.rebuilt_at
        )

    # the loop

    async def run(self, consumer: AIOKafkaConsumer) -> None:
        await self._catch_up(consumer)
        release_memory()
        await self.rebuild()
        if self.stopping.is_set():
            return
        await self.report()
        self.caught_up = True
        last = time.monotonic()
        while not self.stopping.is_set():
            batch = await consumer.getmany(timeout_ms=POLL_MS, max_records=100)
            for record in (r for records in batch.values() for r in records):
                if self.stopping.is_set():
                    return
                await self.handle(record)
                await asyncio.sleep(0)
            if self.due_for_rebuild():
                await self.rebuild()
            now = time.monotonic()
            await self.refresh_some(now - last)
            if batch and now - self.released_at > RELEASE_EVERY_S:
                release_memory()
                self.released_at = now
            last = now
            await rest(time.monotonic() - now)
            await self.report()

    async def _catch_up(self, consumer: AIOKafkaConsumer) -> None:
        """Index what the topic holds now, without writing lists (the rebuild writes them)."""
        partitions = [TopicPartition(ARTICLE_PUBLISHED.name, p) for p in range(ARTICLE_PUBLISHED.partitions)]
        ends = await consumer.end_offsets(partitions)
        started = time.monotonic()
        while not self.stopping.is_set() and [
            tp for tp, end in ends.items() if await consumer.position(tp) < end
        ]:
            batch = await consumer.getmany(timeout_ms=500, max_records=500)
            for record in (r for records in batch.values() for r in records):
                change = self.apply(record, rows=False)
                if change is not None and change[0] == "removed":
                    self.index.remove(change[1])
                    self.arrival.pop(change[1], None)
                for oldest in self.oldest_beyond_capacity():
                    self.index.remove(oldest)
                    del self.arrival[oldest]
            await asyncio.sleep(0)
        log.info("related: indexed %d articles in %.1f s", len(self.index), time.monotonic() - started)


def _consumer(settings: Settings) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="newsflow-publication-related",
        max_partition_fetch_bytes=FETCH_PARTITION_BYTES,
        fetch_max_bytes=FETCH_BYTES,
    )
    return consumer


async def _assign(consumer: AIOKafkaConsumer, settings: Settings) -> None:
    partitions = [TopicPartition(ARTICLE_PUBLISHED.name, p) for p in range(ARTICLE_PUBLISHED.partitions)]
    consumer.assign(partitions)
    if settings.related_start == "end":
        await consumer.seek_to_end(*partitions)


class Indexing:
    """The indexer at work, as the process's readiness and metrics see it."""

    def __init__(self) -> None:
        self.consumer: AIOKafkaConsumer | None = None
        self.indexer: RelatedIndexer | None = None

    def kafka_client(self) -> Any:
        return None if self.consumer is None else self.consumer._client

    async def check(self) -> str:
        """Ready once the topic has been read to its end and every list written (after each
        start over too)."""
        indexer = self.indexer
        if indexer is None:
            raise RuntimeError("not started")
        if not indexer.caught_up:
            raise RuntimeError(f"catching up: {len(indexer.index)} articles indexed so far")
        return f"{len(indexer.index)} articles, {len(indexer.waiting)} lists waiting"


@contextlib.asynccontextmanager
async def running(
    settings: Settings, store: RedisRelated, *, enabled: bool, indexing: Indexing | None = None
) -> AsyncIterator[Indexing]:
    """Run the indexer in the background for the duration of the block; it starts over
    after an error (Kafka or Redis away), from the topic's start. At the end it is asked to
    stop, between two slices of work, and cancelled if it has not within `STOP_S`. Yields
    `indexing` (a new one if not given), which follows the indexer at work."""
    indexing = indexing or Indexing()
    if not enabled:
        yield indexing
        return
    stopping = asyncio.Event()

    async def forever() -> None:
        while not stopping.is_set():
            consumer = indexing.consumer = _consumer(settings)
            indexer = indexing.indexer = RelatedIndexer(settings, store, stopping=stopping)
            try:
                await consumer.start()
                await _assign(consumer, settings)
                await indexer.run(consumer)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning(
                    "related: indexer stopped (%s: %s); starting over in 5 s", type(error).__name__, error
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), timeout=5)
            finally:
                await consumer.stop()

    task = asyncio.create_task(forever(), name="related-indexer")
    try:
        yield indexing
    finally:
        stopping.set()
        done, _ = await asyncio.wait({task}, timeout=STOP_S)
        if not done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
