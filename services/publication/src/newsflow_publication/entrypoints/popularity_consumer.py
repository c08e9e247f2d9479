"""Page views in, Popular's counters out: a batch consumer of news.pageview.recorded.v1.

It reads up to `NEWSFLOW_POPULAR_BATCH_MAX` records at a time (or what arrived within
`NEWSFLOW_POPULAR_BATCH_TIMEOUT_MS`) and hands the batch to one atomic Redis script that
counts each view once (see adapters/popularity.py). The Kafka offset is committed after the
script; at every (re)assignment the partitions are moved to the offsets
stored in Redis, the ones its counters agree with, not to Kafka's committed ones.

A record is read as a page view from its `ce_id` and `ce_type` headers and its value; the
values of a batch are validated against the event's model in one call (`LeanBatches` spares
FastStream's own parsing of every record, which this consumer does not use). A record that
is not a page view (bad JSON, failing the schema, no `ce_id`, another `ce_type`) goes to
`news.pageview.recorded.v1.dlq` on its own, with the reason; the rest of its batch is counted."""

import logging
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.message import KafkaAckableMessage
from faststream.middlewares import AckPolicy
from newsflow_chassis.delivery import DLQ_SUFFIX, dead_letter_headers
from newsflow_contracts import cloudevents as ce
from newsflow_contracts.events import PageViewRecorded
from newsflow_contracts.topics import PAGEVIEW_RECORDED
from pydantic import Json, TypeAdapter, ValidationError
from redis.exceptions import RedisError

from ..adapters.popularity import RedisPopularity, View
from ..settings import Settings

log = logging.getLogger("newsflow.popularity")

MAX_VIEW_ID = 200


class SeekToCounted(ConsumerRebalanceListener):  # type: ignore[misc]
    """At assignment, start each partition after the last offset Redis has counted."""

    def __init__(self, popularity: RedisPopularity, group: str) -> None:
        self.popularity = popularity
        self.group = group
        self.subscriber: Any = None

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        consumer = getattr(self.subscriber, "consumer", None)
        if consumer is None or not assigned:
            return
        try:
            counted = await self.popularity.offsets(self.group, (tp.partition for tp in assigned))
        except RedisError as error:  # the script still skips what was counted
            log.warning("could not read counted offsets, starting from Kafka's: %r", error)
            return
        for tp in assigned:
            if tp.partition in counted:
                consumer.seek(tp, counted[tp.partition] + 1)
        if counted:
            log.info("popularity: resumed %s from the offsets counted in Redis", counted)


VIEW_TYPE = PageViewRecorded.event_type.encode()
INVALID = (ValueError, ValidationError, UnicodeDecodeError)
EVENTS = TypeAdapter(list[Json[PageViewRecorded]])  # many values in one call
VALIDATED_AT_ONCE = 500


def _view_id(record: Any) -> str:
    """The record's `ce_id`, if its headers say it is a page view; ValueError (or
    UnicodeDecodeError) if not. A header given twice counts by its last value."""
    view_id = event_type = None
    for name, value in record.headers or ():
        if name == ce.HEADER_ID:
            view_id = value
        elif name == ce.HEADER_TYPE:
            event_type = value
    if not view_id:
        raise ValueError("no ce_id header")
    if event_type != VIEW_TYPE:
        shown = event_type.decode("utf-8", "replace") if event_type is not None else None
        raise ValueError(f"ce_type {shown!r} is not {PageViewRecorded.event_type}")
    text: str = view_id.decode()
    if len(text) > MAX_VIEW_ID:
        raise ValueError("ce_id longer than 200 characters")
    return text


def _events(values: list[bytes]) -> Sequence[PageViewRecorded | ValidationError]:
    """Each value as a page view, or why it is not one. The values are validated in one call;
    only if one of them is invalid are they validated again one by one."""
    try:
        return EVENTS.validate_python(values)
    except ValidationError:
        return [_event_or_error(value) for value in values]


def _event_or_error(value: bytes) -> PageViewRecorded | ValidationError:
    try:
        return PageViewRecorded.model_validate_json(value)
    except ValidationError as error:
        return error


