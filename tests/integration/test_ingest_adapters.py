"""Ingest's adapters against the real FerretDB and Redis: idempotency records, the shared
rate limit, held (embargoed) versions and retractions in the version store."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from newsflow_contracts.events import ArticleSubmitted
from newsflow_ingest.adapters.heads import MongoHeadStore
from newsflow_ingest.adapters.idempotency import KeyInFlight, KeyReused, MongoIdempotencyStore
from newsflow_ingest.adapters.rate_limit import RedisRateLimiter
from newsflow_ingest.domain.articles import decide, decide_retraction, normalise
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from tests.support.stack import MONGO, REDIS, unique

NOW = datetime.now(UTC)


@pytest.fixture
async def mongo() -> AsyncIterator[tuple[AsyncMongoClient, str]]:
    client: AsyncMongoClient = AsyncMongoClient(MONGO, tz_aware=True)
    name = unique("test")
    yield client, name
    await client.drop_database(name)
    await client.close()


async def test_an_idempotency_key_is_claimed_once_replayed_and_refused_for_another_body(mongo) -> None:  # type: ignore[no-untyped-def]
    client, name = mongo
    store = MongoIdempotencyStore(client, name)
    assert await store.begin("cms", "k1", "body-a") is None
    with pytest.raises(KeyInFlight):
        await store.begin("cms", "k1", "body-a")
    await store.complete("cms", "k1", 202, {"version": 1})
    replay = await store.begin("cms", "k1", "body-a")
    assert replay is not None and (replay.status, replay.body) == (202, {"version": 1})
    with pytest.raises(KeyReused):
        await store.begin("cms", "k1", "body-b")
    assert await store.begin("other-source", "k1", "body-b") is None  # keys are per source
    await store.abandon("other-source", "k1")
    assert await store.begin("other-source", "k1", "body-c") is None


async def test_the_rate_limit_is_shared_by_every_limiter_on_the_same_redis() -> None:
    first, second = Redis.from_url(REDIS), Redis.from_url(REDIS)
    source = unique("source")
    try:
        limiters = [RedisRateLimiter(first, per_second=1000), RedisRateLimiter(second, per_second=1000)]
        for limiter in limiters:
            limiter.per_second = 10
        answers = [await limiters[n % 2].retry_after(source) for n in range(30)]
        # one window may end mid-run: at most 20 pass, and some are refused
        assert 10 <= answers.count(None) <= 20
        assert set(answers) - {None} == {1}
    finally:
        await first.aclose()
        await second.aclose()


async def test_the_rate_limit_lets_requests_through_when_redis_is_down() -> None:
    unreachable = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        assert await RedisRateLimiter(unreachable, per_second=1).retry_after("cms") is None
    finally:
        await unreachable.aclose()


async def test_held_versions_are_listed_when_due_and_retractions_are_versions(mongo) -> None:  # type: ignore[no-untyped-def]
    client, name = mongo
    heads = MongoHeadStore(client, name)
    embargo = NOW + timedelta(minutes=5)
    content = normalise(ArticleSubmitted(external_id="h", headline="H", body_html="<p>b</p>"), now=NOW)
    first = decide(head=None, source="cms", external_id="h", content=content, accepted_at=NOW).event  # type: ignore[union-attr]
    assert await heads.save(first, event_id="e1", previous_version=0, hold_until=embargo)
    assert await heads.unsent() == []  # held: not re-sent by a restart
    assert await heads.due(NOW) == []
    assert await heads.due(embargo) == [(first.article_id, 1)]
    head = await heads.get(first.article_id)
    assert head is not None and head.hold_until is not None and head.source == "cms"
    assert abs(head.hold_until - embargo) < timedelta(milliseconds=1)  # BSON dates keep milliseconds

    retraction = decide_retraction(head=head, kind="takedown", reason="Court order", accepted_at=NOW)
    assert await heads.save(retraction, event_id="e2", previous_version=1)  # type: ignore[arg-type]
    await heads.mark_sent(first.article_id, 1, superseded=True)
    assert await heads.due(embargo) == []
    head = await heads.get(first.article_id)
    assert head is not None and head.version == 2 and head.retracted == "takedown"
    stored = await heads.event_of(first.article_id)
    assert stored is not None and stored[0].event_type == "news.article.retracted.v1"
