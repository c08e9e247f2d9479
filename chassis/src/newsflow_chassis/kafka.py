"""The Kafka broker every service uses, and the idempotent creation of the topic registry."""

import logging
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from newsflow_contracts import cloudevents as ce
from newsflow_contracts.events import Event
from newsflow_contracts.topics import Topic, topics_with_dead_letters
from prometheus_client import REGISTRY

from . import metrics
from .cloudevents import attributes_for, to_headers
from .delivery import DeliveryGuard
from .settings import KafkaSettings
from .telemetry import ObservedConsume, outgoing_traceparent

log = logging.getLogger("newsflow.kafka")


def build_broker(
    settings: KafkaSettings,
    *,
    client_id: str,
    transient: tuple[type[BaseException], ...] = (),
) -> KafkaBroker:
    """A broker whose producer waits for all in-sync replicas and never duplicates a
    record on retry (acks=all, idempotence), and whose consumers go through the
    delivery guard (dead letters, backoff), inside the observer (trace, outcome count, one
    log line per record) and FastStream's own Prometheus metrics. At a stop, the records in
    hand get half of `shutdown_timeout_s` to finish (the broker's graceful timeout); FastStream's
    own per-record log lines are at DEBUG, the observer's line replaces them."""
    guard = DeliveryGuard(
        transient=transient,
        backoff_max_s=settings.retry_backoff_max_s,
        poison_attempts=settings.poison_attempts,
    )
    broker = KafkaBroker(
        settings.kafka_bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        graceful_timeout=settings.shutdown_timeout_s / 2,
        log_level=logging.DEBUG,
        logger=logging.getLogger("newsflow.faststream"),
        middlewares=[
            ObservedConsume,
            KafkaPrometheusMiddleware(registry=REGISTRY, app_name=client_id),
            guard,
        ],
    )

    async def dead_letter(value: bytes, key: bytes | None, headers: dict[str, str], topic: str) -> None:
        await broker.publish(value, topic=topic, key=key, headers=headers)

    guard.dead_letter = dead_letter
    return broker


class EventPublisher:
    """Publishes one topic's events as CloudEvents in binary mode, keyed by article id.

    Declared on the broker, so the service's AsyncAPI document lists the topic and the
    event's schema. Every send waits for the broker's acknowledgement (acks=all): a
    consumer that publishes before it returns commits only what is durable."""

    def __init__(
        self, broker: KafkaBroker, topic: Topic, event: type[Event], *, source: str, description: str
    ) -> None:
        self.topic = topic
        self.source = source
        service = source.rstrip("/").rsplit("/", 1)[-1]
        self._stage = metrics.STAGE.labels(f"{service}.publish")
        self._sends = metrics.DEPENDENCY.labels("kafka", "publish")
        self._publisher = broker.publisher(
            topic.name, schema=event, title=f"{topic.name}:publish", description=description
        )

    async def publish(self, event: Event, *, key: str, event_id: str) -> None:
        """Carries the current trace (`ce_traceparent`), or starts one."""
        started = time.perf_counter()
        attributes = attributes_for(
            event, event_id=event_id, source=self.source, subject=key, traceparent=outgoing_traceparent()
        )
        value = event.model_dump(mode="json", by_alias=True, exclude_none=True)
        sending = time.perf_counter()
        await self._publisher.publish(value, key=key.encode(), headers=to_headers(attributes))
        done = time.perf_counter()
        self._sends.observe(done - sending)
        self._stage.observe(done - started)

    async def tombstone(self, *, key: str, event_id: str, event_type: str) -> None:
        """A null value for the key: compaction then forgets the key's earlier records. The
        CloudEvents headers say which event caused it."""
        attributes = ce.EventAttributes(
            id=event_id,
            type=event_type,
            source=self.source,
            time=datetime.now(UTC),
            subject=key,
            traceparent=outgoing_traceparent(),
        )
        headers = to_headers(attributes)
        headers.pop(ce.HEADER_CONTENT_TYPE)
        await self._publisher.publish(None, key=key.encode(), headers=headers)


async def ensure_topics(bootstrap: str, topics: Iterable[Topic], *, replication: int = 1) -> list[str]:
    """Create the topics that do not exist yet; returns the names it created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in topics if t.name not in existing]
        created: list[str] = []
        for topic in wanted:
            try:
                await admin.create_topics(
                    [
                        NewTopic(
                            name=topic.name,
                            num_partitions=topic.partitions,
                            replication_factor=max(replication, topic.replication_factor),
                            topic_configs=topic.config,
                        )
                    ]
                )
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass
        if created:
            log.info("created topics: %s", ", ".join(created))
        return created
    finally:
        await admin.close()


@asynccontextmanager
async def running_broker(broker: KafkaBroker, settings: KafkaSettings) -> AsyncIterator[None]:
    """Create the registry's topics, run the broker's consumers and producer, stop them after."""
    await ensure_topics(
        settings.kafka_bootstrap, topics_with_dead_letters(), replication=settings.kafka_topic_replication
    )
    await broker.start()
    try:
        yield
    finally:
        await broker.stop()
