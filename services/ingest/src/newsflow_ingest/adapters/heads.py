"""Where ingest remembers every accepted version of each article (its own MongoDB database).

A version is stored before its event is published and marked `sent` after, so an event
accepted but not yet on Kafka when the process died is published again. An embargoed
version is stored unsent with `hold_until`, and listed in the small `held_versions`
collection that the release loop reads.

Each accepted version is one document, `_id` = `<article id>:<version>`, inserted once: the
unique `_id` is what lets only one of two racing requests take a version number.
`article_heads` keeps a hint of each article's latest version; `get` probes past it for
versions stored after the hint (a crash, or a racing write, can leave it behind).

Every read and write goes by `_id`: FerretDB v1 on SQLite pushes down nothing else, and it
does not apply concurrent conditional updates of one document atomically."""

import contextlib
from datetime import UTC, datetime
from typing import Any, Protocol

from newsflow_contracts.events import ArticleIngested, ArticleRetracted
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from ..domain.articles import AcceptedEvent, Head, retraction_hash

Pending = tuple[AcceptedEvent, str]
"""An accepted version's event and its event id."""


class HeadStore(Protocol):
    async def get(self, article_id: str) -> Head | None: ...
    async def save(
        self,
        event: AcceptedEvent,
        *,
        event_id: str,
        previous_version: int,
        hold_until: datetime | None = None,
    ) -> bool: ...
    async def mark_sent(self, article_id: str, version: int, *, superseded: bool = False) -> None: ...
    async def event_of(self, article_id: str, version: int | None = None) -> Pending | None: ...
    async def unsent(self) -> list[Pending]: ...
    async def due(self, now: datetime) -> list[tuple[str, int]]: ...


def version_id(article_id: str, version: int) -> str:
    return f"{article_id}:{version}"


def _head(doc: dict[str, Any]) -> Head:
    return Head(
        article_id=doc["_id"].rsplit(":", 1)[0],
        version=doc["version"],
        slug=doc["slug"],
        content_hash=doc["content_hash"],
        event_id=doc["event_id"],
        sent=doc["sent"],
        source=doc.get("source", ""),
        external_id=doc.get("external_id", ""),
        retracted=doc.get("retracted"),
        hold_until=doc.get("hold_until"),
    )


def _event(doc: dict[str, Any]) -> AcceptedEvent:
    if doc.get("event_type") == ArticleRetracted.event_type:
        return ArticleRetracted.model_validate(doc["event"])
    return ArticleIngested.model_validate(doc["event"])


class MongoHeadStore:
    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        db = client[database]
        self.versions: AsyncCollection[dict[str, Any]] = db["accepted_versions"]
        self.hints: AsyncCollection[dict[str, Any]] = db["article_heads"]
        self.held: AsyncCollection[dict[str, Any]] = db["held_versions"]

    async def create_indexes(self) -> None:
        await self.versions.create_index("sent")

    async def get(self, article_id: str) -> Head | None:
        doc = await self._latest(article_id, projection={"event": False})
        return _head(doc) if doc else None

    async def _latest(self, article_id: str, *, projection: dict[str, bool]) -> dict[str, Any] | None:
        hint = await self.hints.find_one({"_id": article_id})
        version = hint["version"] if hint else 0
        latest = None
        while found := await self.versions.find_one({"_id": version_id(article_id, version + 1)}, projection):
            latest, version = found, version + 1
        if latest is None and version > 0:
            latest = await self.versions.find_one({"_id": version_id(article_id, version)}, projection)
        return latest

    async def save(
        self,
        event: AcceptedEvent,
        *,
        event_id: str,
        previous_version: int,
        hold_until: datetime | None = None,
    ) -> bool:
        """Store the new version if nobody stored another since `previous_version`."""
        if event.version != previous_version + 1:
            raise ValueError(f"version {event.version} does not follow {previous_version}")
        if isinstance(event, ArticleRetracted):
            digest, retracted = retraction_hash(event.kind, event.reason), event.kind
        else:
            digest, retracted = event.content_hash, None
        _id = version_id(event.article_id, event.version)
        try:
            await self.versions.insert_one(
                {
                    "_id": _id,
                    "version": event.version,
                    "slug": event.slug,
                    "content_hash": digest,
                    "retracted": retracted,
                    "event_id": event_id,
                    "event_type": event.event_type,
                    "event": event.model_dump(mode="json"),
                    "source": event.source,
                    "external_id": event.external_id,
                    "sent": False,
                    "hold_until": hold_until,
                    "stored_at": datetime.now(UTC),
                }
            )
        except DuplicateKeyError:
            return False
        if hold_until is not None:
            await self.held.replace_one({"_id": _id}, {"hold_until": hold_until}, upsert=True)
        with contextlib.suppress(DuplicateKeyError):  # two first versions racing: either hint will do
            await self.hints.update_one(
                {"_id": event.article_id}, {"$max": {"version": event.version}}, upsert=True
            )
        return True

    async def mark_sent(self, article_id: str, version: int, *, superseded: bool = False) -> None:
        """Sent, or superseded: a held version replaced by a newer one is never sent."""
        _id = version_id(article_id, version)
        await self.versions.update_one({"_id": _id}, {"$set": {"sent": True, "superseded": superseded}})
        await self.held.delete_one({"_id": _id})

    async def event_of(self, article_id: str, version: int | None = None) -> Pending | None:
        """The event of the given version, or of the latest one."""
        projection = {"event": True, "event_id": True, "event_type": True}
        if version is None:
            doc = await self._latest(article_id, projection=projection)
        else:
            doc = await self.versions.find_one({"_id": version_id(article_id, version)}, projection)
        return (_event(doc), doc["event_id"]) if doc else None

    async def unsent(self) -> list[Pending]:
        """Versions accepted but not yet on Kafka and not held, oldest first per article."""
        now = datetime.now(UTC)
        cursor = self.versions.find(
            {"sent": False},
            projection={"event": True, "event_id": True, "event_type": True, "hold_until": True},
        )
        pending = [
            (_event(d), d["event_id"])
            async for d in cursor
            if d.get("hold_until") is None or _aware(d["hold_until"]) <= now
        ]
        return sorted(pending, key=lambda item: (item[0].article_id, item[0].version))

    async def due(self, now: datetime) -> list[tuple[str, int]]:
        """Held versions whose embargo has passed, as (article id, version)."""
        due = [doc["_id"] async for doc in self.held.find({}) if _aware(doc["hold_until"]) <= now]
        return [(_id.rsplit(":", 1)[0], int(_id.rsplit(":", 1)[1])) for _id in sorted(due)]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
