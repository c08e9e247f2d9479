"""news.article.submitted.v1 in: for newsroom systems that publish over Kafka.

The record's `ce_source` names the publisher source (as registered with `newsflow-ingest
keys create --source ...`); the value is the same submission the HTTP API takes. In
production, Kafka ACLs decide who may write to the topic; this consumer accepts only
sources that hold an active key. A record that breaks a rule is dead-lettered with the
reason; the consumer moves on."""

import time
from collections.abc import Awaitable, Callable
from typing import Any

from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.middlewares import AckPolicy
from newsflow_chassis.cloudevents import from_headers
from newsflow_chassis.delivery import PoisonRecord
from newsflow_contracts.events import ArticleSubmitted
from newsflow_contracts.topics import ARTICLE_SUBMITTED

from ..domain.articles import InvalidArticle, Withdrawn
from ..service import accept_submission
from ..settings import Settings

SOURCES_CACHE_S = 10.0


def register(broker: KafkaBroker, settings: Settings, state: Callable[[], Any]) -> None:
    """`state()` gives the app's adapters (heads, keys, publish_ingested), set at start."""
    known: dict[str, float] = {}

    async def registered(source: str, sources: Callable[[], Awaitable[set[str]]]) -> bool:
        if known.get(source, 0) > time.monotonic():
            return True
        if source in await sources():
            known[source] = time.monotonic() + SOURCES_CACHE_S
            return True
        return False

    @broker.subscriber(
        ARTICLE_SUBMITTED.name,
        group_id=settings.submissions_group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title=f"{ARTICLE_SUBMITTED.name}:subscribe",
        description="Submissions from newsroom systems that publish over Kafka; ce_source names the source.",
    )
    async def on_article_submitted(submission: ArticleSubmitted, msg: KafkaMessage) -> None:
        source = from_headers(msg.headers).source
        ingest = state()
        if not await registered(source, ingest.keys.sources):
            raise PoisonRecord(f"unknown source {source!r}: no active publisher key")
        try:
            await accept_submission(
                submission,
                source=source,
                heads=ingest.heads,
                publish=ingest.publish_ingested,
                dedup=ingest.dedup,
            )
        except InvalidArticle as error:
            raise PoisonRecord(f"{error.field}: {error}") from error
        except Withdrawn as error:
            raise PoisonRecord(str(error)) from error
