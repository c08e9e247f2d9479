"""Page views in, Popular's counters out: a batch consumer of news.pageview.recorded.v1.

It reads up to `NEWSFLOW_POPULAR_BATCH_MAX` records at a time (or what arrived within
`NEWSFLOW_POPULAR_BATCH_TIMEOUT_MS`), looks up the section and subjects of the articles
viewed (their teasers, kept in memory for a minute), and hands the batch to one atomic
Redis script that counts each view once (see adapters/popularity.py). The Kafka offset is
committed after the script; at every (re)assignment the partitions are moved to the offsets
stored in Redis, the ones its counters agree with, not to Kafka's committed ones.

A record that is not a page view (bad JSON, failing the schema, no `ce_id`) goes to
`news.pageview.recorded.v1.dlq` on its own; the rest of its batch is counted."""

import logging
import time
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.middlewares import AckPolicy
from newsflow_chassis.delivery import DLQ_SUFFIX, dead_letter_headers
from newsflow_contracts import cloudevents as ce
from newsflow_contracts.events import PageViewRecorded
from newsflow_contracts.topics import PAGEVIEW_RECORDED
from pydantic import ValidationError
from redis.exceptions import RedisError

from ..adapters.listings import Listings
from ..adapters.popularity import RedisPopularity, View
from ..domain.popularity import popular_lists
from ..settings import Settings

log = logging.getLogger("newsflow.popularity")

LISTS_TTL_S = 60.0
MAX_VIEW_ID = 200


class ArticleLists:
    """Which lists each viewed article counts in, from its teaser; kept a minute."""

    def __init__(self, listings: Listings, ttl_s: float = LISTS_TTL_S, size: int = 100_000) -> None:
        self.listings = listings
        self.ttl_s = ttl_s
        self.size = size
        self._known: dict[str, tuple[float, list[str] | None]] = {}

    async def of(self, article_ids: set[str]) -> dict[str, list[str]]:
        now = time.monotonic()
        missing = [a for a in article_ids if (hit := self._known.get(a)) is None or hit[0] < now]
        if missing:
            if len(self._known) + len(missing) > self.size:
                self._known.clear()
            found = {t.article_id: t for t in await self.listings.teasers(missing)}
            for article_id in missing:
                teaser = found.get(article_id)
                lists = popular_lists(teaser.section, teaser.subjects) if teaser else None
                self._known[article_id] = (now + self.ttl_s, lists)
        out = {}
        for article_id in article_ids:
            lists = self._known[article_id][1]
            if lists is not None:
                out[article_id] = lists
        return out


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


def _view(record: Any) -> View:
    headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in record.headers or ()}
    view_id = headers.get(ce.HEADER_ID)
    if not view_id:
        raise ValueError("no ce_id header")
    event_type = headers.get(ce.HEADER_TYPE)
    if event_type != PageViewRecorded.event_type:
        raise ValueError(f"ce_type {event_type!r} is not {PageViewRecorded.event_type}")
    if len(view_id) > MAX_VIEW_ID:
        raise ValueError("ce_id longer than 200 characters")
    event = PageViewRecorded.model_validate_json(record.value or b"")
    return View(
        partition=record.partition,
        offset=record.offset,
        view_id=view_id,
        article_id=event.article_id,
        viewed_at_s=event.viewed_at.timestamp(),
        visitor=event.visitor,
    )


def register(
    broker: KafkaBroker, settings: Settings, popularity: RedisPopularity, listings: Listings
) -> None:
    group = settings.popular_group
    lists = ArticleLists(listings)
    listener = SeekToCounted(popularity, group)

    subscriber = broker.subscriber(
        PAGEVIEW_RECORDED.name,
        group_id=group,
        batch=True,
        max_records=settings.popular_batch_max,
        batch_timeout_ms=settings.popular_batch_timeout_ms,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        listener=listener,
        title="popular:subscribe",
        description=(
            "Counts page views for Popular, in batches, each view once (by offset and by "
            "ce_id), in one atomic Redis script per batch."
        ),
    )
    listener.subscriber = subscriber

    @subscriber
    async def on_views(msg: KafkaMessage) -> None:
        records = msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
        views: list[View] = []
        for record in records:
            try:
                views.append(_view(record))
            except (ValueError, ValidationError, UnicodeDecodeError) as error:
                await broker.publish(
                    record.value or b"",
                    topic=record.topic + DLQ_SUFFIX,
                    key=record.key,
                    headers=dead_letter_headers(record, error, group=group),
                )
                log.error("dead-lettered %s[%d]@%d: %r", record.topic, record.partition, record.offset, error)
                views.append(  # its offset still counts as handled
                    View(
                        record.partition,
                        record.offset,
                        f"invalid:{record.partition}:{record.offset}",
                        "",
                        0.0,
                    )
                )
        known = await lists.of({v.article_id for v in views if v.article_id})
        absorbed = await popularity.absorb(group, views, known, now_s=time.time())
        if absorbed.duplicates or absorbed.replayed:
            log.info(
                "popularity: %d views counted, %d resent views and %d re-read records skipped",
                absorbed.counted,
                absorbed.duplicates,
                absorbed.replayed,
            )
