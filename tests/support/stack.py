"""Addresses of the real local servers, and helpers the server-backed tiers share."""

import asyncio
import os
import socket
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

KAFKA = os.environ.get("NEWSFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
MONGO = os.environ.get("NEWSFLOW_MONGO_URL", "mongodb://127.0.0.1:27017")
REDIS = os.environ.get("NEWSFLOW_REDIS_URL", "redis://127.0.0.1:6379/0")


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    for _ in range(50):
        found = consumer.partitions_for_topic(topic)
        if found:
            return set(found)
        await consumer._client.force_metadata_update()
        consumer._client.add_topic(topic)
        await asyncio.sleep(0.1)
    raise AssertionError(f"topic {topic} has no partitions (does it exist?)")


async def end_offsets(topic: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in await _partitions(consumer, topic)]
        consumer.assign(partitions)  # a consumer stopped with nothing assigned raises on stop
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def commit_group_at_end(group_id: str, topics: list[str]) -> None:
    """Position a new consumer group at the end of its topics, so a test's services handle
    only what the test produces, not the history earlier runs left in the broker."""
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, group_id=group_id, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in await _partitions(consumer, t)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.commit(dict(ends))
    finally:
        await consumer.stop()


async def records_since(
    start: dict[TopicPartition, int], *, until: Any, timeout_s: float = 15.0
) -> list[Any]:
    """Read records after `start` until `until(records)` is true or the time is up."""
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)
    await consumer.start()
    records: list[Any] = []
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not until(records) and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for part in batch.values():
                records.extend(part)
        return records
    finally:
        await consumer.stop()


async def produce(
    topic: str, records: list[tuple[bytes | None, bytes | None, dict[str, str]]]
) -> list[tuple[int, int]]:
    """Write raw (key, value, headers) records, as a producer outside newsflow would;
    returns the (partition, offset) of each."""
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True)
    await producer.start()
    positions = []
    try:
        for key, value, headers in records:
            sent = await producer.send_and_wait(
                topic, value=value, key=key, headers=[(k, v.encode()) for k, v in headers.items()]
            )
            positions.append((sent.partition, sent.offset))
        return positions
    finally:
        await producer.stop()
