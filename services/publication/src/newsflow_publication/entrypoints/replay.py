"""`newsflow-publication replay` rebuilds the read model from the article topics, and
`newsflow-publication generations list|use|drop` manages the generations it builds.

A replay claims a new generation `g<n>` (a fresh database and Redis prefix, see
`adapters/generations.py`), reads `news.article.enriched.v1` and `news.article.retracted.v1`
from their first offsets with the generation's consumer group, and hands every record to
the live consumer's own handling (`consumer.store_enriched` / `store_retracted`) without
publishing anything. The write-behind adapters of `adapters/rebuild.py` write each fetch in
bulk; the offsets are committed after each write, so the group continues exactly where the
replay stopped. When it has caught up with the end of both topics it records the
generation as complete and moves the current-generation pointer to it; the running
services switch within seconds (`entrypoints/generation_follower.py`).

Order: the topics are read partition by partition, each article's records in their
partition's order; the records of one partition of each topic fetched together are merged
by record time, as the live consumer interleaves them by arrival. Versions are applied
newest-wins either way. A version's `published_at` is its enriched record's time (when it
was ready to go live), not the time of the replay, so the lists keep their order.

A record the live consumer dead-letters (bad JSON, failing its schema, or a `ce_type` that
does not match) is skipped and counted. MongoDB, Redis or Kafka being away is waited for.

The replay shares the machine's cores with FerretDB, which bounds it, so its own CPU time
counts: Python's automatic garbage collection is off while it runs, replaced by a collection
every 50,000 records (`replay_gc.py`)."""

import argparse
import asyncio
import functools
import logging
import sys
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from newsflow_chassis.cloudevents import from_headers
from newsflow_chassis.delivery import POISON, PoisonRecord
from newsflow_contracts.events import ArticleEnriched, ArticleRetracted
from newsflow_contracts.topics import ARTICLE_ENRICHED, ARTICLE_RETRACTED
from pymongo import AsyncMongoClient
from pymongo.errors import ConnectionFailure
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..adapters.generations import Generation, GenerationStore, clear, generation, parse_name
from ..adapters.rebuild import RebuildArticles, RebuildListings
from ..settings import Settings
from .consumer import ArticleEvent, store_enriched, store_retracted
from .replay_gc import ReplayGarbageCollection

log = logging.getLogger("newsflow.publication.replay")

TRANSIENT = (ConnectionFailure, RedisConnectionError, RedisTimeoutError, KafkaError, OSError, TimeoutError)
MODELS: dict[str, type[ArticleEnriched] | type[ArticleRetracted]] = {
    ArticleEnriched.event_type: ArticleEnriched,
    ArticleRetracted.event_type: ArticleRetracted,
}
T = TypeVar("T")


def add_parsers(commands: Any) -> None:
    replay = commands.add_parser(
        "replay",
        help="rebuild the read model from the article topics into a new generation, then switch to it",
    )
    replay.add_argument(
        "--topics",
        nargs=2,
        metavar=("ENRICHED", "RETRACTED"),
        default=[ARTICLE_ENRICHED.name, ARTICLE_RETRACTED.name],
        help="read these topics instead (same partition count); for tests and benchmarks",
    )
    replay.add_argument(
        "--no-switch", action="store_true", help="build the generation but leave the current one in use"
    )
    replay.add_argument("--batch", type=int, default=5000, help="records written at once, at most")
    replay.add_argument("--quiet", action="store_true", help="no progress bar")

    generations = commands.add_parser("generations", help="the read model's generations")
    which = generations.add_subparsers(dest="generations_command", required=True)
    which.add_parser("list", help="every generation, its state and where it lives")
    use = which.add_parser("use", help="make a complete generation current (e.g. back to the previous one)")
    use.add_argument("generation", help="g0, g1, ...")
    drop = which.add_parser("drop", help="delete a generation's collections and keys (never the current one)")
    drop.add_argument("generation", help="g0, g1, ...")
    drop.add_argument("--force", action="store_true", help="also a generation still being built")


