"""Replay: `newsflow-publication replay` rebuilds the read model from the article topics into
a new generation that equals the live one field by field (rebuild timestamps aside), and
the running service switches to it and carries on consuming from where the replay stopped.

The shared topics hold every earlier run's records, so the test writes its records twice:
to the shared topics, for the running service, and to a topic pair of its own, co-partitioned
like them, which the replay reads (`--topics`)."""

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from newsflow_chassis.cloudevents import attributes_for, to_headers
from newsflow_chassis.kafka import ensure_topics
from newsflow_contracts.events import (
    ArticleContent,
    ArticleEnriched,
    ArticleRetracted,
    Duplicate,
    Enrichment,
    Event,
)
from newsflow_contracts.topics import ARTICLE_ENRICHED, ARTICLE_RETRACTED, Topic
from newsflow_publication.adapters.articles import CONTENT, decoded
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from tests.support.polling import wait_for_status
from tests.support.processes import BIN, Services
from tests.support.stack import KAFKA, MONGO, REDIS, commit_group_at_end, produce, unique

NOW = datetime.now(UTC)
LEGACY = "newsflow:pub"
REBUILD_TIMES = {"published_at", "first_published_at"}


@pytest.fixture(scope="module")
async def services() -> AsyncIterator[Services]:
    running = Services.isolated()
    running.env["NEWSFLOW_WEBHOOKS_ENABLED"] = "false"
    running.env["NEWSFLOW_POPULAR_ENABLED"] = "false"
    await running.groups_at_end()
    try:
        running.start("publication")
        yield running
    finally:
        running.stop_all()
        client: AsyncMongoClient = AsyncMongoClient(MONGO)
        base = running.env["NEWSFLOW_PUBLICATION_DB"]
        for name in (base, f"{base}_g1", f"{base}_g2"):
            await client.drop_database(name)
        await client.close()
        redis = Redis.from_url(REDIS)
        for n in (1, 2):
            stale = [k async for k in redis.scan_iter(match=f"{LEGACY}:{base}_g{n}:*", count=10_000)]
            if stale:
                await redis.delete(*stale)
        await redis.aclose()


@pytest.fixture(scope="module")
async def own_topics() -> AsyncIterator[list[str]]:
    run = unique("replay")
    pair = [
        Topic(f"test.{run}.enriched.v1", partitions=ARTICLE_ENRICHED.partitions, retention_ms=3600_000),
        Topic(f"test.{run}.retracted.v1", partitions=ARTICLE_RETRACTED.partitions, retention_ms=3600_000),
    ]
    await ensure_topics(KAFKA, pair)
    yield [t.name for t in pair]
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        await admin.delete_topics([t.name for t in pair])
    finally:
        await admin.close()


def enriched(
    article_id: str,
    version: int,
    section: str,
    *,
    subjects: tuple[str, ...] = (),
    note: str | None = None,
    duplicate: Duplicate | None = None,
) -> ArticleEnriched:
    body = f"The quay reopened on day {version} after repairs, the council said."
    return ArticleEnriched(
        article_id=article_id,
        version=version,
        source="cms",
        external_id=article_id,
        slug=f"quay-{article_id}",
        accepted_at=NOW,
        content=ArticleContent(
            headline=f"Quay reopens ({version})",
            body_html=f"<p>{body}</p>",
            section=section,
            subjects=list(subjects),
            first_created=NOW,
            updated=NOW,
            correction_note=note,
        ),
        enrichment=Enrichment(plain_text=body, word_count=len(body.split())),
        duplicate=duplicate,
    )


def retracted(article_id: str, version: int, kind: str) -> ArticleRetracted:
    return ArticleRetracted(
        article_id=article_id,
        version=version,
        source="cms",
        external_id=article_id,
        slug=f"quay-{article_id}",
        kind=kind,  # type: ignore[arg-type]
        reason="Legal advice",
        retracted_at=NOW,
    )


