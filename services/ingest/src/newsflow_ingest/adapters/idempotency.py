"""`Idempotency-Key` records: the first request with a key is processed, a repeat with the
same body gets the stored answer, a repeat with another body is refused.

Collection `idempotency_keys`, `_id` = `<source>:<key>`: inserting it is the atomic claim.
Records expire after a day (checked on read: FerretDB has no TTL indexes)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

LIFETIME = timedelta(hours=24)


class KeyReused(ValueError):
    """The key was used before with a different request."""


class KeyInFlight(RuntimeError):
    """A request with this key is still being processed."""


@dataclass(frozen=True, slots=True)
class Replay:
    status: int
    body: dict[str, Any]


class IdempotencyStore(Protocol):
    async def begin(self, scope: str, key: str, fingerprint: str) -> Replay | None: ...
    async def complete(self, scope: str, key: str, status: int, body: dict[str, Any]) -> None: ...
    async def abandon(self, scope: str, key: str) -> None: ...


class MongoIdempotencyStore:
    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self.records = client[database]["idempotency_keys"]

    async def begin(self, scope: str, key: str, fingerprint: str) -> Replay | None:
        """None: go ahead (the key is now claimed). A `Replay`: answer with it."""
        _id = f"{scope}:{key}"
        for _ in range(3):
            try:
                await self.records.insert_one(
                    {"_id": _id, "fingerprint": fingerprint, "created_at": datetime.now(UTC), "status": None}
                )
                return None
            except DuplicateKeyError:
                doc = await self.records.find_one({"_id": _id})
            if doc is None:
                continue
            if _aware(doc["created_at"]) < datetime.now(UTC) - LIFETIME:
                await self.records.delete_one({"_id": _id})
                continue
            if doc["fingerprint"] != fingerprint:
                raise KeyReused(key)
            if doc.get("status") is None:
                raise KeyInFlight(key)
            return Replay(status=doc["status"], body=doc["body"])
        raise KeyInFlight(key)

    async def complete(self, scope: str, key: str, status: int, body: dict[str, Any]) -> None:
        await self.records.update_one({"_id": f"{scope}:{key}"}, {"$set": {"status": status, "body": body}})

    async def abandon(self, scope: str, key: str) -> None:
        """The request failed: forget the key, so that the client's retry is processed."""
        await self.records.delete_one({"_id": f"{scope}:{key}"})


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
