"""`newsflow stats`: a short summary of what the platform holds, read from where it lives:
publication's read model (its current generation), Popular's and Related's Redis keys, each
registry topic's records, the dead letters and the dead webhook deliveries."""

from dataclasses import dataclass, field
from typing import Any

from newsflow_chassis import dead_letters as dl
from newsflow_contracts.topics import topics_with_dead_letters
from newsflow_publication.adapters.deliveries import MongoDeliveryStore
from newsflow_publication.adapters.generations import GenerationStore
from newsflow_publication.domain.listings import ALL
from newsflow_publication.settings import Settings
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from .table import table


@dataclass
class Stats:
    generation: str = ""
    database: str = ""
    articles: int = 0
    listed: int = 0
    popular_keys: int = 0
    related_keys: int = 0
    related_indexed: int | None = None
    webhooks_dead: int = 0
    records: dict[str, int | None] = field(default_factory=dict)

    @property
    def dead_letters(self) -> int:
        return sum(n or 0 for topic, n in self.records.items() if dl.is_dlq_topic(topic))


async def _count_keys(redis: Redis, prefix: str) -> int:
    return sum([1 async for _ in redis.scan_iter(match=f"{prefix}:*", count=1000)])


async def gather(settings: Settings) -> Stats:
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url, serverSelectionTimeoutMS=5000, tz_aware=True
    )
    redis = Redis.from_url(settings.redis_url, socket_timeout=30, socket_connect_timeout=5)
    try:
        current = await GenerationStore(mongo, settings).current()
        indexed = await redis.hget(f"{settings.related_prefix}:status", "articles")
        return Stats(
            generation=current.name,
            database=current.database,
            articles=await mongo[current.database]["articles"].count_documents({}),
            listed=await redis.zcard(f"{current.redis_prefix}:list:{ALL}"),
            popular_keys=await _count_keys(redis, settings.popular_prefix),
            related_keys=await _count_keys(redis, settings.related_prefix),
            related_indexed=None if indexed is None else int(indexed),
            webhooks_dead=len(await MongoDeliveryStore(mongo, settings.publication_db).dead()),
            records=await dl.counts(settings.kafka_bootstrap, [t.name for t in topics_with_dead_letters()]),
        )
    finally:
        await redis.aclose()
        await mongo.close()


def render(s: Stats, settings: Settings) -> str:
    indexed = "" if s.related_indexed is None else f" ({s.related_indexed:,} articles indexed)"
    summary = [
        f"read model        {s.generation} (database {s.database})",
        f"articles          {s.articles:,}",
        f"listed            {s.listed:,} (list {ALL})",
        f"Popular keys      {s.popular_keys:,} ({settings.popular_prefix}:*)",
        f"Related keys      {s.related_keys:,} ({settings.related_prefix}:*){indexed}",
        f"dead letters      {s.dead_letters:,} (newsflow dlq list)",
        f"webhooks dead     {s.webhooks_dead:,} (newsflow webhooks dead)",
        "",
        table(["TOPIC", "RECORDS"], [[topic, n] for topic, n in s.records.items()]),
    ]
    return "\n".join(summary)
