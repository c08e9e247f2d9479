"""`newsflow-dlq` against the real Kafka, on topics of its own (never the registry's):
list shows why records failed, redrive puts back exactly what was chosen, refusals write nothing."""

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from newsflow_chassis import dead_letters as dl
from newsflow_chassis.dead_letters_cli import main
from newsflow_chassis.delivery import PoisonRecord, dead_letter_headers
from newsflow_chassis.kafka import ensure_topics
from newsflow_contracts.topics import Topic

from tests.support.stack import KAFKA, end_offsets, records_since

REASONS = ("headline is empty", "version 0 is not allowed", "body is not valid HTML")


@dataclass(frozen=True)
class Topics:
    source: str
    dlq: str


def _record(source: str, n: int) -> SimpleNamespace:
    """A record as the delivery guard saw it when it failed on the source topic."""
    headers = [("ce_id", f"evt-{n}".encode()), ("ce_type", b"test.thing.v1")]
    return SimpleNamespace(topic=source, partition=n % 3, offset=100 + n, headers=headers)


@pytest.fixture
async def topics() -> AsyncIterator[Topics]:
    source = Topic(f"test.dlq-{uuid.uuid4().hex[:10]}.v1", partitions=3)
    await ensure_topics(KAFKA, [source, source.dlq])
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for n, reason in enumerate(REASONS):
            headers = dead_letter_headers(_record(source.name, n), PoisonRecord(reason))
            await producer.send_and_wait(
                source.dlq.name,
                json.dumps({"n": n}).encode(),
                key=f"article-{n}".encode(),
                headers=[(k, v.encode()) for k, v in headers.items()],
            )
    finally:
        await producer.stop()
    yield Topics(source.name, source.dlq.name)
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        await admin.delete_topics([source.name, source.dlq.name])
    finally:
        await admin.close()


async def dlq(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; in a thread, because it runs its own event loop."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["--bootstrap", KAFKA, *argv])
    out, err = capsys.readouterr()
    return code, out, err


async def total(topic: str) -> int:
    return sum((await end_offsets(topic)).values())


async def test_list_shows_each_record_with_why_it_failed(
    topics: Topics, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = await dlq(capsys, "list", topics.dlq, "--json")
    assert code == 0
    shown = [json.loads(line) for line in out.splitlines()]
    assert [(r["offset"], r["key"], r["error_message"]) for r in shown] == [
        (n, f"article-{n}", reason) for n, reason in enumerate(REASONS)
    ]
    assert shown[1]["error_class"] == "newsflow_chassis.delivery.PoisonRecord"
    assert (shown[1]["source_topic"], shown[1]["source_partition"], shown[1]["source_offset"]) == (
        topics.source,
        1,
        101,
    )
    assert shown[1]["ce_id"] == "evt-1" and shown[1]["failed_at"]

    code, out, _ = await dlq(capsys, "list", topics.dlq, "--since-offset", "1", "--limit", "1")
    assert code == 0
    heading, line = out.splitlines()
    assert heading == f"{topics.dlq}: 3 records (offsets 0..2), showing 1"
    assert line.split()[0] == "1" and "PoisonRecord: version 0 is not allowed" in line
    assert f"from {topics.source}[1]@101" in line and "ce_id=evt-1" in line
    assert await dl.counts(KAFKA, [topics.dlq]) == {topics.dlq: 3}


async def test_redrive_puts_back_exactly_the_chosen_record(
    topics: Topics, capsys: pytest.CaptureFixture[str]
) -> None:
    start = await end_offsets(topics.source)
    code, out, _ = await dlq(capsys, "redrive", topics.dlq, "--offset", "1")
    assert code == 0, out
    assert f"re-drove {topics.dlq}@1 -> {topics.source}" in out
    assert await total(topics.source) == sum(start.values()) + 1
    (record,) = await records_since(start, until=lambda found: len(found) >= 1)
    assert (record.key, json.loads(record.value)) == (b"article-1", {"n": 1})
    headers = dict(record.headers)
    assert headers["dlq_redriven_from"] == f"{topics.dlq}@1".encode()
    assert [name for name in headers if name.startswith("dlq_")] == ["dlq_redriven_from"]
    assert headers["ce_id"] == b"evt-1"  # kept: consumers drop the duplicate by event id
    assert await total(topics.dlq) == 3  # re-driving leaves the dead letter where it was


async def test_an_unknown_offset_is_refused_and_nothing_is_written(
    topics: Topics, capsys: pytest.CaptureFixture[str]
) -> None:
    before = await total(topics.source)
    code, _, err = await dlq(capsys, "redrive", topics.dlq, "--offset", "0", "--offset", "7")
    assert code == 1
    assert f"no record at offset 7 in {topics.dlq} (offsets 0..2)" in err
    assert await total(topics.source) == before


async def test_dry_run_writes_nothing(topics: Topics, capsys: pytest.CaptureFixture[str]) -> None:
    before = await total(topics.source)
    code, out, _ = await dlq(capsys, "redrive", topics.dlq, "--all", "--dry-run")
    assert code == 0
    assert f"would re-drive {topics.dlq}@2 -> {topics.source} key=article-2" in out
    assert "dry run: 3 record(s), nothing written" in out
    assert await total(topics.source) == before


async def test_a_record_without_source_needs_to_and_the_target_must_exist(
    topics: Topics, capsys: pytest.CaptureFixture[str]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topics.dlq, b"{}", headers=[("dlq_error_message", b"who knows")])
    finally:
        await producer.stop()
    code, _, err = await dlq(capsys, "redrive", topics.dlq, "--offset", "3")
    assert code == 1 and "record at offset 3 has no dlq_source_topic header; name the target with --to" in err
    missing = f"{topics.source}-missing"
    code, _, err = await dlq(capsys, "redrive", topics.dlq, "--offset", "3", "--to", missing)
    assert code == 1 and f"target topic {missing} does not exist" in err
    code, out, _ = await dlq(capsys, "redrive", topics.dlq, "--offset", "3", "--to", topics.source)
    assert code == 0 and f"@3 -> {topics.source}" in out


async def test_the_installed_console_script_runs(topics: Topics) -> None:
    script = Path(sys.executable).parent / "newsflow-dlq"
    done = await asyncio.to_thread(
        subprocess.run,
        [str(script), "list", topics.dlq, "--json"],
        env={"NEWSFLOW_KAFKA_BOOTSTRAP": KAFKA, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["error_message"] for line in done.stdout.splitlines()] == list(REASONS)
