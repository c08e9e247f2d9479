"""Rules of the topic registry that other code relies on."""

from newsflow_contracts.events import EVENTS
from newsflow_contracts.topics import (
    ALL_TOPICS,
    ARTICLE_PUBLISHED,
    CO_PARTITIONED,
    CleanupPolicy,
    topics_with_dead_letters,
)


def test_co_partitioned_topics_keep_the_same_partition_count() -> None:
    for group in CO_PARTITIONED:
        assert len({topic.partitions for topic in group}) == 1, [t.name for t in group]


def test_every_topic_carries_a_contract_event_and_is_named_after_it() -> None:
    event_types = {event.event_type for event in EVENTS}
    for topic in ALL_TOPICS:
        assert topic.event_type in event_types
        assert topic.name == topic.event_type


def test_every_consumed_topic_has_a_dead_letter_topic_and_published_is_compacted() -> None:
    names = {topic.name for topic in topics_with_dead_letters()}
    for topic in ALL_TOPICS:
        assert (f"{topic.name}.dlq" in names) == topic.consumed
    assert ARTICLE_PUBLISHED.cleanup_policy is CleanupPolicy.COMPACT
    assert ARTICLE_PUBLISHED.config["cleanup.policy"] == "compact"
