"""What an operator sees of the three services running as processes: readiness, the metric
values after a known workload, and JSON log lines whose trace goes from ingest to publication."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from newsflow_contracts.topics import ARTICLE_ENRICHED, ARTICLE_INGESTED, ARTICLE_PUBLISHED
from prometheus_client.parser import text_string_to_metric_families

from tests.support.newsroom import article
from tests.support.processes import LOGS, Services, running_services
from tests.support.stack import end_offsets, free_port, records_since, unique

ARTICLES = 6
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


@pytest.fixture(scope="module")
async def services() -> AsyncIterator[Services]:
    async with running_services() as running:
        yield running


async def wait_ready(client: httpx.AsyncClient, url: str, timeout_s: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        answer = await client.get(f"{url}/readyz")
        if answer.status_code == 200 or time.monotonic() > deadline:
            return answer
        await asyncio.sleep(0.2)


async def scrape(client: httpx.AsyncClient, url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = (await client.get(f"{url}/metrics")).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def scrape_until(
    client: httpx.AsyncClient, url: str, name: str, labels: dict[str, str], *, timeout_s: float = 10
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """A scrape once `name` has reached ARTICLES (or the time is up)."""
    deadline = time.monotonic() + timeout_s
    while True:
        samples = await scrape(client, url)
        if value(samples, name, **labels) >= ARTICLES or time.monotonic() > deadline:
            return samples
        await asyncio.sleep(0.1)


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def names(samples: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> set[str]:
    return {name for name, _ in samples}


def json_lines(services: Services, name: str) -> list[dict[str, Any]]:
    path = LOGS / f"{name}-{services.ports[name]}.log"
    lines = []
    for line in Path(path).read_text().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))  # every structured line must parse
    return lines


async def test_ready_metrics_and_traced_logs_after_a_known_workload(services: Services) -> None:
    key = services.create_key(unique("ops-cms"))
    run = unique("ops")
    published_before = await end_offsets(ARTICLE_PUBLISHED.name)
    async with httpx.AsyncClient(timeout=10) as client:
        for name in ("ingest", "enrichment", "publication"):
            answer = await wait_ready(client, services.url(name))
            assert answer.status_code == 200, f"{name}: {answer.text}"
            assert answer.json()["checks"]["consumers"]["ok"] is True
        assert "mongodb" in (await client.get(f"{services.url('publication')}/readyz")).json()["checks"]
        answer = await wait_ready(client, services.url("related"))
        assert answer.status_code == 200, f"related: {answer.text}"
        assert set(answer.json()["checks"]) == {"redis", "kafka", "indexer"}

        ids: list[str] = []
        for number in range(ARTICLES):
            headers = {"Authorization": f"Bearer {key}"}
            if number == 0:
                headers["traceparent"] = TRACEPARENT
            answer = await client.post(
                f"{services.url('ingest')}/v1/articles", json=article(run, number, 1), headers=headers
            )
            assert answer.status_code == 202, answer.text
            ids.append(answer.json()["article_id"])
        deadline = time.monotonic() + 30
        for article_id in ids:
            url = f"{services.url('publication')}/v1/articles/{article_id}"
            while (await client.get(url)).status_code != 200 and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            assert (await client.get(url)).status_code == 200, f"{article_id} never readable"

        # an article is readable a moment before its handler has published it and returned
        published = {"topic": ARTICLE_ENRICHED.name, "outcome": "processed"}
        publication = await scrape_until(
            client, services.url("publication"), "newsflow_records_total", published
        )
        ingest = await scrape(client, services.url("ingest"))
        enrichment = await scrape(client, services.url("enrichment"))
        related = await scrape(client, services.url("related"))

    # counts of this run: each process is new and its groups started at the topics' end
    post = {"method": "POST", "route": "/v1/articles", "status": "202"}
    assert value(ingest, "newsflow_http_requests_total", **post) == ARTICLES
    assert value(ingest, "newsflow_stage_seconds_count", stage="ingest.validate") == ARTICLES
    assert value(ingest, "newsflow_stage_seconds_count", stage="ingest.publish") == ARTICLES
    processed = {"topic": ARTICLE_INGESTED.name, "outcome": "processed"}
    assert value(enrichment, "newsflow_records_total", **processed) == ARTICLES
    assert value(enrichment, "newsflow_stage_seconds_count", stage="enrichment.enrich") == ARTICLES
    processed = {"topic": ARTICLE_ENRICHED.name, "outcome": "processed"}
    assert value(publication, "newsflow_records_total", **processed) == ARTICLES
    assert value(publication, "newsflow_articles_published_total") == ARTICLES
    assert value(publication, "newsflow_end_to_end_seconds_count") == ARTICLES
    assert 0 < value(publication, "newsflow_end_to_end_seconds_sum") < 30 * ARTICLES
    assert value(publication, "newsflow_stage_seconds_count", stage="publication.store") == ARTICLES
    for outcome in ("failed", "dead_lettered"):
        assert value(publication, "newsflow_records_total", topic=ARTICLE_ENRICHED.name, outcome=outcome) == 0
    # the read API's requests by route template, never the raw path
    read = {"method": "GET", "route": "/v1/articles/{article_id}", "status": "200"}
    assert value(publication, "newsflow_http_requests_total", **read) >= ARTICLES
    assert not any("/v1/articles/" + i in str(k) for k in publication for i in ids)
    # dependencies: MongoDB in ingest and publication, Redis in publication, Kafka sends everywhere
    assert value(publication, "newsflow_dependency_seconds_count", dependency="mongodb", operation="find") > 0
    assert any(
        name == "newsflow_dependency_seconds_count" and ("dependency", "redis") in labels
        for name, labels in publication
    )
    assert (
        value(ingest, "newsflow_dependency_seconds_count", dependency="kafka", operation="publish")
        == ARTICLES
    )
    # lag: every partition of the group's topics, all caught up
    group = services.env["NEWSFLOW_PUBLICATION_GROUP"]
    lags = {
        dict(labels)["partition"]: v
        for (name, labels), v in publication.items()
        if name == "newsflow_consumer_lag"
        and dict(labels)["group"] == group
        and dict(labels)["topic"] == ARTICLE_ENRICHED.name
    }
    assert len(lags) == 6 and sum(lags.values()) == 0, lags
    assert "faststream_received_messages_total" in names(publication)  # FastStream's own, too
    # the Related indexer reads the published topic without a group: its lag under its own name
    related_lags = [
        dict(labels)["partition"]
        for (name, labels), _ in related.items()
        if name == "newsflow_consumer_lag"
        and dict(labels) | {"partition": ""}
        == {"group": "newsflow-publication-related", "topic": ARTICLE_PUBLISHED.name, "partition": ""}
    ]
    assert len(related_lags) == 6, related_lags
    assert value(related, "newsflow_dependency_seconds_count", dependency="redis", operation="pipeline") > 0

    # one JSON line per handled event, with article id, event id and trace id ...
    consumed = {"enrichment": ARTICLE_INGESTED.name, "publication": ARTICLE_ENRICHED.name}
    handled = {
        name: [
            line
            for line in json_lines(services, name)
            if line.get("logger") == "newsflow.events"
            and line.get("topic") == topic
            and line.get("article_id") in ids
        ]
        for name, topic in consumed.items()
    }
    for name, lines in handled.items():
        assert sorted(line["article_id"] for line in lines) == sorted(ids), name
        for line in lines:
            assert line["event_id"] and len(line["trace_id"]) == 32 and line["outcome"] == "processed"
    # ... and the trace ingest started (or was given) goes on to publication and its topic
    traces = {
        name: {line["article_id"]: line["trace_id"] for line in lines} for name, lines in handled.items()
    }
    assert traces["enrichment"] == traces["publication"]
    assert traces["publication"][ids[0]] == TRACE_ID
    assert len(set(traces["publication"].values())) == ARTICLES  # a new trace per request without one
    published = await records_since(
        published_before, until=lambda records: {r.key.decode() for r in records} >= set(ids)
    )
    ours = [r for r in published if r.key.decode() in ids]
    for record in ours:
        headers = {k: v.decode() for k, v in record.headers}
        trace = headers["ce_traceparent"].split("-")[1]
        assert trace == traces["publication"][record.key.decode()]


async def test_not_ready_while_redis_is_unreachable() -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    async with (
        running_services("publication", NEWSFLOW_REDIS_URL=dead) as services,
        httpx.AsyncClient(timeout=10) as client,
    ):
        assert (await client.get(f"{services.url('publication')}/livez")).status_code == 200
        deadline = time.monotonic() + 20
        while True:
            answer = await client.get(f"{services.url('publication')}/readyz")
            body = answer.json()
            # wait until the consumers joined, so that Redis is the one thing failing
            if body["checks"]["consumers"]["ok"] or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert body["failing"] == ["redis"], body
    assert body["checks"]["mongodb"]["ok"] and body["checks"]["kafka"]["ok"]
