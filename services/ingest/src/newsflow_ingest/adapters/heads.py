"""Where ingest remembers the latest version of each article (its own MongoDB database).

A head is written before its event is published and marked `sent` after, so an event
accepted but not yet on Kafka when the process died is published again at start."""

import contextlib
from datetime import UTC, datetime
from typing import Any, Protocol

from newsflow_contracts.events import ArticleIngested
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from ..domain.articles import Head


class HeadStore(Protocol):
    async def get(self, article_id: str) -> Head | None: ...
    async def save(self, event: ArticleIngested, *, event_id: str, previous_version: int) -> bool: ...
    async def mark_sent(self, article_id: str, version: int) -> None: ...
    async def event_of(self, article_id: str) -> tuple[ArticleIngested, str] | None: ...
    async def unsent(self) -> list[tuple[ArticleIngested, str]]: ...


def _head(doc: dict[str, Any]) -> Head:
    return Head(
        article_id=doc["_id"].rsplit(":", 1)[0],
        version=doc["version"],
        slug=doc["slug"],
        content_hash=doc["content_hash"],
        event_id=doc["event_id"],
        sent=doc["sent"],
    )


class MongoHeadStore:
    """Each accepted version is one document, `_id` = `<article id>:<version>`, inserted once:
    the unique `_id` is what lets only one of two racing requests take a version number.
    `article_heads` keeps a hint of each article's latest version; `get` probes past it for
    versions stored after the hint (a crash, or a racing write, can leave it behind).

    Every read and write goes by `_id`: FerretDB v1 on SQLite pushes down nothing else,
    and it does not apply concurrent conditional updates of one document atomically."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self.versions: AsyncCollection[dict[str, Any]] = client[database]["accepted_versions"]
        self.hints: AsyncCollection[dict[str, Any]] = client[database]["article_heads"]

    async def create_indexes(self) -> None:
        await self.versions.create_index("sent")

    async def get(self, article_id: str) -> Head | None:
        doc = await self._latest(article_id, projection={"event": False})
        return _head(doc) if doc else None

    async def _latest(self, article_id: str, *, projection: dict[str, bool]) -> dict[str, Any] | None:
        hint = await self.hints.find_one({"_id": article_id})
        version = hint["version"] if hint else 0
        latest = None
        while found := await self.versions.find_one(
            {"_id": _version_id(article_id, version + 1)}, projection
        ):
            latest, version = found, version + 1
        if latest is None and version > 0:
            latest = await self.versions.find_one({"_id": _version_id(article_id, version)}, projection)
        return latest

    async def save(self, event: ArticleIngested, *, event_id: str, previous_version: int) -> bool:
        """Store the new version if nobody stored another since `previous_version`."""
        if event.version != previous_version + 1:
            raise ValueError(f"version {event.version} does not follow {previous_version}")
        try:
            await self.versions.insert_one(
                {
                    "_id": _version_id(event.article_id, event.version),
                    "version": event.version,
                    "slug": event.slug,
                    "content_hash": event.content_hash,
                    "event_id": event_id,
                    "event": event.model_dump(mode="json"),
                    "source": event.source,
                    "external_id": event.external_id,
                    "sent": False,
                    "stored_at": datetime.now(UTC),
                }
            )
        except DuplicateKeyError:
            return False
        with contextlib.suppress(DuplicateKeyError):  # two first versions racing: either hint will do
            await self.hints.update_one(
                {"_id": event.article_id}, {"$max": {"version": event.version}}, upsert=True
            )
        return True

    async def mark_sent(self, article_id: str, version: int) -> None:
        await self.versions.update_one({"_id": _version_id(article_id, version)}, {"$set": {"sent": True}})

    async def event_of(self, article_id: str) -> tuple[ArticleIngested, str] | None:
        doc = await self._latest(article_id, projection={"event": True, "event_id": True})
        if not doc:
            return None
        return ArticleIngested.model_validate(doc["event"]), doc["event_id"]

    async def unsent(self) -> list[tuple[ArticleIngested, str]]:
        """Versions accepted but not yet on Kafka, oldest first per article."""
        cursor = self.versions.find({"sent": False}, projection={"event": True, "event_id": True})
        pending = [(ArticleIngested.model_validate(d["event"]), d["event_id"]) async for d in cursor]
        return sorted(pending, key=lambda item: (item[0].article_id, item[0].version))


def _version_id(article_id: str, version: int) -> str:
    return f"{article_id}:{version}"
