"""Replicas share the work: 3 enrichment and 2 publication processes over 1,000 articles,
each replica handling a share and every version handled once; then enrichment scaled from
1 to 3 processes (and publication from 1 to 2) in the middle of a stream, nothing lost.

The split is read from each process's `/metrics`: `newsflow_records_total{outcome="processed"}`
for its input topic, and the partitions it holds from `newsflow_consumer_lag`."""

import asyncio
import json
import random
import time
from collections import defaultdict

import httpx
import pytest
from aiokafka import TopicPartition
from newsflow_contracts.topics import ARTICLE_ENRICHED, ARTICLE_INGESTED, ARTICLE_PUBLISHED
from prometheus_client.parser import text_string_to_metric_families

from tests.support.accounting import (
    dead_letter_offsets,
    dead_letters_since,
    stored_version_history,
    wait_for_read_model,
)
from tests.support.newsroom import Ledger, publish_run
from tests.support.processes import Services
from tests.support.stack import end_offsets, records_since, unique

ENRICHERS = ["enrichment", "enrichment#2", "enrichment#3"]
PUBLISHERS = ["publication", "publication#2"]
INPUT = {"enrichment": ARTICLE_INGESTED, "publication": ARTICLE_ENRICHED}
GROUP = {"enrichment": "NEWSFLOW_ENRICHMENT_GROUP", "publication": "NEWSFLOW_PUBLICATION_GROUP"}

pytestmark = pytest.mark.timeout(420)


def scaling_services() -> Services:
    services = Services.isolated()
    # the article consumers are under test: Popular (a new group would count the whole page
    # view topic) and the Related indexer stay off
    services.env["NEWSFLOW_POPULAR_ENABLED"] = "false"
    services.env["NEWSFLOW_RELATED_ENABLED"] = "false"
    return services


async def share(services: Services, name: str) -> tuple[int, set[int]]:
    """(records the replica processed from its input topic, the partitions of it it holds)."""
    service = name.split("#")[0]
    topic, group = INPUT[service].name, services.env[GROUP[service]]
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(f"{services.url(name)}/metrics")).text
    processed, held = 0, set()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "newsflow_records_total" and labels == {"topic": topic, "outcome": "processed"}:
                processed = int(sample.value)
            if sample.name == "newsflow_consumer_lag" and (labels["group"], labels["topic"]) == (
                group,
                topic,
            ):
                held.add(int(labels["partition"]))
    return processed, held


async def shares(services: Services, names: list[str]) -> dict[str, tuple[int, set[int]]]:
    return {name: await share(services, name) for name in names}


async def wait_for_split(services: Services, names: list[str], *, timeout_s: float = 60) -> None:
    """Until every replica holds partitions of its input topic, together all of them, once."""
    partitions = INPUT[names[0].split("#")[0]].partitions
    deadline = time.monotonic() + timeout_s
    while True:
        held = [h for _, h in (await shares(services, names)).values()]
        if all(held) and sorted(p for h in held for p in h) == list(range(partitions)):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{names} never shared the partitions: {held}")
        await asyncio.sleep(0.5)


async def event_ids(start: dict[TopicPartition, int], ids: set[str]) -> dict[tuple[str, int], list[str]]:
    """(article id, version) -> the ce_id of every record for it written after `start`, up to
    the topic's end now."""
    ends = await end_offsets(next(iter(start)).topic)
    total = sum(ends[tp] - offset for tp, offset in start.items())
    records = await records_since(start, until=lambda got: len(got) >= total, timeout_s=30)
    seen: dict[tuple[str, int], list[str]] = defaultdict(list)
    for record in records:
        key = record.key.decode() if record.key else ""
        if key in ids and record.value is not None:
            seen[(key, json.loads(record.value)["version"])].append(dict(record.headers)["ce_id"].decode())
    return seen


def split_line(split: dict[str, tuple[int, set[int]]]) -> str:
    return ", ".join(f"{name} {n} (partitions {sorted(held)})" for name, (n, held) in split.items())


async def starting_points(
    services: Services,
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int], dict[TopicPartition, int]]:
    """The groups moved to the topics' ends; the dead-letter, enriched and published offsets
    the run starts from."""
    await services.groups_at_end()
    dead = await dead_letter_offsets([ARTICLE_INGESTED.dlq.name, ARTICLE_ENRICHED.dlq.name])
    return dead, await end_offsets(ARTICLE_ENRICHED.name), await end_offsets(ARTICLE_PUBLISHED.name)


