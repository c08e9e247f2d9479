"""Publisher API keys, stored as SHA-256 hashes; the key itself is shown once, at creation."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pymongo import AsyncMongoClient

KEY_PREFIX = "nfk_"
SCOPES = ("publish", "retract")


@dataclass(frozen=True, slots=True)
class Publisher:
    key_id: str
    source: str
    scopes: frozenset[str]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyStore(Protocol):
    async def authenticate(self, key: str) -> Publisher | None: ...


class MongoKeyStore:
    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self.keys = client[database]["api_keys"]

    async def create_indexes(self) -> None:
        await self.keys.create_index("hash", unique=True)

    async def authenticate(self, key: str) -> Publisher | None:
        if not key.startswith(KEY_PREFIX):
            return None
        doc = await self.keys.find_one({"hash": hash_key(key), "revoked_at": None})
        if doc is None:
            return None
        return Publisher(key_id=doc["_id"], source=doc["source"], scopes=frozenset(doc["scopes"]))

    async def create(self, *, source: str, scopes: tuple[str, ...] = SCOPES) -> tuple[str, str]:
        """Returns (key id, key). Only the hash of the key is stored."""
        unknown = set(scopes) - set(SCOPES)
        if unknown:
            raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        key_id = secrets.token_hex(6)
        await self.keys.insert_one(
            {
                "_id": key_id,
                "hash": hash_key(key),
                "source": source,
                "scopes": list(scopes),
                "created_at": datetime.now(UTC),
                "revoked_at": None,
            }
        )
        return key_id, key

    async def list(self) -> list[dict[str, Any]]:
        return [d async for d in self.keys.find({}, projection={"hash": False}).sort("created_at")]

    async def revoke(self, key_id: str) -> bool:
        result = await self.keys.update_one(
            {"_id": key_id, "revoked_at": None}, {"$set": {"revoked_at": datetime.now(UTC)}}
        )
        return result.modified_count == 1
