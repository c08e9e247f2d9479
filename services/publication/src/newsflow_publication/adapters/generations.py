"""Read-model generations: which MongoDB database, Redis keys and consumer group hold
publication's read model, and which of them the service uses.

Generation `g0` is the original read model: database `<NEWSFLOW_PUBLICATION_DB>`, Redis keys
`newsflow:pub:{list,teaser,in}:*`, consumer group `<NEWSFLOW_PUBLICATION_GROUP>`. A replay
builds `g<n>` (n = 1, 2, ...) from the article topics into database
`<NEWSFLOW_PUBLICATION_DB>_g<n>`, Redis keys `newsflow:pub:<that database>:{list,teaser,in}:*`
and consumer group `<NEWSFLOW_PUBLICATION_GROUP>.g<n>`. The Redis prefix carries the database
name so that deployments sharing one Redis (as the tests do) never share a generation's keys.

Which generation is current is recorded in the publication database (`g0`'s), collection
`read_model_generations`, every read and write by `_id`:

- `pointer`: `{current: <n>, last: <highest n ever claimed>, switched_at}`; missing means g0;
- `g<n>`: the generation's record: `state` (`building`, `complete`, `dropped`), `started_at`,
  `completed_at`, the topics it was built from, records and articles, and the offsets
  it stopped at.

A generation number is claimed by inserting its `g<n>` record (the unique `_id` lets only one
of two replays have it) and is never reused, so a generation's database and keys are fresh.
Only the operator's commands write here; the services only read the pointer."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from newsflow_contracts.events import ArticlePublished, ArticleRetracted, Duplicate
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError
from redis.asyncio import Redis

from ..domain.listings import Teaser
from ..settings import Settings
from .articles import MongoArticleRepository, StoredArticle
from .listings import KEY_SPACES, PREFIX, RedisListings

COLLECTION = "read_model_generations"
POINTER = "pointer"
READ_MODEL_COLLECTIONS = ("articles", "article_versions", "article_slugs")
_NAME = re.compile(r"^g(0|[1-9][0-9]*)$")


@dataclass(frozen=True)
class Generation:
    number: int
    database: str
    redis_prefix: str
    group: str

    @property
    def name(self) -> str:
        return f"g{self.number}"


def generation(settings: Settings, number: int) -> Generation:
    if number == 0:
        return Generation(0, settings.publication_db, PREFIX, settings.publication_group)
    database = f"{settings.publication_db}_g{number}"
    return Generation(number, database, f"{PREFIX}:{database}", f"{settings.publication_group}.g{number}")


def parse_name(name: str) -> int:
    """`g3` -> 3; ValueError for anything else."""
    match = _NAME.match(name.strip())
    if match is None:
        raise ValueError(f"not a generation name: {name!r} (g0, g1, ...)")
    return int(match.group(1))


class GenerationStore:
    def __init__(self, client: AsyncMongoClient[dict[str, Any]], settings: Settings) -> None:
        self.settings = settings
        self.client = client
        self.records = client[settings.publication_db][COLLECTION]

    async def pointer(self) -> dict[str, Any]:
        return await self.records.find_one({"_id": POINTER}) or {"_id": POINTER, "current": 0, "last": 0}

    async def current(self) -> Generation:
        return generation(self.settings, int((await self.pointer())["current"]))

    async def claim(self, **record: Any) -> Generation:
        """A number no generation ever had, recorded as `building`."""
        number = int((await self.pointer())["last"]) + 1
        while True:
            try:
                await self.records.insert_one(
                    {"_id": f"g{number}", "number": number, "state": "building", **record}
                )
                break
            except DuplicateKeyError:
                number += 1
        pointer = await self.pointer()
        await self.records.replace_one(
            {"_id": POINTER}, {**pointer, "last": max(number, int(pointer["last"]))}, upsert=True
        )
        return generation(self.settings, number)

    async def record(self, number: int) -> dict[str, Any] | None:
        found = await self.records.find_one({"_id": f"g{number}"})
        if found is None and number == 0:
            return {"_id": "g0", "number": 0, "state": "complete", "legacy": True}
        return found

    async def update(self, number: int, **fields: Any) -> None:
        await self.records.update_one({"_id": f"g{number}"}, {"$set": fields})

    async def mark_dropped(self, number: int) -> None:
        record = await self.record(number) or {"_id": f"g{number}", "number": number}
        await self.records.replace_one(
            {"_id": f"g{number}"},
            {**record, "state": "dropped", "dropped_at": datetime.now(UTC)},
            upsert=True,
        )

    async def all(self) -> list[tuple[Generation, dict[str, Any]]]:
        last = int((await self.pointer())["last"])
        found = []
        for number in range(last + 1):
            record = await self.record(number)
            if record is not None:
                found.append((generation(self.settings, number), record))
        return found

    async def switch(self, number: int) -> None:
        """Make `number` current: every publication process follows within seconds."""
        pointer = await self.pointer()
        await self.records.replace_one(
            {"_id": POINTER},
            {**pointer, "current": number, "switched_at": datetime.now(UTC)},
            upsert=True,
        )


async def clear(
    client: AsyncMongoClient[dict[str, Any]], redis: Redis, target: Generation, *, batch: int = 10_000
) -> int:
    """Delete a generation's read model: its MongoDB collections and Redis keys. Returns the
    number of Redis keys deleted. g0's database keeps everything else (webhooks, keys, the
    generation records); a later generation's database holds only the read model."""
    database = client[target.database]
    if target.number == 0:
        for name in READ_MODEL_COLLECTIONS:
            await database.drop_collection(name)
    else:
        await client.drop_database(target.database)
    deleted = 0
    for space in KEY_SPACES:
        keys: list[bytes] = []
        async for key in redis.scan_iter(match=f"{target.redis_prefix}:{space}:*", count=batch):
            keys.append(key)
            if len(keys) >= batch:
                deleted += await redis.unlink(*keys)
                keys.clear()
        if keys:
            deleted += await redis.unlink(*keys)
    return deleted


class SwitchableArticles:
    """The article repository of whichever generation is current: the read API, the caches
    and the consumer hold this one object while the generation underneath changes."""

    def __init__(self, target: MongoArticleRepository) -> None:
        self.target = target

    async def save(self, article: ArticlePublished) -> StoredArticle:
        return await self.target.save(article)

    async def retract(self, retraction: ArticleRetracted) -> StoredArticle:
        return await self.target.retract(retraction)

    async def record_duplicate(self, article: ArticlePublished, duplicate: Duplicate) -> None:
        await self.target.record_duplicate(article, duplicate)

    async def get(self, article_id: str) -> StoredArticle | None:
        return await self.target.get(article_id)

    async def get_by_slug(self, slug: str) -> StoredArticle | None:
        return await self.target.get_by_slug(slug)


class SwitchableListings:
    """The lists of whichever generation is current (see SwitchableArticles)."""

    def __init__(self, target: RedisListings) -> None:
        self.target = target

    async def put(self, teaser: Teaser, lists: list[str]) -> None:
        await self.target.put(teaser, lists)

    async def remove(self, article_id: str) -> None:
        await self.target.remove(article_id)

    async def page(self, lst: str, *, cursor: str | None, limit: int) -> tuple[list[Teaser], str | None]:
        return await self.target.page(lst, cursor=cursor, limit=limit)

    async def teasers(self, article_ids: list[str]) -> list[Teaser]:
        return await self.target.teasers(article_ids)

    def list_key(self, lst: str) -> str:
        return self.target.list_key(lst)
