"""Readiness checks against the real servers: each passes when its server answers and fails
when pointed at a port where nothing listens; a group with more members than partitions
leaves a member without partitions, and that member is ready too."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaClient
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker
from faststream.middlewares import AckPolicy
from newsflow_chassis import health
from newsflow_chassis.kafka import build_broker
from newsflow_chassis.settings import KafkaSettings
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from tests.support.stack import KAFKA, MONGO, REDIS, free_port, unique


async def outcome(check: health.Check) -> tuple[bool, str]:
    probe = health.Health(check_timeout_s=3)
    probe.add("it", check)
    ready, checks = await probe.report()
    return ready, checks["it"]["detail"]


async def test_mongodb_and_redis_checks() -> None:
    dead = free_port()
    mongo: AsyncMongoClient = AsyncMongoClient(MONGO, serverSelectionTimeoutMS=2000)
    gone: AsyncMongoClient = AsyncMongoClient(f"mongodb://127.0.0.1:{dead}", serverSelectionTimeoutMS=1000)
    redis = Redis.from_url(REDIS, socket_connect_timeout=1)
    no_redis = Redis.from_url(f"redis://127.0.0.1:{dead}/0", socket_connect_timeout=1)
    try:
        assert (await outcome(health.mongodb_check(lambda: mongo)))[0]
        assert not (await outcome(health.mongodb_check(lambda: gone)))[0]
        assert (await outcome(health.redis_check(lambda: redis)))[0]
        ready, detail = await outcome(health.redis_check(lambda: no_redis))
        assert not ready and str(dead) in detail
    finally:
        await mongo.close(), await gone.close(), await redis.aclose(), await no_redis.aclose()


async def test_kafka_check() -> None:
    live = AIOKafkaClient(bootstrap_servers=KAFKA)
    await live.bootstrap()
    try:
        assert await outcome(health.kafka_check(lambda: live)) == (True, "ok")
    finally:
        await live.close()
    nothing_there = AIOKafkaClient(bootstrap_servers=f"127.0.0.1:{free_port()}")
    with pytest.raises(Exception):  # noqa: B017 - whatever aiokafka raises: nothing listens
        await nothing_there.bootstrap()
    ready, _ = await outcome(health.kafka_check(lambda: nothing_there))
    assert not ready
    await nothing_there.close()


@contextlib.asynccontextmanager
async def one_partition_topic() -> AsyncIterator[str]:
    name = unique("ops-readiness")
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name=name, num_partitions=1, replication_factor=1)])
        yield name
    finally:
        await admin.delete_topics([name])
        await admin.close()


def member(topic: str, group: str) -> KafkaBroker:
    broker = build_broker(KafkaSettings(kafka_bootstrap=KAFKA), client_id="ops-readiness")

    @broker.subscriber(topic, group_id=group, ack_policy=AckPolicy.NACK_ON_ERROR)
    async def on_record(body: bytes) -> None:
        pass

    return broker


async def ready_within(check: health.ConsumerAssignments, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return await check() or ""
        except health.NotReady:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def test_two_members_of_a_one_partition_group_are_both_ready() -> None:
    async with one_partition_topic() as topic:
        group = unique("ops-group")
        first, second = member(topic, group), member(topic, group)
        checks = [health.ConsumerAssignments(b, grace_s=30) for b in (first, second)]
        with pytest.raises(health.NotReady, match="stopped"):
            await checks[0]()  # not started: no consumer yet
        await first.start()
        try:
            assert await ready_within(checks[0], 30) == "1 partitions held"
            await second.start()
            await ready_within(checks[1], 30)
            # after the rebalance one member holds the partition, the other none: both ready
            deadline = time.monotonic() + 30
            while True:
                held = sorted([await checks[0](), await checks[1]()])
                if held == ["0 partitions held", "1 partitions held"] or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            assert held == ["0 partitions held", "1 partitions held"]
        finally:
            await second.stop()
            await first.stop()
