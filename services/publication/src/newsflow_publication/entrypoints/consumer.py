"""Article versions and retractions in; the read model and the published topic out.

One consumer reads both topics, with the range assignor: the topics have the same number
of partitions and are keyed by article id, so one article's versions and retractions reach
the same consumer and are handled one at a time. Each article therefore has a single
writer, which the read model relies on.

Each effect is stored before it is published, and published before the offset is committed;
a redelivered record finds its version already stored and publishes it again under the same
`ce_id`, so downstream consumers can drop the duplicate.

A version ingest found to duplicate another article (`duplicate` set) is kept in the version
history only: it never becomes the article's current state, so the read API does not serve
it, and it is not put on the published topic."""

from datetime import UTC, datetime

from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.subscriber.usecase import DefaultSubscriber
from faststream.middlewares import AckPolicy
from newsflow_chassis.cloudevents import derived_event_id, from_headers
from newsflow_chassis.delivery import PoisonRecord
from newsflow_chassis.kafka import EventPublisher
from newsflow_chassis.metrics import stage
from newsflow_contracts.events import ArticleEnriched, ArticlePublished, ArticleRetracted
from newsflow_contracts.topics import ARTICLE_ENRICHED, ARTICLE_PUBLISHED, ARTICLE_RETRACTED

from ..adapters.articles import ArticleRepository
from ..adapters.changes import ChangeAnnouncer, article_tag, list_tag
from ..adapters.listings import Listings
from ..domain.articles import publish
from ..domain.listings import lists_of, teaser_of
from ..settings import Settings
from .metrics import ARTICLES_PUBLISHED, END_TO_END

ArticleEvent = ArticleEnriched | ArticleRetracted


async def store_enriched(
    articles: ArticleRepository, listings: Listings, event: ArticleEnriched, *, now: datetime
) -> ArticlePublished | None:
    """Store the version and list it; returns it when it went live (to be published), None
    when it is a duplicate or stale. A replay runs this too, without publishing."""
    if event.duplicate is not None:
        await articles.record_duplicate(publish(event, now=now), event.duplicate)
        return None
    stored = await articles.save(publish(event, now=now))
    if stored.version != event.version or not isinstance(stored, ArticlePublished):
        return None  # a newer version or a retraction is there already: this one is stale
    # the read model keeps no signature; what goes on the published topic has the event's
    stored = stored.model_copy(update={"enrichment": event.enrichment})
    await listings.put(teaser_of(stored), lists_of(stored))
    return stored


async def store_retracted(articles: ArticleRepository, listings: Listings, event: ArticleRetracted) -> bool:
    """Apply the retraction and take the article off every list; False when a newer version
    is there (the newsroom published again after retracting)."""
    stored = await articles.retract(event)
    if stored.version != event.version:
        return False
    await listings.remove(event.article_id)
    return True


def register(
    broker: KafkaBroker,
    settings: Settings,
    articles: ArticleRepository,
    listings: Listings,
    changes: ChangeAnnouncer | None = None,
) -> DefaultSubscriber:
    """`changes` tells the read API processes what changed, so that they drop what they keep
    of it; announced once stored, before the published topic hears of it."""
    published_topic = EventPublisher(
        broker,
        ARTICLE_PUBLISHED,
        ArticlePublished,
        source=settings.event_source,
        description=(
            "Every version that went live, as IPTC ninjs 3.1 plus newsflow's fields; compacted, "
            "keyed by article id. A retraction is a news.article.retracted.v1 record (kind, reason) "
            "followed by a tombstone (null value) whose ce_* headers name that event."
        ),
    )

    async def on_enriched(event: ArticleEnriched, cause_id: str) -> None:
        with stage("publication.store"):
            stored = await store_enriched(articles, listings, event, now=datetime.now(UTC))
        if stored is None:
            return
        if changes is not None:
            await changes.announce([article_tag(stored.article_id), *map(list_tag, lists_of(stored))])
        await published_topic.publish(
            stored, key=stored.article_id, event_id=derived_event_id(ArticlePublished.event_type, cause_id)
        )
        ARTICLES_PUBLISHED.inc()
        END_TO_END.observe((datetime.now(UTC) - stored.accepted_at).total_seconds())

    async def on_retracted(event: ArticleRetracted, cause_id: str) -> None:
        with stage("publication.store"):
            retracted = await store_retracted(articles, listings, event)
        if not retracted:
            return  # the newsroom published a newer version after retracting
        if changes is not None:
            await changes.announce([article_tag(event.article_id)])
        # live consumers learn why from the retracted event; compaction then forgets the key
        await published_topic.publish(
            event,
            key=event.article_id,
            event_id=derived_event_id(ArticleRetracted.event_type, "published", cause_id),
        )
        await published_topic.tombstone(
            key=event.article_id,
            event_id=derived_event_id("tombstone", cause_id),
            event_type=event.event_type,
        )

    subscriber = broker.subscriber(
        ARTICLE_ENRICHED.name,
        ARTICLE_RETRACTED.name,
        group_id=settings.publication_group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        partition_assignment_strategy=(RangePartitionAssignor,),
        title="article-events:subscribe",
        description="Stores enriched versions and retractions, newest wins, and publishes the result.",
    )

    @subscriber
    async def on_article_event(event: ArticleEvent, msg: KafkaMessage) -> None:
        cause = from_headers(msg.headers)
        if cause.type != event.event_type:
            raise PoisonRecord(f"ce_type {cause.type!r} does not match the payload ({event.event_type})")
        if isinstance(event, ArticleRetracted):
            await on_retracted(event, cause.id)
        else:
            await on_enriched(event, cause.id)

    return subscriber
