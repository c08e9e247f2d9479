"""Write-behind twins of the article repository and the lists, for a replay into a fresh
generation: the consumer's own handling runs against them record by record, and they write
what it decided in bulk, one batch at a time, in the background while the next batch is
being decided (`start_flush`, `drain`).

The result is what MongoArticleRepository and RedisListings would have written for the same
records in the same order (an integration test compares the two), in the same compact shape
(`articles._document`: the content as one compressed binary field, which is what lets
FerretDB take the inserts fast):

- a version's record and a slug are inserted if absent, the first one wins: unordered
  `insert_many` calls (duplicate keys ignored);
- the current state keeps the newest version: only the last state of each article in a
  batch is written, inserted when the article is new to the generation, replaced by `_id`
  otherwise. (One `replace_one` a call: FerretDB v1 holds a connection per statement of a
  multi-statement update until the command ends, and hangs at its pool's 100.)
- a takedown erases the content of the versions on record at that moment: those still
  buffered at once; for those already written it waits for the batch in flight and runs
  the repository's own update;
- the lists replay put and remove on each article's entry and write the net effect as
  one-key commands sent in a few script calls (`redis_commands.py`; a pipeline of them cost
  more client CPU than the rest of the lists' work): one ZADD per list for the articles that
  entered it (with the score they entered with), ZREM for a list an article left, its `in`
  set and its teaser.

A batch's writes are idempotent, so a failed one is simply written again (`retry`); batches
are written one after the other. The replay is the generation's only writer, which is what
lets these classes remember what they wrote instead of reading it back."""

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from newsflow_contracts.events import ArticlePublished, ArticleRetracted, Duplicate
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError
from redis.asyncio import Redis

from ..domain.listings import Teaser
from .articles import RETRACTED, MongoArticleRepository, StoredArticle, _document
from .listings import RedisListings, _score, _text
from .redis_commands import OneKeyCommands

DUPLICATE_KEY = 11000
INSERT_CHUNK = 250
"""Documents per insert_many call; a few calls in flight at once keep FerretDB busier."""
CONCURRENT_WRITES = 4

Retry = Callable[[str, Callable[[], Awaitable[None]]], Awaitable[None]]


async def _once(what: str, operation: Callable[[], Awaitable[None]]) -> None:
    await operation()


async def insert_new(collection: AsyncCollection[dict[str, Any]], documents: list[dict[str, Any]]) -> None:
    """Insert every document whose `_id` is not taken yet; the ones already there stay."""
    if not documents:
        return
    try:
        await collection.insert_many(documents, ordered=False)
    except BulkWriteError as error:
        details = error.details
        if details.get("writeConcernErrors") or any(
            e.get("code") != DUPLICATE_KEY for e in details.get("writeErrors", [])
        ):
            raise


async def _bounded(operations: list[Callable[[], Awaitable[None]]]) -> None:
    limit = asyncio.Semaphore(CONCURRENT_WRITES)

    async def run(operation: Callable[[], Awaitable[None]]) -> None:
        async with limit:
            await operation()

    await asyncio.gather(*(run(op) for op in operations))


def _erase(version: dict[str, Any]) -> None:
    """What the repository's takedown does to a version on record (unless it is a retraction)."""
    if RETRACTED not in version.get("state", {}):
        version.pop("state", None)
        version["taken_down"] = True


@dataclass
class _Batch:
    current: dict[str, tuple[StoredArticle, dict[str, Any]]] = field(default_factory=dict)
    """Article id -> its newest state and that state's document."""
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)
    slugs: dict[str, str] = field(default_factory=dict)