class Progress:
    """A text progress bar on stderr: records done of the total, rate and time left. On a
    terminal it redraws one line; elsewhere (logs, CI) it prints a line every few seconds."""

    WIDTH = 30

    def __init__(self, label: str, out: TextIO, *, tty: bool | None = None, every_s: float | None = None):
        self.label, self.out = label, out
        self.tty = out.isatty() if tty is None else tty
        self.every_s = every_s if every_s is not None else (0.1 if self.tty else 2.0)
        self.started = time.monotonic()
        self.shown_at = 0.0

    def line(self, done: int, total: int, elapsed: float) -> str:
        share = done / total if total else 1.0
        filled = min(self.WIDTH, int(share * self.WIDTH))
        rate = done / elapsed if elapsed > 0 else 0.0
        left = (total - done) / rate if rate > 0 else 0.0
        eta = time.strftime("%H:%M:%S", time.gmtime(left))
        return (
            f"{self.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {done:,}/{total:,} records "
            f"{share * 100:3.0f}%  {rate:,.0f}/s  ETA {eta}"
        )

    def show(self, done: int, total: int, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.shown_at < self.every_s:
            return
        self.shown_at = now
        text = self.line(done, total, now - self.started)
        if self.tty:
            self.out.write("\r" + text + ("\n" if final else ""))
        else:
            self.out.write(text + "\n")
        self.out.flush()


@dataclass
class ReplayResult:
    generation: Generation
    records: int = 0
    skipped: int = 0
    articles: int = 0
    seconds: float = 0.0
    switched: bool = False
    previous: Generation | None = None
    offsets: list[dict[str, Any]] = field(default_factory=list)
    """Where it stopped: topic, partition, offset (the group's committed offsets)."""

    @property
    def per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


async def _retrying(what: str, operation: Callable[[], Awaitable[T]], *, max_wait_s: float = 600.0) -> T:
    """MongoDB, Redis or Kafka being away is waited for (every operation here is idempotent)."""
    delay, waited = 0.2, 0.0
    while True:
        try:
            return await operation()
        except TRANSIENT as error:
            if waited >= max_wait_s:
                raise
            log.warning("%s: %s; retrying in %.1f s", what, error, delay)
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 10.0)


def _decode(record: ConsumerRecord[bytes, bytes]) -> ArticleEvent | None:
    """The event, or None for what the live consumer dead-letters."""
    try:
        if record.value is None:
            raise PoisonRecord("no value")
        cause = from_headers(dict(record.headers))
        model = MODELS.get(cause.type)
        if model is None:
            raise PoisonRecord(f"ce_type {cause.type!r} is not an article event")
        return model.model_validate_json(record.value)  # the payload must be what ce_type says
    except POISON as error:
        log.warning(
            "skipping %s[%d]@%d: %s: %s",
            record.topic,
            record.partition,
            record.offset,
            type(error).__name__,
            str(error)[:200],
        )
        return None


def next_in_order(
    tps: list[TopicPartition],
    pending: dict[TopicPartition, deque[ConsumerRecord[bytes, bytes]]],
    caught_up: set[TopicPartition],
) -> TopicPartition | None:
    """Of one partition number's topics (one article's records are all there), the one whose
    next record is the earliest by record time; None when a topic has nothing fetched but is
    not at its end, as its next record could be earlier. Ties go to the first topic."""
    if any(not pending[tp] and tp not in caught_up for tp in tps):
        return None
    heads = [tp for tp in tps if pending[tp]]
    return min(heads, key=lambda tp: pending[tp][0].timestamp) if heads else None


class ReplayRefused(Exception):
    """The topics cannot be replayed (missing, or not co-partitioned)."""


async def _partitions(bootstrap: str, topics: list[str]) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    missing = [t["topic"] for t in described if t["error_code"] != 0 or not t["partitions"]]
    if missing:
        raise ReplayRefused(f"no such topic: {', '.join(missing)}")
    counts = {t["topic"]: len(t["partitions"]) for t in described}
    if len(set(counts.values())) != 1:
        raise ReplayRefused(f"the topics are not co-partitioned: {counts}")
    return [TopicPartition(t, p) for t in topics for p in range(counts[t])]


async def _leftovers(mongo: AsyncMongoClient[dict[str, Any]], redis: Redis, target: Generation) -> bool:
    """A claimed number is new, so its database and keys are too, unless the generation
    records were lost: then its database has collections or its `all` list exists."""
    collections = await mongo[target.database].list_collection_names()
    return bool(collections) or bool(await redis.exists(f"{target.redis_prefix}:list:all"))


