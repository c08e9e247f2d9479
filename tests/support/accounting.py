"""Exact accounting against the real servers: what the read model holds, what reached the
published topic, what was dead-lettered."""

import asyncio
import json
from collections import defaultdict
from typing import Any

from aiokafka import TopicPartition
from pymongo import AsyncMongoClient

from tests.support.stack import MONGO, end_offsets, records_since


async def read_model_versions(database: str, ids: set[str]) -> dict[str, int]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO, serverSelectionTimeoutMS=5000)
    try:
        cursor = client[database]["articles"].find({"_id": {"$in": sorted(ids)}}, {"version": 1})
        return {doc["_id"]: doc["version"] async for doc in cursor}
    finally:
        await client.close()


async def stored_version_history(database: str, ids: set[str]) -> dict[str, list[int]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO, serverSelectionTimeoutMS=5000)
    history: dict[str, list[int]] = defaultdict(list)
    try:
        cursor = client[database]["article_versions"].find({"article_id": {"$in": sorted(ids)}})
        async for doc in cursor:
            history[doc["article_id"]].append(doc["version"])
        return history
    finally:
        await client.close()


async def wait_for_read_model(database: str, latest: dict[str, int], *, timeout_s: float) -> dict[str, int]:
    """Poll until every article is stored at its latest version, or the time is up; returns
    what is stored then."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        stored = await read_model_versions(database, set(latest))
        if stored == latest or loop.time() > deadline:
            return stored
        await asyncio.sleep(0.5)


async def published_event_ids(
    start: dict[TopicPartition, int], expected: set[tuple[str, int]], *, timeout_s: float
) -> dict[tuple[str, int], list[str]]:
    """(article id, version) -> the ce_id of every record for it on the published topic."""
    ids = {article_id for article_id, _ in expected}
    seen: dict[tuple[str, int], list[str]] = defaultdict(list)

    def ours(records: list[Any]) -> bool:
        seen.clear()
        for record in records:
            key = record.key.decode() if record.key else ""
            if key in ids and record.value is not None:
                version = json.loads(record.value)["version"]
                seen[(key, version)].append(dict(record.headers)["ce_id"].decode())
        return expected <= set(seen)

    records = await records_since(start, until=ours, timeout_s=timeout_s)
    ours(records)
    return dict(seen)


async def dead_letter_offsets(topics: list[str]) -> dict[TopicPartition, int]:
    starts: dict[TopicPartition, int] = {}
    for topic in topics:
        starts.update(await end_offsets(topic))
    return starts


async def dead_letters_since(start: dict[TopicPartition, int], *, settle_s: float = 1.0) -> list[Any]:
    """Every record written to the given dead-letter partitions after `start`."""
    return await records_since(start, until=lambda _: False, timeout_s=settle_s)


def by_source_position(dead_letters: list[Any]) -> list[Any]:
    """One dead letter per source record, in source order: a test pipeline running beside
    another one on the same broker may dead-letter the same record twice."""
    distinct: dict[tuple[str, int, int], Any] = {}
    for record in dead_letters:
        headers = {k: v.decode() for k, v in record.headers}
        position = (
            headers["dlq_source_topic"],
            int(headers["dlq_source_partition"]),
            int(headers["dlq_source_offset"]),
        )
        distinct.setdefault(position, record)
    return [distinct[p] for p in sorted(distinct)]


def by_event_id(records: list[Any]) -> list[Any]:
    """One record per `ce_id`, in topic order: redeliveries carry the same id."""
    distinct: dict[str, Any] = {}
    for record in records:
        distinct.setdefault(dict(record.headers)["ce_id"].decode(), record)
    return list(distinct.values())
