"""Where ingest remembers the latest version of each article (its own MongoDB database).

A head is written before its event is published and marked `sent` after, so an event
accepted but not yet on Kafka when the process died is published again at start."""

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
        article_id=doc["_id"],
        version=doc["version"],
        slug=doc["slug"],
        content_hash=doc["content_hash"],
        event_id=doc["event_id"],
        sent=doc["sent"],
    )


class MongoHeadStore:
    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self.heads: AsyncCollection[dict[str, Any]] = client[database]["article_heads"]

    async def create_indexes(self) -> None:
        await self.heads.create_index("sent")

    async def get(self, article_id: str) -> Head | None:
        doc = await self.heads.find_one({"_id": article_id}, projection={"event": False})
        return _head(doc) if doc else None

    async def save(self, event: ArticleIngested, *, event_id: str, previous_version: int) -> bool:
        """Store the new head if nobody stored another since `previous_version`."""
        doc = {
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
        if previous_version == 0:
            try:
                await self.heads.insert_one({"_id": event.article_id, **doc})
            except DuplicateKeyError:
                return False
            return True
        result = await self.heads.update_one(
            {"_id": event.article_id, "version": previous_version}, {"$set": doc}
        )
        return result.modified_count == 1

    async def mark_sent(self, article_id: str, version: int) -> None:
        await self.heads.update_one({"_id": article_id, "version": version}, {"$set": {"sent": True}})

    async def event_of(self, article_id: str) -> tuple[ArticleIngested, str] | None:
        doc = await self.heads.find_one({"_id": article_id}, projection={"event": True, "event_id": True})
        if not doc:
            return None
        return ArticleIngested.model_validate(doc["event"]), doc["event_id"]

    async def unsent(self) -> list[tuple[ArticleIngested, str]]:
        cursor = self.heads.find({"sent": False}, projection={"event": True, "event_id": True})
        return [(ArticleIngested.model_validate(d["event"]), d["event_id"]) async for d in cursor]