async def replay(
    settings: Settings,
    *,
    topics: list[str] | None = None,
    switch: bool = True,
    batch: int = 5000,
    progress: TextIO | None = None,
) -> ReplayResult:
    topics = topics or [ARTICLE_ENRICHED.name, ARTICLE_RETRACTED.name]
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url, serverSelectionTimeoutMS=5000, tz_aware=True
    )
    redis = Redis.from_url(settings.redis_url, socket_timeout=30, socket_connect_timeout=5)
    store = GenerationStore(mongo, settings)
    try:
        partitions = await _retrying(
            "reading the topics", lambda: _partitions(settings.kafka_bootstrap, topics)
        )
        started_at = datetime.now(UTC)
        target = await _retrying(
            "claiming a generation", lambda: store.claim(started_at=started_at, topics=topics)
        )
        if await _retrying("looking for leftovers", lambda: _leftovers(mongo, redis, target)):
            await _retrying("clearing the new generation", lambda: clear(mongo, redis, target))
        result = ReplayResult(target)
        began = time.monotonic()
        with ReplayGarbageCollection() as collection:  # at most one replay a process
            await _rebuild(settings, mongo, redis, target, partitions, batch, progress, result, collection)
        result.seconds = time.monotonic() - began
        await _retrying(
            "recording the generation",
            lambda: store.update(
                target.number,
                state="complete",
                completed_at=datetime.now(UTC),
                records=result.records,
                skipped=result.skipped,
                articles=result.articles,
                seconds=round(result.seconds, 3),
                offsets=result.offsets,
            ),
        )
        if switch:
            result.previous = await _retrying("reading the pointer", store.current)
            if result.previous.number < target.number:
                await _retrying("switching", lambda: store.switch(target.number))
                result.switched = True
        return result
    finally:
        await redis.aclose()
        await mongo.close()


async def _rebuild(
    settings: Settings,
    mongo: AsyncMongoClient[dict[str, Any]],
    redis: Redis,
    target: Generation,
    partitions: list[TopicPartition],
    batch: int,
    progress: TextIO | None,
    result: ReplayResult,
    collection: ReplayGarbageCollection,
) -> None:
    articles = RebuildArticles(mongo, target.database, retry=_retrying)
    listings = RebuildListings(redis, target.redis_prefix, retry=_retrying)
    await _retrying("creating indexes", articles.create_indexes)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=target.group,
        client_id="newsflow-publication-replay",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=16 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await _retrying("connecting to Kafka", consumer.start)
    try:
        consumer.assign(partitions)
        begin = await consumer.beginning_offsets(partitions)
        end = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        bar = Progress(target.name, progress) if progress is not None else None

        async def apply(record: ConsumerRecord[bytes, bytes]) -> None:
            event = _decode(record)
            if event is None:
                result.skipped += 1
            elif isinstance(event, ArticleRetracted):
                await store_retracted(articles, listings, event)
            else:
                now = datetime.fromtimestamp(record.timestamp / 1000, UTC)
                await store_enriched(articles, listings, event, now=now)

        pending: dict[TopicPartition, deque[ConsumerRecord[bytes, bytes]]] = {
            tp: deque() for tp in partitions
        }
        done = dict(begin)  # per partition, the offset after the last record applied
        written: dict[TopicPartition, int] = {}  # the same, for the batch being written
        pairs: dict[int, list[TopicPartition]] = defaultdict(list)
        for tp in partitions:
            pairs[tp.partition].append(tp)
        while True:
            position = {tp: await consumer.position(tp) for tp in partitions}
            if not any(pending.values()) and all(position[tp] >= end[tp] for tp in partitions):
                end = await consumer.end_offsets(partitions)  # records may have arrived meanwhile
                if all(position[tp] >= end[tp] for tp in partitions):
                    break
            fetched = await consumer.getmany(timeout_ms=500, max_records=batch)
            for tp, records in fetched.items():
                pending[tp].extend(records)
            position = {tp: await consumer.position(tp) for tp in partitions}
            caught_up = {tp for tp in partitions if position[tp] >= end[tp]}
            applied = 0
            for tps in pairs.values():
                while (tp := next_in_order(tps, pending, caught_up)) is not None:
                    record = pending[tp].popleft()
                    where = f"{record.topic}[{record.partition}]@{record.offset}"
                    await _retrying(f"applying {where}", functools.partial(apply, record))
                    done[tp] = record.offset + 1
                    applied += 1
            for tp in partitions:
                if not pending[tp]:
                    done[tp] = max(done[tp], position[tp])  # past any gap in the offsets
            if applied:  # the batch before is written: commit it, then write this one meanwhile
                result.records += applied
                await asyncio.gather(articles.drain(), listings.drain())
                if written:
                    await _retrying("committing offsets", functools.partial(consumer.commit, written))
                articles.start_flush()
                listings.start_flush()
                written = dict(done)
                collection.applied(applied)
            if bar is not None:
                bar.show(
                    sum(done[tp] - begin[tp] for tp in partitions),
                    sum(end[tp] - begin[tp] for tp in partitions),
                )
        await asyncio.gather(articles.drain(), listings.drain())
        await _retrying("committing offsets", functools.partial(consumer.commit, dict(done)))
        if bar is not None:
            total = sum(end[tp] - begin[tp] for tp in partitions)
            bar.show(total, total, final=True)
        result.articles = len(articles.stored_version)
        result.offsets = [
            {"topic": tp.topic, "partition": tp.partition, "offset": done[tp]} for tp in partitions
        ]
    finally:
        await consumer.stop()


