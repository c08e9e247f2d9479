"""What `newsflow topics` and `newsflow lag` read from Kafka: partitions, end offsets and the
offsets consumer groups committed. Read-only: no group is joined, nothing is committed."""

from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from newsflow_chassis.dead_letters import partition_counts
from newsflow_contracts.topics import Topic

from .table import Cell, retention, table

CLIENT_ID = "newsflow-cli"


@dataclass(frozen=True)
class TopicState:
    topic: Topic
    partitions: int | None
    """As the broker has it; None when the topic does not exist."""
    ends: tuple[int, ...] = ()

    @property
    def problem(self) -> str | None:
        if self.partitions is None:
            return "missing"
        if self.partitions != self.topic.partitions:
            return f"{self.partitions} partitions, the registry says {self.topic.partitions}"
        return None


@dataclass(frozen=True)
class Lag:
    group: str
    topic: str
    partition: int
    committed: int | None
    end: int

    @property
    def lag(self) -> int | None:
        return None if self.committed is None else max(0, self.end - self.committed)


async def end_offsets(bootstrap: str, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
    if not partitions:
        return {}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, client_id=CLIENT_ID, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(partitions))  # a consumer stopped with nothing assigned raises on stop
        return dict(await consumer.end_offsets(list(partitions)))
    finally:
        await consumer.stop()


async def topic_states(bootstrap: str, topics: Sequence[Topic]) -> list[TopicState]:
    counts = await partition_counts(bootstrap, [t.name for t in topics])
    tps = [TopicPartition(name, p) for name, n in counts.items() for p in range(n)]
    ends = await end_offsets(bootstrap, tps)
    states = []
    for t in topics:
        n = counts.get(t.name)
        states.append(TopicState(t, n, tuple(ends[TopicPartition(t.name, p)] for p in range(n or 0))))
    return states


async def committed(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    """The group's committed offsets; empty for a group that never committed."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id=CLIENT_ID)
    await admin.start()
    try:
        found = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in found.items() if meta.offset >= 0}


async def lags(bootstrap: str, groups: Sequence[str]) -> dict[str, list[Lag]]:
    """Per group, every partition of the topics it committed on: partitions it has not
    committed on yet show no committed offset and no lag."""
    commits = {group: await committed(bootstrap, group) for group in groups}
    topics = sorted({tp.topic for found in commits.values() for tp in found})
    counts = await partition_counts(bootstrap, topics)
    ends = await end_offsets(bootstrap, [TopicPartition(t, p) for t, n in counts.items() for p in range(n)])
    result: dict[str, list[Lag]] = {}
    for group, found in commits.items():
        mine = sorted({tp.topic for tp in found})
        result[group] = [
            Lag(group, topic, p, found.get(TopicPartition(topic, p)), ends[TopicPartition(topic, p)])
            for topic in mine
            for p in range(counts.get(topic, 0))
        ]
    return result


def over(found: dict[str, list[Lag]], max_lag: int) -> list[Lag]:
    """The partitions whose lag is over max_lag (an unknown lag never is)."""
    return [r for rows in found.values() for r in rows if r.lag is not None and r.lag > max_lag]


def topics_table(states: Sequence[TopicState]) -> str:
    rows: list[list[Cell]] = [
        [
            s.topic.name,
            s.partitions,
            str(s.topic.cleanup_policy),
            "-" if s.topic.cleanup_policy == "compact" else retention(s.topic.retention_ms),
            sum(s.ends) if s.partitions is not None else None,
            " ".join(map(str, s.ends)) if s.partitions is not None else (s.problem or ""),
        ]
        for s in states
    ]
    return table(["TOPIC", "PARTITIONS", "POLICY", "RETENTION", "END", "END BY PARTITION"], rows)


def lag_table(found: dict[str, list[Lag]]) -> str:
    rows: list[list[Cell]] = [
        [r.group, r.topic, r.partition, r.committed, r.end, r.lag] for rows in found.values() for r in rows
    ]
    return table(["GROUP", "TOPIC", "PARTITION", "COMMITTED", "END", "LAG"], rows)
