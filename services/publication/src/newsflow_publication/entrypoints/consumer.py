"""news.article.enriched.v1 in: store the version, then put it on the published topic."""

from datetime import UTC, datetime

from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.middlewares import AckPolicy
from newsflow_chassis.cloudevents import derived_event_id, from_headers
from newsflow_chassis.kafka import publish_event
from newsflow_contracts.events import ArticleEnriched
from newsflow_contracts.topics import ARTICLE_ENRICHED, ARTICLE_PUBLISHED

from ..adapters.articles import ArticleRepository
from ..domain.articles import publish
from ..settings import Settings


def register(broker: KafkaBroker, settings: Settings, articles: ArticleRepository) -> None:
    @broker.subscriber(
        ARTICLE_ENRICHED.name,
        group_id=settings.publication_group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        description="Stores every enriched article version and publishes the newest.",
    )
    async def on_article_enriched(event: ArticleEnriched, msg: KafkaMessage) -> None:
        cause = from_headers(msg.headers)
        stored = await articles.save(publish(event, now=datetime.now(UTC)))
        if stored.version != event.version:
            return  # a newer version is live already: this one is stale
        await publish_event(
            broker,
            stored,
            topic=ARTICLE_PUBLISHED,
            key=stored.article_id,
            event_id=derived_event_id(stored.event_type, cause.id),
            source=settings.event_source,
        )
