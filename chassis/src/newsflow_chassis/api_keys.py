"""API keys, stored as SHA-256 hashes in a service's `api_keys` collection; a key is shown
once, at creation.

A key reads `nfk_<key id>_<secret>`: the id finds its document by `_id` (the only lookup
FerretDB serves without a scan), the hash of the whole key is compared in constant time.
Answers are cached for a few seconds, so a revocation takes effect within that time. Each
service names who holds its keys (ingest: the publisher's source; publication: the owner of
webhook subscriptions) and which scopes exist."""

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pymongo import AsyncMongoClient

from .problems import Problem

KEY_PREFIX = "nfk_"
CACHE_SECONDS = 5.0
K = TypeVar("K")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_id_of(key: str) -> str | None:
    if not key.startswith(KEY_PREFIX):
        return None
    key_id, _, secret = key[len(KEY_PREFIX) :].partition("_")
    return key_id if key_id and secret else None


class MongoApiKeys(Generic[K]):
    """`make(key id, holder, scopes)` builds the service's own view of an authenticated key."""

    def __init__(
        self,
        client: AsyncMongoClient[dict[str, Any]],
        database: str,
        *,
        holder_field: str,
        scopes: tuple[str, ...],
        make: Callable[[str, str, frozenset[str]], K],
    ) -> None:
        self.keys = client[database]["api_keys"]
        self.holder_field = holder_field
        self.scopes = scopes
        self._make = make
        self._cache: dict[str, tuple[float, K | None]] = {}

    async def authenticate(self, key: str) -> K | None:
        digest = hash_key(key)
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        found = await self._lookup(key, digest)
        self._cache[digest] = (time.monotonic() + CACHE_SECONDS, found)
        return found

    async def _lookup(self, key: str, digest: str) -> K | None:
        key_id = key_id_of(key)
        if key_id is None:
            return None
        doc = await self.keys.find_one({"_id": key_id})
        if doc is None or doc.get("revoked_at") is not None or not hmac.compare_digest(doc["hash"], digest):
            return None
        return self._make(doc["_id"], doc[self.holder_field], frozenset(doc["scopes"]))

    async def create_for(self, holder: str, scopes: tuple[str, ...]) -> tuple[str, str]:
        """Returns (key id, key). Only the hash of the key is stored."""
        unknown = set(scopes) - set(self.scopes)
        if unknown:
            raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
        key_id = secrets.token_hex(6)
        key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        await self.keys.insert_one(
            {
                "_id": key_id,
                "hash": hash_key(key),
                self.holder_field: holder,
                "scopes": list(scopes),
                "created_at": datetime.now(UTC),
                "revoked_at": None,
            }
        )
        return key_id, key

    async def holders(self) -> set[str]:
        """Holders with at least one active key."""
        return {d[self.holder_field] async for d in self.keys.find({}) if d.get("revoked_at") is None}

    async def list(self) -> list[dict[str, Any]]:
        return [d async for d in self.keys.find({}, projection={"hash": False}).sort("created_at")]

    async def revoke(self, key_id: str) -> bool:
        doc = await self.keys.find_one({"_id": key_id})
        if doc is None or doc.get("revoked_at") is not None:
            return False
        await self.keys.update_one({"_id": key_id}, {"$set": {"revoked_at": datetime.now(UTC)}})
        self._cache.clear()
        return True


async def authenticated(keys: Any, credentials: Any, *, realm: str) -> Any:
    """The holder of the bearer key of an HTTP request (`keys` is the service's key store,
    `credentials` FastAPI's HTTPBearer result), or a 401 problem naming the realm."""
    challenge = {"WWW-Authenticate": f'Bearer realm="{realm}"'}
    if credentials is None:
        raise Problem(401, "unauthorized", "An API key is required", headers=challenge)
    found = await keys.authenticate(credentials.credentials)
    if found is None:
        raise Problem(401, "unauthorized", "The API key is not valid", headers=challenge)
    return found
