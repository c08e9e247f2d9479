"""Write-behind twins of the article repository and the lists, for a replay into a fresh
generation: the consumer's own handling runs against them record by record, and they write
what it decided in bulk at each `flush`.

The result is what MongoArticleRepository and RedisListings would have written for the same
records in the same order (an integration test compares the two):

- a version's record and a slug are inserted if absent, the first one wins, as one
  unordered `insert_many` per flush (duplicate keys ignored);
- the current state keeps the newest version: only the last state of each article in a
  flush is written, inserted when the article is new to the generation, replaced by `_id`
  otherwise. (One `replace_one` a call: FerretDB v1 holds a connection per statement of a
  multi-statement update until the command ends, and hangs at its pool's 100.)
- a takedown erases the content of the versions on record at that moment: those still in
  the buffer at once, those already written by the repository's own update;
- the lists replay put and remove on each article's entry and write the net effect with one
  pipeline: ZADD for a list the article entered (the score it entered with), ZREM for a list
  it left, its `in` set and its teaser.

A flush can be repeated after a failure (every write is idempotent), and the buffers are
emptied only once it succeeded. The replay is the generation's only writer, which is what
lets these classes remember what they wrote instead of reading it back."""

from collections.abc import Iterable
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

DUPLICATE_KEY = 11000


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


def _erase(version: dict[str, Any]) -> None:
    """What the repository's takedown does to a version on record (unless it is a retraction)."""
    if RETRACTED not in version.get("state", {}):
        version.pop("state", None)
        version["taken_down"] = True


class RebuildArticles:
    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self.repository = MongoArticleRepository(client, database)
        self.stored_version: dict[str, int] = {}
        """Article id -> the version of its state written to MongoDB."""
        self.with_versions: set[str] = set()
        """Articles with version records written to MongoDB."""
        self.current: dict[str, StoredArticle] = {}
        self.versions: dict[str, dict[str, Any]] = {}
        self.slugs: dict[str, str] = {}

    async def create_indexes(self) -> None:
        await self.repository.create_indexes()

    async def save(self, article: ArticlePublished) -> StoredArticle:
        return await self._apply(article)

    async def retract(self, retraction: ArticleRetracted) -> StoredArticle:
        stored = await self._apply(retraction)
        if retraction.kind == "takedown":
            for version in self.versions.values():
                if version["article_id"] == retraction.article_id:
                    _erase(version)
            if retraction.article_id in self.with_versions:
                await self.repository.versions.update_many(
                    {"article_id": retraction.article_id, f"state.{RETRACTED}": {"$exists": False}},
                    {"$unset": {"state": ""}, "$set": {"taken_down": True}},
                )
        return stored

    async def record_duplicate(self, article: ArticlePublished, duplicate: Duplicate) -> None:
        self.versions.setdefault(
            f"{article.article_id}:{article.version}",
            {
                "_id": f"{article.article_id}:{article.version}",
                "article_id": article.article_id,
                "version": article.version,
                "state": _document(article),
                "duplicate": duplicate.model_dump(mode="json"),
            },
        )

    async def _apply(self, state: StoredArticle) -> StoredArticle:
        article_id = state.article_id
        self.versions.setdefault(
            f"{article_id}:{state.version}",
            {
                "_id": f"{article_id}:{state.version}",
                "article_id": article_id,
                "version": state.version,
                "state": _document(state),
            },
        )
        self.slugs.setdefault(state.slug, article_id)
        pending = self.current.get(article_id)
        stored = pending.version if pending is not None else self.stored_version.get(article_id)
        if stored is not None and stored >= state.version:
            current = pending or await self.repository.get(article_id)
            if current is None:
                raise RuntimeError(f"article {article_id} vanished while being rebuilt")
            return current  # a redelivery or a stale version: no write
        self.current[article_id] = state
        return state

    async def get(self, article_id: str) -> StoredArticle | None:
        return self.current.get(article_id) or await self.repository.get(article_id)

    async def get_by_slug(self, slug: str) -> StoredArticle | None:
        if slug in self.slugs:
            return await self.get(self.slugs[slug])
        return await self.repository.get_by_slug(slug)

    async def flush(self) -> None:
        await insert_new(self.repository.versions, list(self.versions.values()))
        await insert_new(self.repository.slugs, [{"_id": s, "article_id": a} for s, a in self.slugs.items()])
        new = {a: s for a, s in self.current.items() if a not in self.stored_version}
        await insert_new(self.repository.articles, [{"_id": a, **_document(s)} for a, s in new.items()])
        for article_id, state in self.current.items():
            if article_id not in new:
                await self.repository.articles.replace_one({"_id": article_id}, _document(state), upsert=True)
        self.with_versions.update(v["article_id"] for v in self.versions.values())
        self.stored_version.update((a, s.version) for a, s in self.current.items())
        self.versions, self.slugs, self.current = {}, {}, {}

    @property
    def pending(self) -> int:
        return len(self.versions)


@dataclass
class _Entry:
    before: set[str]
    """The lists the article was in when the flush began (its `in` set in Redis)."""
    lists: dict[str, float | None] = field(default_factory=dict)
    """The lists it is in now -> the score it entered with, None when that is `before`'s."""
    teaser: str | None = None


class RebuildListings:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.listings = RedisListings(redis, prefix)
        self.redis = redis
        self.listed: set[str] = set()
        """Articles with an `in` set in Redis."""
        self.entries: dict[str, _Entry] = {}

    def _in_key(self, article_id: str) -> str:
        return f"{self.listings.prefix}:in:{article_id}"

    async def _entry(self, article_id: str) -> _Entry:
        entry = self.entries.get(article_id)
        if entry is None:
            before: set[str] = set()
            if article_id in self.listed:
                before = {_text(m) for m in await self.redis.smembers(self._in_key(article_id))}
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

    async def flush(self, chunk: int = 2000) -> None:
        items = list(self.entries.items())
        for start in range(0, len(items), chunk):
            await self._write(items[start : start + chunk])
        for article_id, entry in items:
            if entry.lists:
                self.listed.add(article_id)
            else:
                self.listed.discard(article_id)
        self.entries = {}

    async def _write(self, items: Iterable[tuple[str, _Entry]]) -> None:
        prefix = self.listings.prefix
        async with self.redis.pipeline(transaction=False) as pipe:
            for article_id, entry in items:
                for lst in entry.before - entry.lists.keys():
                    pipe.zrem(f"{prefix}:list:{lst}", article_id)
                for lst, score in entry.lists.items():
                    if score is not None:
                        pipe.zadd(f"{prefix}:list:{lst}", {article_id: score})
                in_key = self._in_key(article_id)
                pipe.delete(in_key)
                if entry.lists:
                    pipe.sadd(in_key, *entry.lists)
                if entry.teaser is None:
                    pipe.delete(f"{prefix}:teaser:{article_id}")
                else:
                    pipe.set(f"{prefix}:teaser:{article_id}", entry.teaser)
            await pipe.execute()
