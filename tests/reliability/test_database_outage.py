"""MongoDB (FerretDB) stopped for 20 seconds mid-run: the consumers retry with backoff,
nothing is dead-lettered, nothing is lost, and the backlog drains when it returns."""

import asyncio
import random
import subprocess
import time
from datetime import UTC, datetime

import pytest
from newsflow_chassis.cloudevents import attributes_for, to_headers
from newsflow_contracts.events import ArticleContent, ArticleIngested
from newsflow_contracts.topics import ARTICLE_ENRICHED, ARTICLE_INGESTED, ARTICLE_PUBLISHED

from tests.support.accounting import (
    dead_letter_offsets,
    dead_letters_since,
    published_event_ids,
    wait_for_read_model,
)
from tests.support.newsroom import Ledger, publish_run
from tests.support.processes import LOGS, ROOT, Services
from tests.support.stack import end_offsets, produce, unique

OUTAGE_S = 20
pytestmark = pytest.mark.timeout(400)


def stack(*args: str) -> None:
    subprocess.run([str(ROOT / "stack" / "stack.sh"), *args], check=True, capture_output=True)


async def ingested_backlog(run: str, count: int) -> set[tuple[str, int]]:
    """Events ingest had accepted before the outage, written straight to Kafka, so that
    publication has work to do while the database is away."""
    now = datetime.now(UTC)
    records, pairs = [], set()
    for number in range(count):
        article_id = f"{run}-backlog-{number}"
        content = ArticleContent(
            headline=f"Backlog {number}",
            body_html="<p>Held up by the outage.</p>",
            first_created=now,
            updated=now,
        )
        event = ArticleIngested(
            article_id=article_id,
            version=1,
            source="backlog",
            external_id=article_id,
            slug=article_id,
            accepted_at=now,
            content=content,
            content_hash="0" * 64,
        )
        headers = to_headers(attributes_for(event, event_id=unique("ce"), source="/test", subject=article_id))
        records.append((article_id.encode(), event.model_dump_json().encode(), headers))
        pairs.add((article_id, 1))
    await produce(ARTICLE_INGESTED.name, records)
    return pairs


async def test_a_twenty_second_database_outage_loses_nothing_and_dead_letters_nothing() -> None:
    services = Services.isolated()
    await services.groups_at_end()
    dead_letters_before = await dead_letter_offsets([ARTICLE_INGESTED.dlq.name, ARTICLE_ENRICHED.dlq.name])
    published_before = await end_offsets(ARTICLE_PUBLISHED.name)
    run, ledger = unique("outage"), Ledger()
    try:
        for name in ("ingest", "enrichment", "publication"):
            services.start(name)
        key = services.create_key(unique("outage-cms"))

        async def outage() -> set[tuple[str, int]]:
            await asyncio.sleep(3)
            await asyncio.to_thread(stack, "stop", "ferretdb")
            backlog = await ingested_backlog(run, 50)
            await asyncio.sleep(OUTAGE_S)
            await asyncio.to_thread(stack, "start", "ferretdb")
            return backlog

        began = time.monotonic()
        _, backlog = await asyncio.gather(
            publish_run(
                services.url("ingest"),
                key,
                run,
                articles=200,
                ledger=ledger,
                rng=random.Random(5),
                workers=4,
                pause_s=0.25,
            ),
            outage(),
        )
        expected = {**ledger.latest, **dict(backlog)}
        stored = await wait_for_read_model(services.env["NEWSFLOW_PUBLICATION_DB"], expected, timeout_s=120)
        drained_s = time.monotonic() - began
    finally:
        try:
            stack("start", "ferretdb")  # whatever happened, leave the stack up for the next test
        finally:
            services.stop_all()

    print(
        f"\n{len(expected)} articles ({len(backlog)} held in Kafka during the outage); "
        f"{ledger.retries} HTTP retries; read model complete {drained_s:.1f}s after the start"
    )
    assert stored == expected
    published = await published_event_ids(published_before, ledger.pairs | backlog, timeout_s=60)
    assert ledger.pairs | backlog <= set(published)
    assert await dead_letters_since(dead_letters_before) == []
    assert ledger.retries > 0, "ingest never noticed the outage"
    publication_log = (LOGS / f"publication-{services.ports['publication']}.log").read_text()
    assert "infrastructure error" in publication_log, "publication never noticed the outage"
