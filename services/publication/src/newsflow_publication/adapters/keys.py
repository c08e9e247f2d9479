"""Publication's API keys (for subscribers and operators), stored as SHA-256 hashes in
`api_keys`; a key is shown once, at creation.

A key reads `nfk_<key id>_<secret>`, as ingest's do: the id finds its document by `_id`,
the hash of the whole key is compared in constant time. Answers are cached for a few
seconds, so a revocation takes effect within that time."""

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pymongo import AsyncMongoClient

KEY_PREFIX = "nfk_"
SCOPES = ("webhooks",)
CACHE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Caller:
    key_id: str
    owner: str
    scopes: frozenset[str]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_id_of(key: str) -> str | None:
    if not key.startswith(KEY_PREFIX):
        return None
    key_id, _, secret = key[len(KEY_PREFIX) :].partition("_")
    return key_id if key_id and secret else None


class KeyStore(Protocol):
    async def authenticate(self, key: str) -> Caller | None: ...


class MongoKeyStore:
    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self.keys = client[database]["api_keys"]
        self._cache: dict[str, tuple[float, Caller | None]] = {}

    async def authenticate(self, key: str) -> Caller | None:
        digest = hash_key(key)
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        found = await self._lookup(key, digest)
        self._cache[digest] = (time.monotonic() + CACHE_SECONDS, found)
        return found

    async def _lookup(self, key: str, digest: str) -> Caller | None:
        key_id = key_id_of(key)
        if key_id is None:
            return None
        doc = await self.keys.find_one({"_id": key_id})
        if doc is None or doc.get("revoked_at") is not None or not hmac.compare_digest(doc["hash"], digest):
            return None
        return Caller(key_id=doc["_id"], owner=doc["owner"], scopes=frozenset(doc["scopes"]))

    async def create(self, *, owner: str, scopes: tuple[str, ...] = SCOPES) -> tuple[str, str]:
        """Returns (key id, key). Only the hash of the key is stored."""
        unknown = set(scopes) - set(SCOPES)
        if unknown:
            raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
        key_id = secrets.token_hex(6)
        key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        await self.keys.insert_one(
            {
                "_id": key_id,
                "hash": hash_key(key),
                "owner": owner,
                "scopes": list(scopes),
                "created_at": datetime.now(UTC),
                "revoked_at": None,
            }
        )
        return key_id, key

    async def list(self) -> list[dict[str, Any]]:
        return [d async for d in self.keys.find({}, projection={"hash": False}).sort("created_at")]

    async def revoke(self, key_id: str) -> bool:
        doc = await self.keys.find_one({"_id": key_id})
        if doc is None or doc.get("revoked_at") is not None:
            return False
        await self.keys.update_one({"_id": key_id}, {"$set": {"revoked_at": datetime.now(UTC)}})
        self._cache.clear()
        return True
