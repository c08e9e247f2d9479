"""Reading dead-letter topics and re-driving their records to the topic they failed on.

A dead-letter topic has one partition, so a record is named by its offset alone. Reads use
a consumer with no group that never commits: looking at a dead-letter topic moves nothing.
"""

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from newsflow_contracts import cloudevents as ce

from .delivery import DLQ_SUFFIX

CLIENT_ID = "newsflow-dlq"
DLQ_HEADER_PREFIX = "dlq_"
REDRIVEN_FROM = "dlq_redriven_from"

RawHeaders = Sequence[tuple[str, bytes | None]]


class DeadLetterError(Exception):
    """An operation refused or failed; the message says why and names the record."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]

    @property
    def text_headers(self) -> dict[str, str]:
        return decode_headers(self.headers)

    @property
    def source_topic(self) -> str | None:
        return self.text_headers.get("dlq_source_topic") or None


@dataclass(frozen=True, slots=True)
class Window:
    """The offsets a one-partition topic holds: `first` up to, not including, `end`."""

    first: int
    end: int

    @property
    def count(self) -> int:
        return self.end - self.first

    def __str__(self) -> str:
        return f"offsets {self.first}..{self.end - 1}" if self.count else "no records"


@dataclass(frozen=True, slots=True)
class Redrive:
    record: DeadLetter
    target: str
    headers: list[tuple[str, bytes]]


def decode_headers(raw: Iterable[tuple[str, bytes | None]]) -> dict[str, str]:
    """Header values as text (invalid UTF-8 replaced, null as empty); the last of a repeated name wins."""
    return {name: (value or b"").decode("utf-8", "replace") for name, value in raw}


def is_dlq_topic(name: str) -> bool:
    return name.endswith(DLQ_SUFFIX) and len(name) > len(DLQ_SUFFIX)


def redrive_headers(raw: RawHeaders, *, dlq_topic: str, offset: int) -> list[tuple[str, bytes]]:
    """The original headers minus every `dlq_*` one (an earlier re-drive's mark included),
    plus where this copy came from. `ce_id` is kept: effects are idempotent by event id."""
    kept = [(name, value or b"") for name, value in raw if not name.startswith(DLQ_HEADER_PREFIX)]
    return [*kept, (REDRIVEN_FROM, f"{dlq_topic}@{offset}".encode())]


def choose(
    records: Sequence[DeadLetter], offsets: Sequence[int] | None, *, topic: str, window: Window
) -> list[DeadLetter]:
    """The records at `offsets` (all of them for None), in offset order; refuses the whole
    choice when one offset is not in the topic."""
    if offsets is None:
        return sorted(records, key=lambda r: r.offset)
    by_offset = {r.offset: r for r in records}
    missing = sorted({o for o in offsets if o not in by_offset})
    if missing:
        names = ", ".join(map(str, missing))
        raise DeadLetterError(f"no record at offset {names} in {topic} ({window})")
    return [by_offset[o] for o in sorted(set(offsets))]


def plan(records: Sequence[DeadLetter], *, to: str | None = None) -> list[Redrive]:
    """Where each record goes back to; refuses when one has no source topic and no `to`."""
    unknown = [r.offset for r in records if not (to or r.source_topic)]
    if unknown:
        raise DeadLetterError(
            f"record at offset {', '.join(map(str, unknown))} has no dlq_source_topic header; "
            "name the target with --to"
        )
    return [
        Redrive(
            record=r,
            target=to or r.source_topic or "",
            headers=redrive_headers(r.headers, dlq_topic=r.topic, offset=r.offset),
        )
        for r in records
    ]


async def partition_counts(bootstrap: str, topics: Sequence[str]) -> dict[str, int]:
    """Partition count of each topic that exists."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id=CLIENT_ID)
    await admin.start()
    try:
        described: list[dict[str, Any]] = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return {d["topic"]: len(d["partitions"]) for d in described if d["error_code"] == 0}


async def _single_partition(bootstrap: str, topic: str) -> TopicPartition:
    partitions = (await partition_counts(bootstrap, [topic])).get(topic)
    if partitions is None:
        raise DeadLetterError(f"topic {topic} does not exist")
    if partitions != 1:
        raise DeadLetterError(f"{topic} has {partitions} partitions; a dead-letter topic has one")
    return TopicPartition(topic, 0)


def _consumer(bootstrap: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap, client_id=CLIENT_ID, group_id=None, enable_auto_commit=False
    )


async def counts(bootstrap: str, topics: Sequence[str]) -> dict[str, int | None]:
    """Records held by each topic (end minus beginning offsets, all partitions); None when
    the topic does not exist."""
    partitions = await partition_counts(bootstrap, topics)
    tps = [TopicPartition(t, p) for t, n in partitions.items() for p in range(n)]
    result: dict[str, int | None] = {t: None for t in topics}
    if not tps:
        return result
    consumer = _consumer(bootstrap)
    await consumer.start()
    try:
        consumer.assign(tps)  # a consumer stopped with nothing assigned raises on stop
        first = await consumer.beginning_offsets(tps)
        end = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    for topic in partitions:
        result[topic] = sum(end[tp] - first[tp] for tp in tps if tp.topic == topic)
    return result


async def read(
    bootstrap: str,
    topic: str,
    *,
    since: int = 0,
    until: int | None = None,
    limit: int | None = None,
    idle_timeout_s: float = 30.0,
) -> tuple[list[DeadLetter], Window]:
    """Records from offset `since` up to `until` (exclusive) or the end offset captured at
    the start, at most `limit` of them; and the offsets the topic held at the start."""
    tp = await _single_partition(bootstrap, topic)
    consumer = _consumer(bootstrap)
    await consumer.start()
    try:
        consumer.assign([tp])
        window = Window((await consumer.beginning_offsets([tp]))[tp], (await consumer.end_offsets([tp]))[tp])
        stop = window.end if until is None else min(until, window.end)
        position = max(since, window.first)
        records: list[DeadLetter] = []
        if position >= stop or limit == 0:
            return records, window
        consumer.seek(tp, position)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + idle_timeout_s
        while position < stop and (limit is None or len(records) < limit):
            batch = await consumer.getmany(tp, timeout_ms=500)
            records.extend(
                DeadLetter(topic, r.offset, r.key, r.value, tuple(r.headers or ()))
                for r in batch.get(tp, [])
                if r.offset < stop
            )
            # The fetch position, not the last record's offset: it also moves past gaps.
            moved_to = await consumer.position(tp)
            if moved_to > position:
                position, deadline = moved_to, loop.time() + idle_timeout_s
            elif loop.time() > deadline:
                raise DeadLetterError(
                    f"no progress reading {topic} at offset {position} for {idle_timeout_s}s"
                )
        return (records if limit is None else records[:limit]), window
    finally:
        await consumer.stop()


async def missing_topics(bootstrap: str, topics: Iterable[str]) -> list[str]:
    wanted = sorted(set(topics))
    existing = await partition_counts(bootstrap, wanted)
    return [t for t in wanted if t not in existing]


async def send(bootstrap: str, redrives: Sequence[Redrive]) -> AsyncIterator[tuple[Redrive, int, int]]:
    """Publish each re-drive in order (acks=all, idempotent); yields it with the partition
    and offset it got, so a failure part way says exactly what was already written."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, client_id=CLIENT_ID, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        for item in redrives:
            meta = await producer.send_and_wait(
                item.target, item.record.value, key=item.record.key, headers=item.headers
            )
            yield item, meta.partition, meta.offset
    finally:
        await producer.stop()


def event_attributes(record: DeadLetter) -> dict[str, str]:
    """The CloudEvents id and type of the failed record, when it had them."""
    headers = record.text_headers
    return {h: headers[h] for h in (ce.HEADER_ID, ce.HEADER_TYPE) if headers.get(h)}