def _decode(records: tuple[Any, ...]) -> tuple[list[View], list[tuple[Any, Exception]]]:
    """The batch's page views, and the records that are not page views, each with the reason.

    Values are validated `VALIDATED_AT_ONCE` at a time, so that a chunk's event models are freed
    before the next chunk's are made: fewer objects then live long enough for the garbage
    collector to move them to its older generations, whose collections cost most."""
    headed: list[Any] = []  # the records whose headers say they are page views
    view_ids: list[str] = []
    invalid: list[tuple[Any, Exception]] = []
    for record in records:
        try:
            view_ids.append(_view_id(record))
            headed.append(record)
        except INVALID as error:
            invalid.append((record, error))
    views: list[View] = []
    for start in range(0, len(headed), VALIDATED_AT_ONCE):
        chunk = slice(start, start + VALIDATED_AT_ONCE)
        chunk_records = headed[chunk]
        events = _events([record.value or b"" for record in chunk_records])
        for record, view_id, event in zip(chunk_records, view_ids[chunk], events, strict=True):
            if isinstance(event, ValidationError):
                invalid.append((record, event))
            else:
                views.append(_as_view(record, view_id, event))
    return views, invalid


def _as_view(record: Any, view_id: str, event: PageViewRecorded) -> View:
    at = event.viewed_at.timestamp()
    return View(record.partition, record.offset, view_id, event.article_id, at, event.visitor)


def _only_its_offset(record: Any) -> View:
    """What the counters get of an invalid record: its offset, so that it counts as handled."""
    return View(record.partition, record.offset, f"invalid:{record.partition}:{record.offset}", "", 0.0)


class LeanBatches:
    """FastStream's batch parser and decoder, without their work per record: FastStream would
    copy every record's headers into a dict of strings and decode every body as JSON before
    the handler runs, which reads two headers and validates the bodies itself. (A header that
    is not UTF-8 no longer fails the whole batch either: only `ce_id` is decoded, and a record
    whose `ce_id` is not UTF-8 is dead-lettered on its own.)"""

    def __init__(self) -> None:
        self.subscriber: Any = None

    async def parse(self, records: tuple[Any, ...]) -> KafkaMessage:
        first, last = records[0], records[-1]
        return KafkaAckableMessage(  # the class FastStream uses when it commits after the handler
            records,
            body=b"",
            message_id=f"{first.offset}-{last.offset}-{first.timestamp}",
            consumer=self.subscriber.consumer,
        )

    @staticmethod
    async def decode(msg: KafkaMessage) -> Any:
        return msg.raw_message


def register(broker: KafkaBroker, settings: Settings, popularity: RedisPopularity) -> None:
    group = settings.popular_group
    listener = SeekToCounted(popularity, group)
    lean = LeanBatches()

    subscriber = broker.subscriber(
        PAGEVIEW_RECORDED.name,
        group_id=group,
        batch=True,
        max_records=settings.popular_batch_max,
        batch_timeout_ms=settings.popular_batch_timeout_ms,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        listener=listener,
        parser=lean.parse,
        decoder=lean.decode,
        title="popular:subscribe",
        description=(
            "Counts page views for Popular, in batches, each view once (by offset and by "
            "ce_id), in one atomic Redis script per batch."
        ),
    )
    listener.subscriber = lean.subscriber = subscriber

    async def dead_letter(record: Any, error: Exception) -> None:
        await broker.publish(
            record.value or b"",
            topic=record.topic + DLQ_SUFFIX,
            key=record.key,
            headers=dead_letter_headers(record, error, group=group),
        )
        log.error("dead-lettered %s[%d]@%d: %r", record.topic, record.partition, record.offset, error)

    @subscriber
    async def on_views(msg: KafkaMessage) -> None:
        records = msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
        views, invalid = _decode(records)
        for record, error in invalid:
            await dead_letter(record, error)
            views.append(_only_its_offset(record))
        absorbed = await popularity.absorb(group, views, now_s=time.time())
        if absorbed.duplicates or absorbed.replayed:
            log.info(
                "popularity: %d views counted, %d resent views and %d re-read records skipped",
                absorbed.counted,
                absorbed.duplicates,
                absorbed.replayed,
            )