async def test_three_enrichment_and_two_publication_processes_share_a_thousand_articles() -> None:
    rng = random.Random()
    services = scaling_services()
    dead_before, enriched_before, published_before = await starting_points(services)
    ledger = Ledger()
    try:
        for name in ["ingest", *ENRICHERS, *PUBLISHERS]:
            services.start(name)
        await wait_for_split(services, ENRICHERS)
        await wait_for_split(services, PUBLISHERS)
        key = services.create_key(unique("scale-cms"))
        began = time.monotonic()
        await publish_run(services.url("ingest"), key, unique("scale"), articles=1000, ledger=ledger, rng=rng)
        database = services.env["NEWSFLOW_PUBLICATION_DB"]
        stored = await wait_for_read_model(database, ledger.latest, timeout_s=180)
        drained_s = time.monotonic() - began
        await asyncio.sleep(1)  # anything handled twice would be counted by now
        enrichment, publication = await shares(services, ENRICHERS), await shares(services, PUBLISHERS)
    finally:
        services.stop_all()

    versions = len(ledger.pairs)
    print(f"\n{len(ledger.accepted)} articles, {versions} versions, all readable after {drained_s:.1f}s")
    print(f"enrichment: {split_line(enrichment)}")
    print(f"publication: {split_line(publication)}")
    assert len(ledger.accepted) == 1000
    assert {a: v for a, v in ledger.latest.items() if stored.get(a) != v} == {}
    history = await stored_version_history(database, set(ledger.accepted))
    assert {a: sorted(vs) for a, vs in history.items()} == {
        a: sorted(vs) for a, vs in ledger.accepted.items()
    }

    # the work was split, and with a steady group every version was handled by one replica, once
    assert all(n > 0 for n, _ in enrichment.values()), enrichment
    assert all(n > 0 for n, _ in publication.values()), publication
    assert sum(n for n, _ in enrichment.values()) == versions
    assert sum(n for n, _ in publication.values()) == versions
    for topic, start in (("enriched", enriched_before), ("published", published_before)):
        seen = await event_ids(start, set(ledger.accepted))
        assert set(seen) == ledger.pairs, f"{topic}: missing {sorted(ledger.pairs - set(seen))[:5]}"
        doubled = {pair: ids for pair, ids in seen.items() if len(ids) > 1}
        assert doubled == {}, f"{topic}: handled twice: {list(doubled.items())[:5]}"
    assert await dead_letters_since(dead_before) == []


async def test_scaling_from_one_to_three_enrichment_processes_mid_stream_loses_nothing() -> None:
    rng = random.Random()
    services = scaling_services()
    dead_before, enriched_before, published_before = await starting_points(services)
    ledger, events = Ledger(), []
    articles = 600
    added = [n for n in ENRICHERS + PUBLISHERS if "#" in n]

    async def scale_up() -> None:
        while len(ledger.accepted) < articles // 4:  # noqa: ASYNC110  (the stream fills the ledger)
            await asyncio.sleep(0.1)
        events.append(f"{len(ledger.accepted)} articles accepted: starting {', '.join(added)}")
        for name in added:
            await asyncio.to_thread(services.start, name)
        await wait_for_split(services, ENRICHERS)
        await wait_for_split(services, PUBLISHERS)
        events.append(
            f"{len(ledger.accepted)} articles accepted: 3 enrichment, 2 publication processes share"
        )

    try:
        for name in ("ingest", "enrichment", "publication"):
            services.start(name)
        await wait_for_split(services, ["enrichment"])
        await wait_for_split(services, ["publication"])
        key = services.create_key(unique("scale-cms"))
        before = await shares(services, ENRICHERS[:1] + PUBLISHERS[:1])
        stream = publish_run(
            services.url("ingest"),
            key,
            unique("scale"),
            articles=articles,
            ledger=ledger,
            rng=rng,
            workers=3,
            pause_s=0.08,
        )
        await asyncio.gather(stream, scale_up())
        database = services.env["NEWSFLOW_PUBLICATION_DB"]
        stored = await wait_for_read_model(database, ledger.latest, timeout_s=180)
        await asyncio.sleep(1)
        enrichment, publication = await shares(services, ENRICHERS), await shares(services, PUBLISHERS)
    finally:
        services.stop_all()

    print("\n" + "\n".join(events))
    print(f"{len(ledger.accepted)} articles, {len(ledger.pairs)} versions")
    print(f"enrichment: {split_line(enrichment)}")
    print(f"publication: {split_line(publication)}")
    assert before == {"enrichment": (0, set(range(6))), "publication": (0, set(range(6)))}
    assert len(ledger.accepted) == articles
    assert {a: v for a, v in ledger.latest.items() if stored.get(a) != v} == {}
    history = await stored_version_history(database, set(ledger.accepted))
    assert {a: sorted(vs) for a, vs in history.items()} == {
        a: sorted(vs) for a, vs in ledger.accepted.items()
    }
    # the replicas started mid-stream took over part of it
    assert all(enrichment[name][0] > 0 for name in ENRICHERS), enrichment
    assert all(publication[name][0] > 0 for name in PUBLISHERS), publication

    redelivered: dict[str, int] = defaultdict(int)
    for topic, start in (("enriched", enriched_before), ("published", published_before)):
        seen = await event_ids(start, set(ledger.accepted))
        assert set(seen) == ledger.pairs, f"{topic}: missing {sorted(ledger.pairs - set(seen))[:5]}"
        # a record in hand while its partition moved may be handled again: same event, same ce_id
        assert all(len(set(ids)) == 1 for ids in seen.values()), f"{topic}: a redelivery got a new ce_id"
        redelivered[topic] = sum(len(ids) > 1 for ids in seen.values())
    print(f"versions handled twice across the rebalances (same ce_id): {dict(redelivered)}")
    assert await dead_letters_since(dead_before) == []
