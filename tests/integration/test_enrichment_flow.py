"""Articles in, enriched events out: the enrichment service as a process against the real
broker, with its own consumer group; then `newsflow-enrichment replay` enriches them again."""

import asyncio
import json
import signal
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from newsflow_chassis.cloudevents import attributes_for, derived_event_id, to_headers
from newsflow_contracts.events import ArticleContent, ArticleEnriched, ArticleIngested
from newsflow_contracts.topics import ARTICLE_ENRICHED, ARTICLE_INGESTED
from newsflow_enrichment.domain import build_enrichers
from newsflow_enrichment.domain.pipeline import pipeline_version

from tests.support.processes import BIN, Services
from tests.support.stack import end_offsets, produce, records_since, unique

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = [json.loads(line) for line in (ROOT / "samples/articles.jsonl").read_text().splitlines()]
FRENCH = (
    "<p>Le conseil municipal a annoncé mardi que le nouveau pont ouvrira au printemps prochain, "
    "après deux années de retards et de coûts en hausse pour les habitants du quartier.</p>"
)
PIPELINE = pipeline_version(build_enrichers())


@pytest.fixture(scope="module")
async def service() -> AsyncIterator[Services]:
    running = Services.isolated()
    await running.groups_at_end()
    try:
        running.start("enrichment")
        yield running
    finally:
        running.stop_all()


def ingested(article_id: str, headline: str, body_html: str) -> ArticleIngested:
    now = datetime.now(UTC)
    return ArticleIngested(
        article_id=article_id,
        version=1,
        source="cms",
        external_id=article_id,
        slug=f"a-{article_id}",
        accepted_at=now,
        content=ArticleContent(headline=headline, body_html=body_html, first_created=now, updated=now),
        content_hash=unique("hash"),
    )


async def submit(events: list[ArticleIngested]) -> None:
    await produce(
        ARTICLE_INGESTED.name,
        [
            (
                event.article_id.encode(),
                event.model_dump_json(exclude_none=True).encode(),
                to_headers(
                    attributes_for(event, event_id=unique("ce"), source="/test", subject=event.article_id)
                ),
            )
            for event in events
        ],
    )


async def enriched_since(start: Any, keys: set[bytes], copies: int = 1) -> list[Any]:
    def complete(records: list[Any]) -> bool:
        return all(sum(r.key == key for r in records) >= copies for key in keys)

    records = await records_since(start, until=complete, timeout_s=60)
    mine = [r for r in records if r.key in keys]
    assert complete(mine), f"enriched {len({r.key for r in mine})} of {len(keys)} articles"
    return mine


async def test_ingested_articles_come_out_enriched_with_provenance(service: Services) -> None:
    events = [ingested(unique("enr"), row["headline"], row["body_html"]) for row in SAMPLES[:6]]
    french = ingested(unique("enr"), "Le nouveau pont", FRENCH)
    empty = ingested(unique("enr"), "Bridge", "<p></p>")
    start = await end_offsets(ARTICLE_ENRICHED.name)
    await submit([*events, french, empty])

    records = await enriched_since(start, {e.article_id.encode() for e in [*events, french, empty]})
    by_id = {r.key.decode(): r for r in records}
    for event in events:
        record = by_id[event.article_id]
        headers = {k: v.decode() for k, v in record.headers}
        assert headers["ce_type"] == ARTICLE_ENRICHED.event_type
        assert headers["ce_id"] == derived_event_id(
            ARTICLE_ENRICHED.event_type, event.article_id, 1, event.content_hash, PIPELINE
        )
        enrichment = ArticleEnriched.model_validate_json(record.value).enrichment
        assert enrichment.language == "en"
        assert enrichment.teaser and len(enrichment.teaser) <= 200
        assert enrichment.summary and enrichment.keywords and enrichment.entities and enrichment.subjects
        assert enrichment.signature and enrichment.signature.terms
        assert [r.error for r in enrichment.runs] == [None] * 8
        covered = {field for run in enrichment.runs for field in run.fields}
        assert covered == {f for f, v in enrichment if v is not None and f != "runs"}

    french_enrichment = ArticleEnriched.model_validate_json(by_id[french.article_id].value).enrichment
    assert french_enrichment.language == "fr" and french_enrichment.keywords is None
    empty_enrichment = ArticleEnriched.model_validate_json(by_id[empty.article_id].value).enrichment
    assert empty_enrichment.word_count == 0 and empty_enrichment.teaser is None


async def test_replay_enriches_ingested_articles_again(service: Services) -> None:
    events = [ingested(unique("replay"), row["headline"], row["body_html"]) for row in SAMPLES[6:9]]
    keys = {e.article_id.encode() for e in events}
    start = await end_offsets(ARTICLE_ENRICHED.name)
    since = datetime.now(UTC) - timedelta(seconds=1)
    await submit(events)
    first = await enriched_since(start, keys)

    service.kill("enrichment", signal.SIGTERM)  # leaves the group: its offsets can be moved
    moved = await asyncio.to_thread(
        subprocess.run,
        [str(BIN / "newsflow-enrichment"), "replay", "--since", since.isoformat()],
        env=service.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert moved.returncode == 0, moved.stderr
    service.start("enrichment")

    again = await enriched_since(start, keys, copies=2)
    for record in first:
        copies = [r for r in again if r.key == record.key]
        assert len(copies) >= 2
        # the same pipeline gives the same event id, so consumers drop the copy; a new enricher
        # version changes the pipeline version and so the id: its events are new ones
        assert {dict(r.headers)["ce_id"] for r in copies} == {dict(record.headers)["ce_id"]}