def record_of(event: Event) -> tuple[bytes, bytes, dict[str, str]]:
    article_id: str = event.article_id  # type: ignore[attr-defined]
    headers = to_headers(attributes_for(event, event_id=unique("ce"), source="/test", subject=article_id))
    return article_id.encode(), event.model_dump_json().encode(), headers


async def send(events: list[Event], own: list[str]) -> None:
    """Each event to the shared topic of its kind and to the test's own copy of it."""
    for event in events:
        record = record_of(event)
        retraction = isinstance(event, ArticleRetracted)
        shared, copy = (ARTICLE_RETRACTED.name, own[1]) if retraction else (ARTICLE_ENRICHED.name, own[0])
        await produce(shared, [record])
        await produce(copy, [record])


async def read_model(database: str, latest: dict[str, int]) -> dict[str, int]:
    client: AsyncMongoClient = AsyncMongoClient(MONGO)
    try:
        found = {}
        for article_id in latest:
            doc = await client[database]["articles"].find_one({"_id": article_id}, {"version": 1})
            if doc is not None:
                found[article_id] = doc["version"]
        return found
    finally:
        await client.close()


async def wait_for(database: str, latest: dict[str, int], timeout_s: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while (stored := await read_model(database, latest)) != latest:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{database}: {stored} instead of {latest}")
        await asyncio.sleep(0.3)


def cli(services: Services, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "newsflow-publication"), *args],
        env=services.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def without(document: Any, fields: set[str]) -> Any:
    """The document with the given keys removed at every depth."""
    if isinstance(document, dict):
        return {k: without(v, fields) for k, v in document.items() if k not in fields}
    if isinstance(document, list):
        return [without(v, fields) for v in document]
    return document