async def command(args: argparse.Namespace, settings: Settings) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "replay":
        return await _replay_command(args, settings)
    return await _generations_command(args, settings)


async def _replay_command(args: argparse.Namespace, settings: Settings) -> int:
    try:
        result = await replay(
            settings,
            topics=list(args.topics),
            switch=not args.no_switch,
            batch=args.batch,
            progress=None if args.quiet else sys.stderr,
        )
    except ReplayRefused as error:
        print(f"replay refused: {error}", file=sys.stderr)
        return 1
    summary = (
        f"{result.generation.name}: {result.records:,} records ({result.articles:,} articles, "
        f"{result.skipped:,} skipped) in {result.seconds:.2f} s, {result.per_second:,.0f} records/s; "
        f"database {result.generation.database}, Redis {result.generation.redis_prefix}:*, "
        f"group {result.generation.group}"
    )
    print(summary)
    if result.switched and result.previous is not None:
        print(f"current generation: {result.generation.name} (was {result.previous.name})")
    elif result.previous is not None:
        print(f"not switched: the current generation {result.previous.name} is newer")
    else:
        print(f"not switched (--no-switch): `generations use {result.generation.name}` to switch")
    return 0


async def _generations_command(args: argparse.Namespace, settings: Settings) -> int:
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url, serverSelectionTimeoutMS=5000, tz_aware=True
    )
    redis = Redis.from_url(settings.redis_url, socket_timeout=30, socket_connect_timeout=5)
    store = GenerationStore(mongo, settings)
    try:
        current = await store.current()
        if args.generations_command == "list":
            for gen, info in await store.all():
                mark = "*" if gen == current else " "
                built = info.get("completed_at") or info.get("started_at")
                when = built.strftime("%Y-%m-%d %H:%M:%S") if isinstance(built, datetime) else "-"
                records = f"{info['records']:,}" if "records" in info else "-"
                print(
                    f"{mark} {gen.name:<5} {info.get('state', '?'):<9} {when:<19} {records:>10} records  "
                    f"{gen.database}  {gen.redis_prefix}:*  {gen.group}"
                )
            return 0
        try:
            number = parse_name(args.generation)
        except ValueError as error:
            print(error, file=sys.stderr)
            return 2
        record = await store.record(number)
        chosen = generation(settings, number)
        if record is None:
            print(f"no generation {chosen.name}", file=sys.stderr)
            return 1
        if args.generations_command == "use":
            if record.get("state") != "complete":
                print(
                    f"{chosen.name} is {record.get('state')}: only a complete one can be used",
                    file=sys.stderr,
                )
                return 1
            await store.switch(number)
            print(f"current generation: {chosen.name} (was {current.name}); services follow within seconds")
            return 0
        if chosen == current:
            print(f"{chosen.name} is the current generation: switch to another one first", file=sys.stderr)
            return 1
        if record.get("state") == "building" and not args.force:
            print(f"{chosen.name} is being built (or its replay died): --force to drop it", file=sys.stderr)
            return 1
        keys = await clear(mongo, redis, chosen)
        await store.mark_dropped(number)
        print(f"dropped {chosen.name}: database {chosen.database} read model, {keys:,} Redis keys")
        return 0
    finally:
        await redis.aclose()
        await mongo.close()
