"""The registry of Kafka topics: the one place that names them and says how they are kept."""

from dataclasses import dataclass
from enum import StrEnum


class CleanupPolicy(StrEnum):
    DELETE = "delete"
    COMPACT = "compact"


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    partitions: int
    event_type: str = ""
    """The CloudEvents `type` of its records; a dead-letter topic keeps whatever failed."""
    cleanup_policy: CleanupPolicy = CleanupPolicy.DELETE
    retention_ms: int = 7 * 24 * 3600 * 1000
    replication_factor: int = 1
    consumed: bool = True
    """Consumed topics get a dead-letter topic `<name>.dlq` for records that can never succeed."""

    @property
    def dlq(self) -> "Topic":
        return Topic(
            name=f"{self.name}.dlq",
            partitions=1,
            retention_ms=30 * 24 * 3600 * 1000,
            replication_factor=self.replication_factor,
            consumed=False,
        )

    @property
    def config(self) -> dict[str, str]:
        config = {"cleanup.policy": str(self.cleanup_policy)}
        if self.cleanup_policy is CleanupPolicy.DELETE:
            config["retention.ms"] = str(self.retention_ms)
        else:
            config["min.compaction.lag.ms"] = "0"
            config["delete.retention.ms"] = str(24 * 3600 * 1000)
        return config


FOREVER = -1

# Kafka is the source of truth: the article topics keep everything, so the read models
# can be rebuilt from offset 0. Submissions and page views are inputs, kept for a week.
ARTICLE_SUBMITTED = Topic("news.article.submitted.v1", partitions=6, event_type="news.article.submitted.v1")
ARTICLE_INGESTED = Topic(
    "news.article.ingested.v1", partitions=6, event_type="news.article.ingested.v1", retention_ms=FOREVER
)
ARTICLE_ENRICHED = Topic(
    "news.article.enriched.v1", partitions=6, event_type="news.article.enriched.v1", retention_ms=FOREVER
)
ARTICLE_RETRACTED = Topic(
    "news.article.retracted.v1", partitions=6, event_type="news.article.retracted.v1", retention_ms=FOREVER
)
ARTICLE_PUBLISHED = Topic(
    "news.article.published.v1",
    partitions=6,
    event_type="news.article.published.v1",
    cleanup_policy=CleanupPolicy.COMPACT,
    consumed=False,
)
"""Compacted: the newest record per article id. A retraction writes a tombstone (null value)."""
PAGEVIEW_RECORDED = Topic("news.pageview.recorded.v1", partitions=6, event_type="news.pageview.recorded.v1")

ALL_TOPICS: tuple[Topic, ...] = (
    ARTICLE_SUBMITTED,
    ARTICLE_INGESTED,
    ARTICLE_ENRICHED,
    ARTICLE_RETRACTED,
    ARTICLE_PUBLISHED,
    PAGEVIEW_RECORDED,
)


def topics_with_dead_letters() -> list[Topic]:
    """Every topic the platform needs, dead-letter topics included."""
    topics: list[Topic] = []
    for topic in ALL_TOPICS:
        topics.append(topic)
        if topic.consumed:
            topics.append(topic.dlq)
    return topics


CO_PARTITIONED: tuple[tuple[Topic, ...], ...] = ((ARTICLE_ENRICHED, ARTICLE_RETRACTED),)
"""Topics one consumer reads together, relying on an article's records having the same
partition number in each: they must keep the same partition count."""
