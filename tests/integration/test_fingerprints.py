"""The dedup fingerprint store against the real FerretDB: claims and bucket slots are
inserts, so racing writers neither both win nor lose a member; and `accept_submission`
deduplicating with the real stores."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from newsflow_contracts.events import ArticleSubmitted
from newsflow_ingest.adapters.fingerprints import MAX_BUCKET, MongoFingerprintStore
from newsflow_ingest.adapters.heads import MongoHeadStore
from newsflow_ingest.dedup_service import Deduplicator
from newsflow_ingest.domain.dedup import band_keys, fingerprint
from newsflow_ingest.service import accept_submission
from pymongo import AsyncMongoClient

from tests.support.fakes import RecordingPublisher
from tests.support.stack import MONGO, unique

ROOT = Path(__file__).resolve().parents[2]

BODY = "<p>" + " ".join(f"word{i}" for i in range(80)) + "</p>"


@pytest.fixture
async def database() -> AsyncIterator[tuple[AsyncMongoClient[dict[str, Any]], str]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO, tz_aware=True)
    name = unique("test_dedup")
    yield client, name
    await client.drop_database(name)
    await client.close()


@pytest.fixture
def store(database: tuple[AsyncMongoClient[dict[str, Any]], str]) -> MongoFingerprintStore:
    return MongoFingerprintStore(*database)


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


async def test_of_sources_sending_one_body_at_once_one_is_first_and_the_others_its_duplicates(
    database: tuple[AsyncMongoClient[dict[str, Any]], str],
) -> None:
    heads, publish = MongoHeadStore(*database), RecordingPublisher()
    dedup = Deduplicator(MongoFingerprintStore(*database))
    sample = json.loads((ROOT / "samples/articles.jsonl").read_text().splitlines()[1])  # demo-002
    copies = [
        json.loads(line) for line in (ROOT / "tests/fixtures/dedup/copies.jsonl").read_text().splitlines()
    ]
    near = next(c for c in copies if c["of"] == sample["external_id"])

    async def submit(source: str, article: dict[str, Any]):  # type: ignore[no-untyped-def]
        submission = ArticleSubmitted(**{k: article[k] for k in ("external_id", "headline", "body_html")})
        return await accept_submission(submission, source=source, heads=heads, publish=publish, dedup=dedup)

    racing = await asyncio.gather(*(submit(f"source-{i}", sample) for i in range(6)))
    (first,) = [a for a in racing if a.duplicate is None]
    for other in racing:
        if other is not first:
            assert other.duplicate is not None
            assert (other.duplicate.of_article_id, other.duplicate.kind) == (first.article_id, "exact")
    edited = await submit("wire", near)  # found through the stored bands and signature
    assert edited.duplicate is not None
    assert (edited.duplicate.of_article_id, edited.duplicate.kind) == (first.article_id, "near")
    stored = await heads.event_of(edited.article_id, 1)
    assert stored is not None and stored[0].duplicate == edited.duplicate  # on record with its version
