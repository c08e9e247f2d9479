"""`newsflow-publication popular rebuild`: Popular's counters rebuilt from the page-view topic
into a fresh Redis prefix, for an operator to switch to.

The page-view topic keeps a week of views, and the 7-day window is the longest Popular
counts, so the topic holds everything Popular shows. The rebuild runs the
live counting (popularity_consumer) under its own prefix and consumer group, from the first
view at or after `--since` (default: 9 days ago, the oldest view a kept bucket holds), until it has
counted every view that was on the topic when it started; it stores, in the new prefix, the
offsets it counted up to, so that publication processes switched to the new prefix and group
continue from there, exactly once. Then, on every publication process:

    NEWSFLOW_POPULAR_PREFIX=<new prefix> NEWSFLOW_POPULAR_GROUP=<new group>

and the old prefix's keys can be deleted (`redis-cli --scan --pattern '<old prefix>:*'`)."""

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass
from typing import Any, TextIO

from aiokafka import AIOKafkaConsumer, TopicPartition
from newsflow_chassis.kafka import build_broker, running_broker
from newsflow_contracts.topics import PAGEVIEW_RECORDED
from redis.asyncio import Redis

from ..adapters.popularity import RedisPopularity
from ..domain.popularity import GRANULARITIES
from ..settings import Settings
from . import popularity_consumer
from .replay import Progress

POLL_S = 0.2
OLDEST_KEPT_S = max(g.seconds + g.keep_s for g in GRANULARITIES)
"""How old a view can be and still be in a bucket Redis keeps (a day's bucket, 8 days after it ends)."""


def add_parsers(commands: Any) -> None:
    popular = commands.add_parser("popular", help="Popular's counters")
    which = popular.add_subparsers(dest="popular_command", required=True)
    rebuild = which.add_parser(
        "rebuild",
        help="count the page-view topic again into a fresh Redis prefix, to switch to",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rebuild.add_argument("--prefix", required=True, help="the new Redis prefix, e.g. newsflow:pop2")
    rebuild.add_argument(
        "--group", help="the new consumer group (default: NEWSFLOW_POPULAR_GROUP + '.' + the prefix)"
    )
    rebuild.add_argument(
        "--since",
        type=float,
        help="first view to count, epoch seconds (default: now minus the longest a bucket is kept)",
    )
    rebuild.add_argument("--quiet", action="store_true", help="no progress bar")


@dataclass
class Rebuilt:
    prefix: str
    group: str
    views: int
    seconds: float


async def _positions(settings: Settings, since_ms: int) -> tuple[dict[int, int], dict[int, int]]:
    """Per partition: the first offset at or after `since_ms`, and the end offset now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(PAGEVIEW_RECORDED.name, p) for p in range(PAGEVIEW_RECORDED.partitions)]
        ends = await consumer.end_offsets(parts)
        found = await consumer.offsets_for_times({tp: since_ms for tp in parts})
    finally:
        await consumer.stop()
    starts = {tp.partition: found[tp].offset if found.get(tp) else ends[tp] for tp in parts}
    return starts, {tp.partition: ends[tp] for tp in parts}


async def rebuild(
    settings: Settings, prefix: str, group: str, since_s: float, progress: TextIO | None
) -> Rebuilt:
    if prefix == settings.popular_prefix:
        raise ValueError(f"{prefix!r} is the prefix in use; rebuild into a fresh one")
    started = time.monotonic()
    starts, ends = await _positions(settings, int(since_s * 1000))
    total = sum(ends[p] - starts[p] for p in ends)
    redis = Redis.from_url(settings.redis_url, socket_timeout=30)
    try:
        if await redis.exists(*(f"{prefix}:offsets:{group}:{p}" for p in ends)):
            raise ValueError(f"{prefix!r} already has counted offsets for {group!r}; choose a fresh prefix")
        popularity = RedisPopularity(redis, prefix=prefix, dedup_ttl_s=settings.popular_dedup_ttl_s)
        # "counted up to the record before the first one to count": the counting starts there
        await redis.mset({popularity.offsets_key(group, p): starts[p] - 1 for p in ends})
        own = settings.model_copy(update={"popular_prefix": prefix, "popular_group": group})
        broker = build_broker(own, client_id="newsflow-popular-rebuild")
        popularity_consumer.register(broker, own, popularity)
        bar = Progress(f"popular {prefix}", progress) if progress is not None else None
        async with running_broker(broker, own):
            while True:
                counted = await popularity.offsets(group, ends)
                done = sum(min(counted.get(p, starts[p] - 1) + 1, ends[p]) - starts[p] for p in ends)
                if bar is not None:
                    bar.show(done, total, final=done >= total)
                if done >= total:
                    break
                await asyncio.sleep(POLL_S)
    finally:
        await redis.aclose()
    return Rebuilt(prefix, group, total, time.monotonic() - started)


async def command(args: argparse.Namespace, settings: Settings) -> int:
    group = args.group or f"{settings.popular_group}.{args.prefix}"
    since = args.since if args.since is not None else time.time() - OLDEST_KEPT_S
    try:
        done = await rebuild(settings, args.prefix, group, since, None if args.quiet else sys.stderr)
    except ValueError as error:
        print(f"popular rebuild refused: {error}", file=sys.stderr)
        return 1
    print(
        f"counted {done.views:,} records of {PAGEVIEW_RECORDED.name} into {done.prefix}:* in "
        f"{done.seconds:.1f} s. Switch every publication process to it with\n"
        f"  NEWSFLOW_POPULAR_PREFIX={done.prefix} NEWSFLOW_POPULAR_GROUP={done.group}"
    )
    return 0
