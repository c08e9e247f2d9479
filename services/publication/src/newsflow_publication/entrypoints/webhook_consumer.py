"""The published topic in; one pending delivery per subscription that wants the event out.

Publication writes a retraction as a news.article.retracted.v1 record (kind, reason) and
then a tombstone for compaction; the record is delivered, the tombstone is not.

Its own consumer group, so webhooks neither slow nor replay the read model. A record's
deliveries are stored before its offset is committed; a redelivered record finds them
there (their ids are derived from the subscription and the record's `ce_id`). A new group
starts at the end of the topic: subscribers get what is published from then on, not the
topic's history."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import cast

from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.middlewares import AckPolicy
from newsflow_chassis.cloudevents import from_headers
from newsflow_chassis.delivery import PoisonRecord
from newsflow_contracts.topics import ARTICLE_PUBLISHED

from ..adapters.deliveries import DeliveryStore
from ..adapters.subscriptions import SubscriptionStore
from ..domain.webhooks import EVENT_TYPES, event_payload
from ..settings import Settings


def register(
    broker: KafkaBroker,
    settings: Settings,
    *,
    subscriptions: SubscriptionStore,
    deliveries: DeliveryStore,
    created: Callable[[], None] = lambda: None,
) -> None:
    """`created` is called when deliveries were created (to wake the worker)."""

    @broker.subscriber(
        ARTICLE_PUBLISHED.name,
        group_id=settings.webhook_group,
        auto_offset_reset="latest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="webhooks:subscribe",
        description="Creates a webhook delivery for every subscription that wants the record's event "
        "type: a published version, or a retraction (its record, not the tombstone after it).",
    )
    async def on_published_record(msg: KafkaMessage) -> None:
        record = cast(ConsumerRecord[bytes | None, bytes | None], msg.raw_message)  # not a batch subscriber
        cause = from_headers(msg.headers)
        if record.value is None or cause.type not in EVENT_TYPES:
            return  # a tombstone (its retraction record came before it), or a type nobody can want
        wanting = [s for s in await subscriptions.all() if s.wants(cause.type)]
        if not wanting:
            return
        try:
            body = event_payload(cause.type, record.value, timestamp=cause.time)
        except ValueError as error:
            raise PoisonRecord(f"not a {cause.type} event: {error}") from error
        new = await deliveries.create(
            message_id=cause.id,
            event_type=cause.type,
            body=body,
            subscriptions=wanting,
            now=datetime.now(UTC),
        )
        if new:
            created()
