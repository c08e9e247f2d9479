"""news.article.ingested.v1 in, news.article.enriched.v1 out."""

from collections.abc import Sequence

from faststream.kafka import KafkaBroker
from faststream.middlewares import AckPolicy
from newsflow_chassis.cloudevents import derived_event_id
from newsflow_chassis.kafka import EventPublisher
from newsflow_chassis.metrics import stage
from newsflow_contracts.events import ArticleEnriched, ArticleIngested, ArticleVersionEvent
from newsflow_contracts.topics import ARTICLE_ENRICHED, ARTICLE_INGESTED

from ..domain.pipeline import Enricher, enrich, pipeline_version
from ..settings import Settings


def register(broker: KafkaBroker, settings: Settings, enrichers: Sequence[Enricher]) -> None:
    version = pipeline_version(enrichers)
    enriched_topic = EventPublisher(
        broker,
        ARTICLE_ENRICHED,
        ArticleEnriched,
        source=settings.event_source,
        description="Every ingested version with what machines derived from it.",
    )

    @broker.subscriber(
        ARTICLE_INGESTED.name,
        group_id=settings.enrichment_group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title=f"{ARTICLE_INGESTED.name}:subscribe",
        description="Enriches every ingested article version.",
    )
    async def on_article_ingested(event: ArticleIngested) -> None:
        with stage("enrichment.enrich"):
            enrichment = enrich(event.content, enrichers)
        enriched = ArticleEnriched(
            **{field: getattr(event, field) for field in ArticleVersionEvent.model_fields},
            enrichment=enrichment,
        )
        await enriched_topic.publish(
            enriched,
            key=event.article_id,
            event_id=derived_event_id(
                enriched.event_type, event.article_id, event.version, event.content_hash, version
            ),
        )
