"""The dedup fingerprint store against the real FerretDB: claims and bucket slots are
inserts, so racing writers neither both win nor lose a member."""

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from newsflow_ingest.adapters.fingerprints import MAX_BUCKET, MongoFingerprintStore
from newsflow_ingest.domain.dedup import band_keys, fingerprint
from pymongo import AsyncMongoClient

from tests.support.stack import MONGO, unique

BODY = "<p>" + " ".join(f"word{i}" for i in range(80)) + "</p>"


@pytest.fixture
async def store() -> AsyncIterator[MongoFingerprintStore]:
    client: AsyncMongoClient = AsyncMongoClient(MONGO, tz_aware=True)
    name = unique("test_dedup")
    yield MongoFingerprintStore(client, name)
    await client.drop_database(name)
    await client.close()


async def test_of_racing_exact_claims_exactly_one_wins(store: MongoFingerprintStore) -> None:
    claimants = [f"article-{i}" for i in range(12)]
    winners = await asyncio.gather(*(store.claim_exact("ab" * 32, a) for a in claimants))
    assert len(set(winners)) == 1 and winners[0] in claimants
    assert await store.claim_exact("ab" * 32, "late") == winners[0]
    assert await store.claim_exact("cd" * 32, "late") == "late"


async def test_a_remembered_article_is_a_candidate_with_its_exact_signature(
    store: MongoFingerprintStore,
) -> None:
    fp = fingerprint(BODY)
    keys = band_keys(fp.signature)
    assert await store.candidates(keys) == set()
    started = time.perf_counter()
    await store.remember("a1", fp.signature, keys)
    await store.remember("a1", fp.signature, keys)  # again: nothing changes
    remembered_ms = (time.perf_counter() - started) / 2 * 1000
    started = time.perf_counter()
    assert await store.candidates(keys) == {"a1"}
    looked_up_ms = (time.perf_counter() - started) * 1000
    assert await store.candidates(keys[:1]) == {"a1"}
    assert await store.signatures(["a1", "unknown"]) == {"a1": fp.signature}
    assert max(fp.signature) > 2**32  # 61-bit values survive the round trip as int64
    members = await store.docs.find_one({"_id": f"band:{keys[0]}:1"})
    assert members is None  # remembering twice did not take a second slot
    print(f"\nremember {remembered_ms:.1f} ms, candidates over {len(keys)} bands {looked_up_ms:.1f} ms")


async def test_articles_joining_one_bucket_at_once_are_all_kept(store: MongoFingerprintStore) -> None:
    keys = ["0:shared", "1:shared"]
    members = [f"near-{i}" for i in range(10)]
    await asyncio.gather(*(store.remember(a, (1, 2, 3, 4), keys) for a in members))
    assert await store.candidates(keys[:1]) == set(members)
    assert await store.candidates(keys[1:]) == set(members)


async def test_a_bucket_stops_growing_at_its_cap(store: MongoFingerprintStore) -> None:
    for i in range(MAX_BUCKET + 3):
        await store.remember(f"boiler-{i}", (1,), ["0:boilerplate"])
    assert len(await store.candidates(["0:boilerplate"])) == MAX_BUCKET