async def mongo_state(database: str, ids: dict[str, int], slugs: list[str]) -> dict[str, Any]:
    """Every document of these articles, by `_id` (as FerretDB wants it), compressed content
    decoded."""
    client: AsyncMongoClient = AsyncMongoClient(MONGO)

    def readable(document: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if document is None else decoded(document)

    try:
        db = client[database]
        state: dict[str, Any] = {}
        for article_id, versions in ids.items():
            state[f"articles/{article_id}"] = readable(await db["articles"].find_one({"_id": article_id}))
            for v in range(1, versions + 1):
                key = f"{article_id}:{v}"
                state[f"article_versions/{key}"] = readable(
                    await db["article_versions"].find_one({"_id": key})
                )
        for slug in slugs:
            state[f"article_slugs/{slug}"] = await db["article_slugs"].find_one({"_id": slug})
        return state
    finally:
        await client.close()


async def redis_state(prefix: str, ids: list[str], lists: list[str]) -> dict[str, Any]:
    redis = Redis.from_url(REDIS, decode_responses=True)
    try:
        state: dict[str, Any] = {}
        for article_id in ids:
            state[f"in/{article_id}"] = sorted(await redis.smembers(f"{prefix}:in:{article_id}"))
            teaser = await redis.get(f"{prefix}:teaser:{article_id}")
            state[f"teaser/{article_id}"] = teaser and without(json.loads(teaser), REBUILD_TIMES)
            for lst in lists:
                state[f"list/{lst}/{article_id}"] = (
                    await redis.zscore(f"{prefix}:list:{lst}", article_id) is not None
                )
        return state
    finally:
        await redis.aclose()


async def test_a_replay_rebuilds_the_same_read_model_and_the_service_switches_to_it(
    services: Services, own_topics: list[str]
) -> None:
    run = unique("rp")
    section, moved = f"{run.replace('_', '-')}-news", f"{run.replace('_', '-')}-sport"
    ids = {name: f"{run}-{name}" for name in ("plain", "three", "killed", "takedown", "back", "copy")}
    ids.update({f"more{n}": f"{run}-more{n}" for n in range(8)})
    base = services.env["NEWSFLOW_PUBLICATION_DB"]

    # the live service builds generation g0, in three steps so that its order is the records' order
    first: list[Event] = [
        enriched(ids["plain"], 1, section, subjects=("Transport", "Harbours")),
        enriched(ids["three"], 1, section),
        enriched(ids["three"], 2, moved, note="Moved to sport."),
        enriched(ids["three"], 3, moved, subjects=("Harbours",), note="Corrected the date."),
        enriched(ids["killed"], 1, section),
        enriched(ids["takedown"], 1, section),
        enriched(ids["takedown"], 2, section, note="Second thoughts."),
        enriched(ids["back"], 1, section),
        enriched(
            ids["copy"],
            1,
            section,
            duplicate=Duplicate(of_article_id=ids["plain"], kind="exact", similarity=1),
        ),
        *(enriched(ids[f"more{n}"], 1, section if n % 2 else moved) for n in range(8)),
    ]
    await send(first, own_topics)
    latest = {ids["plain"]: 1, ids["three"]: 3, ids["killed"]: 1, ids["takedown"]: 2, ids["back"]: 1}
    latest.update({ids[f"more{n}"]: 1 for n in range(8)})
    await wait_for(base, latest)
    await send(
        [
            retracted(ids["killed"], 2, "kill"),
            retracted(ids["takedown"], 3, "takedown"),
            retracted(ids["back"], 2, "unpublish"),
        ],
        own_topics,
    )
    await wait_for(base, {**latest, ids["killed"]: 2, ids["takedown"]: 3, ids["back"]: 2})
    await send([enriched(ids["back"], 3, moved, note="Back after review.")], own_topics)
    latest.update({ids["killed"]: 2, ids["takedown"]: 3, ids["back"]: 3})
    await wait_for(base, latest)

    # one article only the replay's input has: how the test sees which generation is served
    only = f"{run}-only"
    await produce(own_topics[0], [record_of(enriched(only, 1, section))])
    async with httpx.AsyncClient(base_url=services.url("publication"), timeout=10) as http:
        assert (await http.get(f"/v1/articles/{only}")).status_code == 404

    # the new generation's group continues on the shared topics where the test's history ends
    await commit_group_at_end(
        f"{services.env['NEWSFLOW_PUBLICATION_GROUP']}.g1", [ARTICLE_ENRICHED.name, ARTICLE_RETRACTED.name]
    )
    replay = cli(services, "replay", "--topics", *own_topics)
    assert replay.returncode == 0, replay.stderr
    assert f"[{'#' * 30}] 22/22 records 100%" in replay.stderr  # the progress bar, at its end
    assert "g1: 22 records (14 articles, 0 skipped)" in replay.stdout, replay.stdout
    assert "current generation: g1 (was g0)" in replay.stdout

    # field by field, rebuild timestamps aside: every article, version and slug
    versions = {ids["copy"]: 1, **{a: v for a, v in latest.items()}}
    slugs = [f"quay-{a}" for a in versions]
    live = await mongo_state(base, versions, slugs)
    rebuilt = await mongo_state(f"{base}_g1", versions, slugs)
    assert set(live) == set(rebuilt)
    for key in live:
        assert live[key] is not None or ids["copy"] in key, key  # a duplicate is on record only
        assert without(rebuilt[key], REBUILD_TIMES) == without(live[key], REBUILD_TIMES), key
    assert live[f"articles/{ids['killed']}"]["retracted"]["kind"] == "kill"
    assert [live[f"article_versions/{ids['three']}:{v}"]["state"]["version"] for v in (1, 2, 3)] == [1, 2, 3]
    assert rebuilt[f"article_versions/{ids['takedown']}:1"]["taken_down"] is True
    assert "state" not in rebuilt[f"article_versions/{ids['takedown']}:2"]
    assert rebuilt[f"article_versions/{ids['copy']}:1"]["duplicate"]["of_article_id"] == ids["plain"]
    assert rebuilt[f"articles/{ids['copy']}"] is None  # a duplicate is on record only
    assert (
        rebuilt[f"articles/{ids['plain']}"][CONTENT]["published_at"]
        != live[f"articles/{ids['plain']}"][CONTENT]["published_at"]
    )
    assert live[f"article_versions/{ids['three']}:3"]["state"][CONTENT]["section"] == moved

    # the lists and teasers too
    subject = "subject:urn:newsflow:subject:topic:harbours"
    lists = ["all", f"section:{section}", f"section:{moved}", subject]
    live_keys = await redis_state(LEGACY, list(versions), lists)
    rebuilt_keys = await redis_state(f"{LEGACY}:{base}_g1", list(versions), lists)
    assert rebuilt_keys == live_keys
    assert (
        live_keys[f"list/section:{moved}/{ids['three']}"]
        and not live_keys[f"list/section:{section}/{ids['three']}"]
    )
    assert live_keys[f"in/{ids['killed']}"] == [] and live_keys[f"teaser/{ids['killed']}"] is None
    assert live_keys[f"list/all/{ids['back']}"] and live_keys[f"list/{subject}/{ids['plain']}"]

    # the service follows the pointer: it serves g1 within seconds
    async with httpx.AsyncClient(base_url=services.url("publication"), timeout=10) as http:
        switched = await wait_for_status(http, f"/v1/articles/{only}", 200, timeout_s=20)
        assert switched.status_code == 200, "the service did not switch to g1"
        served = (await http.get(f"/v1/articles/{ids['three']}")).json()
        assert served["version"] == 3 and served["section"] == moved
        page = (await http.get("/v1/articles", params={"section": moved, "limit": 50})).json()
        assert {t["article_id"] for t in page["items"]} == {
            ids["three"],
            ids["back"],
            *(ids[f"more{n}"] for n in range(0, 8, 2)),
        }
        assert (await http.get(f"/v1/articles/{ids['killed']}")).status_code == 410

        # and consumes from where the replay stopped, into g1 only
        late = f"{run}-late"
        await send([enriched(late, 1, section)], own_topics)
        await wait_for(f"{base}_g1", {late: 1}, timeout_s=60)
        assert await read_model(base, {late: 1}) == {}
        assert (await http.get(f"/v1/articles/{late}")).status_code == 200

    # generations: a second replay, left aside; g1 cannot be dropped while current
    await commit_group_at_end(
        f"{services.env['NEWSFLOW_PUBLICATION_GROUP']}.g2", [ARTICLE_ENRICHED.name, ARTICLE_RETRACTED.name]
    )
    second = cli(services, "replay", "--topics", *own_topics, "--no-switch", "--quiet")
    assert second.returncode == 0 and "g2: 23 records (15 articles" in second.stdout, (
        second.stdout + second.stderr
    )
    assert second.stderr == ""
    refused = cli(services, "generations", "drop", "g1")
    assert refused.returncode == 1 and "current" in refused.stderr
    listed = cli(services, "generations", "list").stdout.splitlines()
    assert len(listed) == 3, listed
    assert listed[0].split()[:2] == ["g0", "complete"] and listed[2].split()[:2] == ["g2", "complete"]
    assert listed[1].split()[:3] == ["*", "g1", "complete"] and f"{base}_g1" in listed[1]
    used = cli(services, "generations", "use", "g2")
    assert used.returncode == 0 and "current generation: g2 (was g1)" in used.stdout
    await asyncio.sleep(3)  # the service follows
    dropped = cli(services, "generations", "drop", "g1")
    assert dropped.returncode == 0, dropped.stderr
    client: AsyncMongoClient = AsyncMongoClient(MONGO)
    try:
        assert await client[f"{base}_g1"].list_collection_names() == []
    finally:
        await client.close()
    redis = Redis.from_url(REDIS)
    try:
        assert [k async for k in redis.scan_iter(match=f"{LEGACY}:{base}_g1:*", count=10_000)] == []
    finally:
        await redis.aclose()
    async with httpx.AsyncClient(base_url=services.url("publication"), timeout=10) as http:
        assert (await http.get(f"/v1/articles/{late}")).status_code == 200  # g2 has it from its replay
