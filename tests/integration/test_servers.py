"""Each real server answers a real round trip (these fail when one is stopped)."""

import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from newsflow_chassis.kafka import ensure_topics
from newsflow_contracts.topics import ARTICLE_PUBLISHED, topics_with_dead_letters
from pymongo import AsyncMongoClient

from tests.support.stack import KAFKA, MONGO, REDIS, end_offsets, unique


async def test_kafka_has_the_registry_topics_with_their_policies() -> None:
    await ensure_topics(KAFKA, topics_with_dead_letters())
    assert await ensure_topics(KAFKA, topics_with_dead_letters()) == []  # idempotent
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        names = set(await admin.list_topics())
        assert {t.name for t in topics_with_dead_letters()} <= names
        described = await admin.describe_topics([ARTICLE_PUBLISHED.name])
        assert len(described[0]["partitions"]) == ARTICLE_PUBLISHED.partitions
        (config,) = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, ARTICLE_PUBLISHED.name)]
        )
        entries = {e[0]: e[1] for e in config.resources[0][4]}
        assert entries["cleanup.policy"] == "compact"
    finally:
        await admin.close()


async def test_kafka_round_trip_with_idempotent_producer() -> None:
    topic = "news.article.ingested.v1"
    before = await end_offsets(topic)
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        meta = await producer.send_and_wait(topic, b"{}", key=unique("probe").encode())
    finally:
        await producer.stop()
    assert meta.offset >= before[next(tp for tp in before if tp.partition == meta.partition)]


async def test_ferretdb_round_trip() -> None:
    client: AsyncMongoClient = AsyncMongoClient(MONGO, serverSelectionTimeoutMS=3000)
    try:
        collection = client[unique("probe")]["docs"]
        await collection.insert_one({"_id": "a", "n": 1})
        assert await collection.find_one({"_id": "a"}) == {"_id": "a", "n": 1}
        await client.drop_database(collection.database.name)
    finally:
        await client.close()


async def test_redis_round_trip() -> None:
    client = aioredis.from_url(REDIS)
    try:
        key = unique("newsflow:test:probe")
        await client.set(key, "1", ex=30)
        assert await client.get(key) == b"1"
    finally:
        await client.aclose()


async def test_ferretdb_finds_by_id_through_the_id_index() -> None:
    """stack/ferretdb/sqlite-id-index.patch: without it every lookup by _id scans the table."""
    client: AsyncMongoClient = AsyncMongoClient(MONGO)
    name = unique("test")
    try:
        await client[name]["docs"].insert_many([{"_id": f"doc:{n}"} for n in range(10)])
        plan = await client[name].command("explain", {"find": "docs", "filter": {"_id": "doc:7"}})
        assert any("USING INDEX" in step for step in plan["queryPlanner"]["Plan"]), plan
    finally:
        await client.drop_database(name)
        await client.close()
