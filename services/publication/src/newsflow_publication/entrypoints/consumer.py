"""Article versions and retractions in; the read model and the published topic out.

Each effect is stored before it is published, and published before the offset is committed;
a redelivered record finds its version already stored and publishes it again under the same
`ce_id`, so downstream consumers can drop the duplicate."""

from datetime import UTC, datetime

from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.middlewares import AckPolicy
from newsflow_chassis.cloudevents import derived_event_id, from_headers
from newsflow_chassis.kafka import EventPublisher
from newsflow_contracts.events import ArticleEnriched, ArticlePublished, ArticleRetracted
from newsflow_contracts.topics import ARTICLE_ENRICHED, ARTICLE_PUBLISHED, ARTICLE_RETRACTED

from ..adapters.articles import ArticleRepository
from ..domain.articles import publish
from ..settings import Settings


def register(broker: KafkaBroker, settings: Settings, articles: ArticleRepository) -> None:
    published_topic = EventPublisher(
        broker,
        ARTICLE_PUBLISHED,
        ArticlePublished,
        source=settings.event_source,
        description=(
            "Every version that went live, as IPTC ninjs 3.1 plus newsflow's fields; compacted, "
            "keyed by article id. A retraction is a tombstone (null value) whose ce_* headers "
            "name the news.article.retracted.v1 event behind it."
        ),
    )

    @broker.subscriber(
        ARTICLE_ENRICHED.name,
        group_id=settings.publication_group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title=f"{ARTICLE_ENRICHED.name}:subscribe",
        description="Stores every enriched article version and publishes the newest.",
    )
    async def on_article_enriched(event: ArticleEnriched, msg: KafkaMessage) -> None:
        cause = from_headers(msg.headers)
        stored = await articles.save(publish(event, now=datetime.now(UTC)))
        if stored.version != event.version:
            return  # a newer version or a retraction is there already: this one is stale
        await published_topic.publish(
            stored, key=stored.article_id, event_id=derived_event_id(ArticlePublished.event_type, cause.id)
        )

    @broker.subscriber(
        ARTICLE_RETRACTED.name,
        group_id=settings.publication_group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title=f"{ARTICLE_RETRACTED.name}:subscribe",
        description="Withdraws retracted articles from the read model and tombstones them.",
    )
    async def on_article_retracted(event: ArticleRetracted, msg: KafkaMessage) -> None:
        cause = from_headers(msg.headers)
        stored = await articles.retract(event)
        if stored.version != event.version:
            return  # the newsroom published a newer version after retracting
        await published_topic.tombstone(
            key=event.article_id,
            event_id=derived_event_id("tombstone", cause.id),
            event_type=event.event_type,
        )
