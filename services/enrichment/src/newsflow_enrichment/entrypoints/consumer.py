"""news.article.ingested.v1 in, news.article.enriched.v1 out."""

from collections.abc import Sequence

from faststream.kafka import KafkaBroker
from faststream.middlewares import AckPolicy
from newsflow_chassis.cloudevents import derived_event_id
from newsflow_chassis.kafka import publish_event
from newsflow_contracts.events import ArticleEnriched, ArticleIngested, ArticleVersionEvent
from newsflow_contracts.topics import ARTICLE_ENRICHED, ARTICLE_INGESTED

from ..domain.pipeline import Enricher, enrich, pipeline_version
from ..settings import Settings


def register(broker: KafkaBroker, settings: Settings, enrichers: Sequence[Enricher]) -> None:
    version = pipeline_version(enrichers)

    @broker.subscriber(
        ARTICLE_INGESTED.name,
        group_id=settings.enrichment_group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        description="Enriches every ingested article version.",
    )
    async def on_article_ingested(event: ArticleIngested) -> None:
        enriched = ArticleEnriched(
            **{field: getattr(event, field) for field in ArticleVersionEvent.model_fields},
            enrichment=enrich(event.content, enrichers),
        )
        await publish_event(
            broker,
            enriched,
            topic=ARTICLE_ENRICHED,
            key=event.article_id,
            event_id=derived_event_id(
                enriched.event_type, event.article_id, event.version, event.content_hash, version
            ),
            source=settings.event_source,
        )
