"""Where ingest remembers the fingerprints of the articles it has (its own MongoDB database).

One collection, `dedup_fingerprints`, three kinds of document, every one read and written by
`_id` (FerretDB v1 on SQLite pushes down nothing else, and does not apply concurrent updates
of one document atomically), and written only by inserts, each atomic for its document:

- `exact:<sha256>` -> the first article with that exact body. Inserting it is a claim: of
  two racing submissions of the same body exactly one wins, the other reads the winner.
- `band:<band>:<hash>:<n>` -> one member of an LSH bucket, in slot n = 0, 1, 2, ...
  A member takes the first free slot by inserting it (a taken slot raises DuplicateKeyError
  and it tries the next), so two articles joining one bucket at once both get in. A bucket
  document holding a list would need `$addToSet`, and two concurrent `$addToSet`s on one
  document can lose a member under FerretDB. Readers probe slots until the first free one,
  as heads are probed past their hint.
- `sig:<article id>` -> the article's MinHash signature, to verify candidates against.
"""

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

DUPLICATE_KEY = 11000
MAX_BUCKET = 64
"""Members read or added per bucket: a bucket that large is boilerplate, not one story."""


class FingerprintStore(Protocol):
    async def claim_exact(self, digest: str, article_id: str) -> str:
        """The first article with this exact fingerprint: `article_id` if it is the first."""
        ...

    async def candidates(self, band_keys: Sequence[str]) -> set[str]:
        """Articles sharing at least one band with these keys."""
        ...

    async def signatures(self, article_ids: Iterable[str]) -> dict[str, tuple[int, ...]]: ...

    async def remember(self, article_id: str, signature: Sequence[int], band_keys: Sequence[str]) -> None:
        """Make the article findable as a near duplicate; doing it again changes nothing."""
        ...


class MongoFingerprintStore:
    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self.docs: AsyncCollection[dict[str, Any]] = client[database]["dedup_fingerprints"]

    async def claim_exact(self, digest: str, article_id: str) -> str:
        try:
            await self.docs.insert_one({"_id": f"exact:{digest}", "article_id": article_id})
        except DuplicateKeyError:
            first = await self.docs.find_one({"_id": f"exact:{digest}"})
            if first is None:
                raise RuntimeError(f"exact:{digest} vanished after a duplicate key") from None
            return str(first["article_id"])
        return article_id

    async def candidates(self, band_keys: Sequence[str]) -> set[str]:
        buckets = await asyncio.gather(*(self._members(key) for key in band_keys))
        return {article_id for members in buckets for article_id in members}

    async def _members(self, band_key: str) -> list[str]:
        members: list[str] = []
        while len(members) < MAX_BUCKET:
            doc = await self.docs.find_one({"_id": f"band:{band_key}:{len(members)}"})
            if doc is None:
                break
            members.append(doc["article_id"])
        return members

    async def signatures(self, article_ids: Iterable[str]) -> dict[str, tuple[int, ...]]:
        ids = list(article_ids)
        docs = await asyncio.gather(*(self.docs.find_one({"_id": f"sig:{a}"}) for a in ids))
        return {a: tuple(doc["signature"]) for a, doc in zip(ids, docs, strict=True) if doc is not None}

    async def remember(self, article_id: str, signature: Sequence[int], band_keys: Sequence[str]) -> None:
        # the signature first: a candidate found through a bucket must be verifiable
        with contextlib.suppress(DuplicateKeyError):
            await self.docs.insert_one({"_id": f"sig:{article_id}", "signature": list(signature)})
        # most buckets are new: one unordered batch takes their first slot, the others probe on
        try:
            await self.docs.insert_many(
                [{"_id": f"band:{key}:0", "article_id": article_id} for key in band_keys], ordered=False
            )
        except BulkWriteError as error:
            failed = error.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in failed):
                raise
            await asyncio.gather(*(self._join(band_keys[e["index"]], article_id) for e in failed))

    async def _join(self, band_key: str, article_id: str) -> None:
        for slot in range(MAX_BUCKET):
            try:
                await self.docs.insert_one({"_id": f"band:{band_key}:{slot}", "article_id": article_id})
                return
            except DuplicateKeyError:
                taken = await self.docs.find_one({"_id": f"band:{band_key}:{slot}"})
                if taken is not None and taken["article_id"] == article_id:
                    return  # joined before: remembering again is harmless
