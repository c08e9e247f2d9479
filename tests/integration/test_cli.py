"""`newsflow topics`, `lag` and `stats` against the real Kafka (and FerretDB and Redis for
stats). `lag` reads a group of this test's own, with offsets it committed on a topic of its
own; the registry's topics are only read."""

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from newsflow_chassis.kafka import ensure_topics
from newsflow_cli.main import main
from newsflow_contracts.topics import Topic, topics_with_dead_letters
from newsflow_enrichment.settings import Settings as EnrichmentSettings
from newsflow_ingest.settings import Settings as IngestSettings

from tests.support.stack import KAFKA, end_offsets, unique

PER_PARTITION = (5, 3, 4)
COMMITTED = {0: 2, 1: 3}  # partition 2 never committed


async def newsflow(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; in a thread, because it runs its own event loop."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@dataclass(frozen=True)
class Committed:
    topic: str
    group: str


@pytest.fixture
async def committed() -> AsyncIterator[Committed]:
    topic = Topic(f"test.cli-{unique('lag')}.v1", partitions=len(PER_PARTITION))
    group = unique("test-cli-group")
    await ensure_topics(KAFKA, [topic])
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for partition, count in enumerate(PER_PARTITION):
            for n in range(count):
                await producer.send_and_wait(topic.name, b"{}", key=f"k{n}".encode(), partition=partition)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic.name, p) for p in range(len(PER_PARTITION))])
        await consumer.commit({TopicPartition(topic.name, p): o for p, o in COMMITTED.items()})
    finally:
        await consumer.stop()
    yield Committed(topic.name, group)
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        await admin.delete_topics([topic.name])  # and with it the group's offsets
    finally:
        await admin.close()


def _rows(out: str, first: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines() if line.startswith(first + " ")]


async def test_lag_prints_committed_end_and_lag_per_partition(
    committed: Committed, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await newsflow(capsys, "lag", "--group", committed.group)
    assert (code, err) == (0, "")
    assert _rows(out, committed.group) == [
        [committed.group, committed.topic, "0", "2", "5", "3"],
        [committed.group, committed.topic, "1", "3", "3", "0"],
        [committed.group, committed.topic, "2", "-", "4", "-"],
    ]


async def test_lag_over_max_lag_exits_1_and_names_the_partition(
    committed: Committed, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (await newsflow(capsys, "lag", "--group", committed.group, "--max-lag", "3"))[0] == 0
    code, _, err = await newsflow(capsys, "lag", "--group", committed.group, "--max-lag", "2")
    assert code == 1
    assert err.strip() == f"{committed.group} {committed.topic}[0]: lag 3 > 2"
    code, out, _ = await newsflow(capsys, "lag", "--group", committed.group, "--json")
    assert code == 0
    assert [json.loads(line) for line in out.splitlines()] == [
        {
            "group": committed.group,
            "topic": committed.topic,
            "partition": 0,
            "committed": 2,
            "end": 5,
            "lag": 3,
        },
        {
            "group": committed.group,
            "topic": committed.topic,
            "partition": 1,
            "committed": 3,
            "end": 3,
            "lag": 0,
        },
        {
            "group": committed.group,
            "topic": committed.topic,
            "partition": 2,
            "committed": None,
            "end": 4,
            "lag": None,
        },
    ]


async def test_lag_of_a_group_that_never_committed_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    group = unique("test-cli-nobody")
    code, out, err = await newsflow(capsys, "lag", "--group", group, "--max-lag", "0")
    assert code == 0
    assert out.splitlines() == ["GROUP  TOPIC  PARTITION  COMMITTED  END  LAG"]
    assert err == f"{group}: no committed offsets (never started, or expired)\n"


async def test_lag_by_default_reads_the_services_groups(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = await newsflow(capsys, "lag")
    assert code == 0
    for group in (EnrichmentSettings().enrichment_group, IngestSettings().submissions_group):
        assert f"\n{group} " in out or f"{group}: no committed offsets" in err


async def test_topics_lists_the_registry_with_its_end_offsets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry = topics_with_dead_letters()
    before = {t.name: await end_offsets(t.name) for t in registry}
    code, out, err = await newsflow(capsys, "topics", "--json")
    after = {t.name: await end_offsets(t.name) for t in registry}
    assert (code, err) == (0, "")
    shown = [json.loads(line) for line in out.splitlines()]
    assert [s["name"] for s in shown] == [t.name for t in registry]
    for topic, s in zip(registry, shown, strict=True):
        assert s["actual_partitions"] == topic.partitions
        assert s["cleanup_policy"] == topic.cleanup_policy
        for p, end in enumerate(s["end_offsets"]):  # other tests may be writing meanwhile
            tp = TopicPartition(topic.name, p)
            assert before[topic.name][tp] <= end <= after[topic.name][tp]
    code, out, _ = await newsflow(capsys, "topics", "--create")
    assert code == 0
    assert out.startswith("created none: every topic exists\nTOPIC ")
    table = {row[0]: row for row in (line.split() for line in out.splitlines()[2:])}
    assert set(table) == {t.name for t in registry}
    assert table["news.article.published.v1"][1:4] == ["6", "compact", "-"]
    assert table["news.article.ingested.v1"][1:4] == ["6", "delete", "forever"]


async def test_stats_runs_and_summarises(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = await newsflow(capsys, "stats")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    labels = [
        "read model",
        "articles",
        "listed",
        "Popular keys",
        "Related keys",
        "dead letters",
        "webhooks dead",
    ]
    assert [line[:18].strip() for line in lines[: len(labels)]] == labels
    assert int(lines[1].split()[1].replace(",", "")) >= 0
    records = {row[0]: row[1] for row in (line.split() for line in lines[len(labels) + 2 :])}
    assert set(records) == {t.name for t in topics_with_dead_letters()}
    dead = sum(int(n.replace(",", "")) for name, n in records.items() if name.endswith(".dlq"))
    assert lines[5].split()[2] == f"{dead:,}"
