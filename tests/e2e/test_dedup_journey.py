"""Deduplication across sources, with the three services running: a copy another source
sends (exact or lightly edited) is accepted as a duplicate of the first article, carried as
such in the ingested event, and never published as a new article."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from newsflow_contracts.topics import (
    ARTICLE_INGESTED,
    ARTICLE_PUBLISHED,
)

from tests.support.processes import Services, running_services
from tests.support.stack import end_offsets, records_since, unique

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = {
    a["external_id"]: a for a in map(json.loads, (ROOT / "samples/articles.jsonl").read_text().splitlines())
}
COPIES = [
    json.loads(line) for line in (ROOT / "tests/fixtures/dedup/copies.jsonl").read_text().splitlines() if line
]


@pytest.fixture(scope="module")
async def services() -> AsyncIterator[Services]:
    async with running_services(NEWSFLOW_DEDUP_ENABLED="true") as running:
        yield running


async def test_copies_from_another_source_are_recorded_as_duplicates_and_not_published(
    services: Services,
) -> None:
    newsroom, agency = services.create_key(unique("newsroom")), services.create_key(unique("agency"))
    ingested_before = await end_offsets(ARTICLE_INGESTED.name)
    published_before = await end_offsets(ARTICLE_PUBLISHED.name)
    originals: dict[str, str] = {}
    async with httpx.AsyncClient(timeout=10) as client:

        async def post(article: dict[str, object], key: str) -> dict[str, object]:
            response = await client.post(
                f"{services.url('ingest')}/v1/articles",
                json=article,
                headers={"Authorization": f"Bearer {key}"},
            )
            assert response.status_code == 202, response.text
            return response.json()  # type: ignore[no-any-return]

        for name in sorted({copy["of"] for copy in COPIES}):
            accepted = await post(SAMPLES[name], newsroom)
            assert "duplicate_of" not in accepted
            originals[name] = str(accepted["article_id"])
        copies = []
        for copy in COPIES:
            article = {k: v for k, v in copy.items() if k not in ("of", "kind")}
            accepted = await post(article, agency)
            assert accepted.get("duplicate_of") == originals[copy["of"]], copy["external_id"]
            copies.append((str(accepted["article_id"]), copy))

        for article_id in originals.values():  # the originals go live
            url = f"{services.url('publication')}/v1/articles/{article_id}"
            deadline = time.monotonic() + 20
            while (await client.get(url)).status_code == 404 and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            assert (await client.get(url)).status_code == 200
        for article_id, _ in copies:  # the copies never do
            assert (
                await client.get(f"{services.url('publication')}/v1/articles/{article_id}")
            ).status_code == 404

    copy_ids = {article_id for article_id, _ in copies}
    ingested = await records_since(
        ingested_before, until=lambda rs: copy_ids <= {r.key.decode() for r in rs}, timeout_s=10
    )
    findings = {
        r.key.decode(): json.loads(r.value).get("duplicate") for r in ingested if r.key.decode() in copy_ids
    }
    for article_id, copy in copies:
        finding = findings[article_id]
        assert finding["of_article_id"] == originals[copy["of"]] and finding["kind"] == copy["kind"]
    published = await records_since(published_before, until=lambda _: False, timeout_s=2)
    assert not copy_ids & {r.key.decode() for r in published}