class _Background:
    """One batch written at a time, in a task; `drain` waits for it (and raises its error)."""

    def __init__(self, retry: Retry) -> None:
        self.retry = retry
        self.task: asyncio.Task[None] | None = None

    def start(self, what: str, write: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        if self.task is not None and not self.task.done():
            raise RuntimeError("drain the batch in flight before starting another")
        self.task = asyncio.ensure_future(self.retry(what, write))
        return self.task

    async def drain(self) -> None:
        """Raises the batch's error, again at every call: a batch is never skipped."""
        if self.task is not None:
            await self.task
            self.task = None


class RebuildArticles:
    def __init__(
        self, client: AsyncMongoClient[dict[str, Any]], database: str, *, retry: Retry = _once
    ) -> None:
        self.repository = MongoArticleRepository(client, database)
        self.stored_version: dict[str, int] = {}
        """Article id -> the version of its state written to MongoDB."""
        self.with_versions: set[str] = set()
        """Articles with version records written to MongoDB."""
        self.batch = _Batch()
        self.in_flight = _Batch()
        self.writer = _Background(retry)

    async def create_indexes(self) -> None:
        await self.repository.create_indexes()

    async def save(self, article: ArticlePublished) -> StoredArticle:
        return await self._apply(article)

    async def retract(self, retraction: ArticleRetracted) -> StoredArticle:
        stored = await self._apply(retraction)
        if retraction.kind == "takedown":
            for version in self.batch.versions.values():
                if version["article_id"] == retraction.article_id:
                    _erase(version)
            if any(v["article_id"] == retraction.article_id for v in self.in_flight.versions.values()):
                await self.drain()
            if retraction.article_id in self.with_versions:
                await self.repository.erase_versions(retraction.article_id)
        return stored

    async def record_duplicate(self, article: ArticlePublished, duplicate: Duplicate) -> None:
        self.batch.versions.setdefault(
            f"{article.article_id}:{article.version}",
            {
                "_id": f"{article.article_id}:{article.version}",
                "article_id": article.article_id,
                "version": article.version,
                "state": _document(article),
                "duplicate": duplicate.model_dump(mode="json"),
            },
        )

    def _pending(self, article_id: str) -> StoredArticle | None:
        found = self.batch.current.get(article_id) or self.in_flight.current.get(article_id)
        return found[0] if found else None

    async def _apply(self, state: StoredArticle) -> StoredArticle:
        article_id, document = state.article_id, _document(state)
        self.batch.versions.setdefault(
            f"{article_id}:{state.version}",
            {
                "_id": f"{article_id}:{state.version}",
                "article_id": article_id,
                "version": state.version,
                "state": document,
            },
        )
        self.batch.slugs.setdefault(state.slug, article_id)
        pending = self._pending(article_id)
        stored = pending.version if pending is not None else self.stored_version.get(article_id)
        if stored is not None and stored >= state.version:
            current = pending or await self.repository.get(article_id)
            if current is None:
                raise RuntimeError(f"article {article_id} vanished while being rebuilt")
            return current  # a redelivery or a stale version: no write
        self.batch.current[article_id] = (state, document)
        return state

    async def get(self, article_id: str) -> StoredArticle | None:
        return self._pending(article_id) or await self.repository.get(article_id)

    async def get_by_slug(self, slug: str) -> StoredArticle | None:
        article_id = self.batch.slugs.get(slug) or self.in_flight.slugs.get(slug)
        if article_id is not None:
            return await self.get(article_id)
        return await self.repository.get_by_slug(slug)

    def start_flush(self) -> asyncio.Task[None]:
        """Write what is buffered, in the background; the next batch buffers meanwhile."""
        batch, self.batch = self.batch, _Batch()
        self.in_flight = batch
        return self.writer.start("writing articles", lambda: self._write(batch))

    async def drain(self) -> None:
        await self.writer.drain()

    async def flush(self) -> None:
        await self.drain()
        await self.start_flush()

    async def _write(self, batch: _Batch) -> None:
        new = [{"_id": a, **doc} for a, (_, doc) in batch.current.items() if a not in self.stored_version]
        versions = list(batch.versions.values())
        slugs = [{"_id": s, "article_id": a} for s, a in batch.slugs.items()]
        operations: list[Callable[[], Awaitable[None]]] = []
        for collection, documents in (
            (self.repository.versions, versions),
            (self.repository.slugs, slugs),
            (self.repository.articles, new),
        ):
            for start in range(0, len(documents), INSERT_CHUNK):
                chunk = documents[start : start + INSERT_CHUNK]
                operations.append(lambda c=collection, d=chunk: insert_new(c, d))  # type: ignore[misc]
        for article_id, (_, document) in batch.current.items():
            if article_id in self.stored_version:
                operations.append(
                    lambda a=article_id, d=document: self._replace(a, d)  # type: ignore[misc]
                )
        await _bounded(operations)
        self.with_versions.update(v["article_id"] for v in versions)
        self.stored_version.update((a, s.version) for a, (s, _) in batch.current.items())
        if self.in_flight is batch:
            self.in_flight = _Batch()

    async def _replace(self, article_id: str, document: dict[str, Any]) -> None:
        await self.repository.articles.replace_one({"_id": article_id}, document, upsert=True)


@dataclass
class _Entry:
    before: set[str]
    """The lists the article is in in Redis before this batch (its `in` set)."""
    lists: dict[str, float | None] = field(default_factory=dict)
    """The lists it is in now -> the score it entered with, None when that is `before`'s."""
    teaser: str | None = None


class RebuildListings:
    def __init__(self, redis: Redis, prefix: str, *, retry: Retry = _once) -> None:
        self.listings = RedisListings(redis, prefix)
        self.redis = redis
        self.listed: set[str] = set()
        """Articles with an `in` set written to Redis."""
        self.entries: dict[str, _Entry] = {}
        self.in_flight: dict[str, _Entry] = {}
        self.writer = _Background(retry)

    def _key(self, space: str, name: str) -> str:
        return f"{self.listings.prefix}:{space}:{name}"

    async def _entry(self, article_id: str) -> _Entry:
        entry = self.entries.get(article_id)
        if entry is not None:
            return entry
        flying = self.in_flight.get(article_id)
        if flying is not None:  # Redis will hold that entry's lists
            before = set(flying.lists)
        elif article_id in self.listed:
            before = {_text(m) for m in await self.redis.smembers(self._key("in", article_id))}
        else:
            before = set()
        entry = self.entries[article_id] = _Entry(before, dict.fromkeys(before))
        return entry

    async def put(self, teaser: Teaser, lists: list[str]) -> None:
        entry = await self._entry(teaser.article_id)
        score = _score(teaser.first_published_at or teaser.published_at)
        for lst in [lst for lst in entry.lists if lst not in lists]:
            del entry.lists[lst]
        for lst in lists:
            entry.lists.setdefault(lst, score)
        entry.teaser = teaser.model_dump_json()

    async def remove(self, article_id: str) -> None:
        entry = await self._entry(article_id)
        entry.lists.clear()
        entry.teaser = None

    async def page(self, lst: str, *, cursor: str | None, limit: int) -> tuple[list[Teaser], str | None]:
        return await self.listings.page(lst, cursor=cursor, limit=limit)

    async def teasers(self, article_ids: list[str]) -> list[Teaser]:
        return await self.listings.teasers(article_ids)

    def list_key(self, lst: str) -> str:
        return self.listings.list_key(lst)

    def start_flush(self) -> asyncio.Task[None]:
        entries, self.entries = self.entries, {}
        self.in_flight = entries
        return self.writer.start("writing lists", lambda: self._write(entries))

    async def drain(self) -> None:
        await self.writer.drain()

    async def flush(self) -> None:
        await self.drain()
        await self.start_flush()

    async def _write(self, entries: dict[str, _Entry], chunk: int = 2000) -> None:
        items = list(entries.items())
        for start in range(0, len(items), chunk):
            await self._write_chunk(items[start : start + chunk])
        for article_id, entry in items:
            if entry.lists:
                self.listed.add(article_id)
            else:
                self.listed.discard(article_id)
        if self.in_flight is entries:
            self.in_flight = {}

    async def _write_chunk(self, items: list[tuple[str, _Entry]]) -> None:
        entering: dict[str, dict[str, float]] = defaultdict(dict)
        commands = OneKeyCommands()
        for article_id, entry in items:
            for lst in entry.before - entry.lists.keys():
                commands.add("ZREM", self._key("list", lst), article_id)
            for lst, score in entry.lists.items():
                if score is not None:
                    entering[lst][article_id] = score
            in_key = self._key("in", article_id)
            if entry.before or article_id in self.listed:
                commands.add("DEL", in_key)  # a key this generation never wrote is not there
            if entry.lists:
                commands.add("SADD", in_key, *entry.lists)
            if entry.teaser is not None:
                commands.add("SET", self._key("teaser", article_id), entry.teaser)
            elif article_id in self.listed or entry.before:
                commands.add("DEL", self._key("teaser", article_id))
        for lst, members in entering.items():
            commands.add_zadd(self._key("list", lst), members)
        await commands.send(self.redis)
