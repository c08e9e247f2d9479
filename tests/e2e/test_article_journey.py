"""Article in through ingest, out through publication's read API and the published topic,
with the three services running as separate processes against the real servers."""

import asyncio
import json
import statistics
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import httpx
import jsonschema
import pytest
from newsflow_contracts.topics import (
    ARTICLE_PUBLISHED,
    ARTICLE_SUBMITTED,
)
from newsflow_ingest.domain.articles import article_id_for

from tests.support.accounting import by_event_id, by_source_position
from tests.support.polling import wait_for_status, wait_until_listed
from tests.support.processes import LOGS, Services, running_services
from tests.support.stack import end_offsets, produce, records_since, unique
from tests.support.xss import VECTORS, executable_parts, text_with_markup

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "shared/schemas/ninjs/ninjs-schema_3.1.json").read_text())
SAMPLES = [json.loads(line) for line in (ROOT / "samples/articles.jsonl").read_text().splitlines() if line]


@pytest.fixture(scope="module")
async def services() -> AsyncIterator[Services]:
    async with running_services() as running:
        yield running


async def test_twenty_articles_from_post_to_readable(services: Services) -> None:
    key = services.create_key(unique("e2e-cms"))
    run = unique("run")
    published_before = await end_offsets(ARTICLE_PUBLISHED.name)
    latencies: list[float] = []
    accepted: list[dict[str, object]] = []
    async with httpx.AsyncClient(timeout=10) as client:
        for sample in SAMPLES[:20]:
            article = {**sample, "external_id": f"{run}-{sample['external_id']}"}
            started = time.perf_counter()
            response = await client.post(
                f"{services.url('ingest')}/v1/articles",
                json=article,
                headers={"Authorization": f"Bearer {key}"},
            )
            assert response.status_code == 202, response.text
            body = response.json()
            url = f"{services.url('publication')}/v1/articles/{body['article_id']}"
            deadline = started + 20
            # polling another process over HTTP: there is no local event to wait on
            while (read := await client.get(url)).status_code == 404 and time.perf_counter() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
            latencies.append(time.perf_counter() - started)
            assert read.status_code == 200, f"{body['article_id']} not readable after 20 s"
            accepted.append(body)

            stored = read.json()
            assert stored["version"] == 1
            assert stored["enrichment"]["word_count"] > 100
            assert stored["enrichment"]["reading_time_minutes"] >= 1
            assert stored["article"]["headlines"][0]["value"] == sample["headline"]
            assert list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(stored["article"])) == []

        by_slug = await client.get(f"{services.url('publication')}/v1/articles/by-slug/{accepted[0]['slug']}")
        assert by_slug.status_code == 200 and by_slug.json()["article_id"] == accepted[0]["article_id"]
        missing = await client.get(f"{services.url('publication')}/v1/articles/does-not-exist")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"

    print(
        f"\nPOST to readable over {len(latencies)} articles: "
        f"median {statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
    )

    ids = {str(a["article_id"]) for a in accepted}
    records = await records_since(
        published_before, until=lambda rs: ids <= {r.key.decode() for r in rs}, timeout_s=20
    )
    ours = [r for r in records if r.key.decode() in ids]
    assert {r.key.decode() for r in ours} == ids
    headers = dict(ours[0].headers)
    assert headers["ce_type"] == b"news.article.published.v1"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_source"] == b"/newsflow/publication"
    assert json.loads(ours[0].value)["article"]["uri"].startswith("urn:newsflow:article:")
    ingest_log = (LOGS / f"ingest-{services.ports['ingest']}.log").read_text()
    assert "POST /v1/articles" in ingest_log
    assert key not in ingest_log and key.split("_")[-1] not in ingest_log  # no key, no secret


async def test_a_retraction_answers_410_and_tombstones_the_published_topic(services: Services) -> None:
    key = services.create_key(unique("e2e-cms"))
    async with httpx.AsyncClient(timeout=10) as client:
        article = {**SAMPLES[0], "external_id": unique("retract-me")}
        response = await client.post(
            f"{services.url('ingest')}/v1/articles", json=article, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 202, response.text
        accepted = response.json()
        url = f"{services.url('publication')}/v1/articles/{accepted['article_id']}"
        deadline = time.monotonic() + 20
        while (await client.get(url)).status_code != 200 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)

        published_before = await end_offsets(ARTICLE_PUBLISHED.name)
        retracted = await client.post(
            f"{services.url('ingest')}/v1/articles/{accepted['article_id']}/retract",
            json={"kind": "kill", "reason": "Legal advice"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert retracted.status_code == 202, retracted.text
        assert retracted.json()["version"] == accepted["version"] + 1
        deadline = time.monotonic() + 20
        while (read := await client.get(url)).status_code == 200 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        assert read.status_code == 410, read.text
        assert read.json()["retraction"] == "kill"

    records = await records_since(
        published_before,
        until=lambda rs: any(r.key.decode() == accepted["article_id"] and r.value is None for r in rs),
        timeout_s=20,
    )
    retracted_event, tombstone = by_event_id([r for r in records if r.key.decode() == accepted["article_id"]])
    assert json.loads(retracted_event.value)["kind"] == "kill"
    assert json.loads(retracted_event.value)["reason"] == "Legal advice"
    assert tombstone.value is None
    for record in (retracted_event, tombstone):
        assert dict(record.headers)["ce_type"] == b"news.article.retracted.v1"


async def test_an_embargoed_article_becomes_readable_only_at_its_time(services: Services) -> None:
    key = services.create_key(unique("e2e-cms"))
    embargo = datetime.now(UTC) + timedelta(seconds=4)
    article = {**SAMPLES[1], "external_id": unique("embargo"), "embargo_until": embargo.isoformat()}
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            f"{services.url('ingest')}/v1/articles", json=article, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 202, response.text
        assert response.json()["held_until"]
        url = f"{services.url('publication')}/v1/articles/{response.json()['article_id']}"
        while datetime.now(UTC) < embargo - timedelta(seconds=0.5):
            assert (await client.get(url)).status_code == 404, "published before its embargo"
            await asyncio.sleep(0.2)
        deadline = time.monotonic() + 20
        while (read := await client.get(url)).status_code == 404 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        assert read.status_code == 200
        assert datetime.now(UTC) >= embargo
        assert read.json()["article"]["embargoedUntil"].startswith(embargo.strftime("%Y-%m-%dT%H:%M:%S"))


async def test_a_cms_publishing_over_kafka_is_ingested_and_its_bad_records_dead_lettered(
    services: Services,
) -> None:
    source = unique("kafka-cms")
    services.create_key(source)
    good = {**SAMPLES[2], "external_id": unique("kafka")}
    headers = {
        "ce_id": unique("ce"),
        "ce_type": ARTICLE_SUBMITTED.event_type,
        "ce_source": source,
        "ce_specversion": "1.0",
    }
    dlq_before = await end_offsets(ARTICLE_SUBMITTED.dlq.name)
    key = good["external_id"].encode()
    await produce(
        ARTICLE_SUBMITTED.name,
        [
            (key, json.dumps({**good, "headline": ""}).encode(), headers),  # fails validation
            (key, json.dumps(good).encode(), {**headers, "ce_source": "nobody-registered-this"}),
            (
                key,
                json.dumps({**good, "body_html": "<script>x()</script>"}).encode(),
                headers,
            ),  # no text left
            (key, json.dumps(good).encode(), headers),
        ],
    )
    article_id = article_id_for(source, good["external_id"])
    url = f"{services.url('publication')}/v1/articles/{article_id}"
    async with httpx.AsyncClient(timeout=10) as client:
        deadline = time.monotonic() + 20
        while (read := await client.get(url)).status_code == 404 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    assert read.status_code == 200 and read.json()["version"] == 1
    group = services.env["NEWSFLOW_SUBMISSIONS_GROUP"].encode()

    def ours(records: list[Any]) -> list[Any]:
        return [r for r in records if r.key == key and dict(r.headers).get("dlq_consumer_group") == group]

    dead = by_source_position(ours(await records_since(dlq_before, until=lambda rs: len(ours(rs)) >= 3)))
    reasons = [dict(r.headers)["dlq_error_message"].decode() for r in dead]
    assert len(reasons) == 3, reasons
    assert "headline" in reasons[0]
    assert "unknown source" in reasons[1]
    assert "body_html" in reasons[2]


async def test_no_xss_vector_survives_into_stored_or_published_articles(services: Services) -> None:
    key = services.create_key(unique("e2e-xss"))
    run = unique("xss")
    published_before = await end_offsets(ARTICLE_PUBLISHED.name)
    ids: list[str] = []
    async with httpx.AsyncClient(timeout=10) as client:
        for number, vector in enumerate(VECTORS):
            article = {
                "external_id": f"{run}-{number}",
                "headline": f"Story {number} {vector}",
                "body_html": f"<p>Story {number} begins.</p>{vector}<p>It ends.</p>",
            }
            response = await client.post(
                f"{services.url('ingest')}/v1/articles",
                json=article,
                headers={"Authorization": f"Bearer {key}"},
            )
            assert response.status_code == 202, response.text
            ids.append(response.json()["article_id"])
        stored = []
        for article_id in ids:
            url = f"{services.url('publication')}/v1/articles/{article_id}"
            deadline = time.monotonic() + 20
            while (read := await client.get(url)).status_code == 404 and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            assert read.status_code == 200
            stored.append(read.json())
    records = await records_since(published_before, until=lambda rs: set(ids) <= {r.key.decode() for r in rs})
    published = [json.loads(r.value) for r in records if r.key.decode() in ids]
    assert len(published) >= len(ids)
    for article in stored + published:
        ninjs = article["article"]
        html_body = next(b["value"] for b in ninjs["bodies"] if b["role"] == "html")
        assert executable_parts(html_body) == [], html_body
        assert not text_with_markup(ninjs["headlines"][0]["value"]), ninjs["headlines"][0]["value"]
        assert not text_with_markup(article["enrichment"].get("plain_text", "")), "plain text carries markup"


async def test_a_correction_is_the_next_version_with_its_note_to_readers(services: Services) -> None:
    key = services.create_key(unique("e2e-cms"))
    article = {**SAMPLES[3], "external_id": unique("correct-me")}
    corrected = {
        **article,
        "body_html": article["body_html"] + "<p>An earlier version gave the wrong date.</p>",
        "correction_note": "Corrected the date of the vote.",
    }
    async with httpx.AsyncClient(timeout=10) as client:
        first = await client.post(
            f"{services.url('ingest')}/v1/articles", json=article, headers={"Authorization": f"Bearer {key}"}
        )
        second = await client.post(
            f"{services.url('ingest')}/v1/articles",
            json=corrected,
            headers={"Authorization": f"Bearer {key}"},
        )
        assert (first.json()["version"], second.json()["version"]) == (1, 2)
        url = f"{services.url('publication')}/v1/articles/{second.json()['article_id']}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            read = await client.get(url)
            if read.status_code == 200 and read.json()["version"] == 2:
                break
            await asyncio.sleep(0.05)
    assert read.json()["version"] == 2
    assert read.json()["article"]["edNote"] == "Corrected the date of the vote."


async def test_lists_pages_and_conditional_gets_and_a_retraction_leaves_the_list_within_a_second(
    services: Services,
) -> None:
    key = services.create_key(unique("e2e-cms"))
    section = "sec-" + unique("x").split("_")[1]
    auth = {"Authorization": f"Bearer {key}"}
    pub = services.url("publication")
    async with httpx.AsyncClient(timeout=10) as client:
        ids = []
        for number in range(5):
            article = {**SAMPLES[4 + number], "external_id": unique("listed"), "section": section}
            response = await client.post(f"{services.url('ingest')}/v1/articles", json=article, headers=auth)
            ids.append(response.json()["article_id"])
            await wait_until_listed(client, pub, ids[-1], section)  # one at a time: a known order

        first = await client.get(f"{pub}/v1/articles", params={"section": section, "limit": 3})
        assert first.status_code == 200
        assert [t["article_id"] for t in first.json()["items"]] == ids[::-1][:3]
        assert all(t["teaser"] and t["headline"] for t in first.json()["items"])
        rest = await client.get(
            f"{pub}/v1/articles", params={"section": section, "cursor": first.json()["next_cursor"]}
        )
        assert [t["article_id"] for t in rest.json()["items"]] == ids[::-1][3:]
        assert "next_cursor" not in rest.json()

        again = await client.get(
            f"{pub}/v1/articles",
            params={"section": section, "limit": 3},
            headers={"If-None-Match": first.headers["etag"]},
        )
        assert again.status_code == 304
        article = await client.get(f"{pub}/v1/articles/{ids[0]}")
        assert article.headers["cache-control"].startswith("public") and article.headers["last-modified"]
        assert (
            await client.get(
                f"{pub}/v1/articles/{ids[0]}", headers={"If-None-Match": article.headers["etag"]}
            )
        ).status_code == 304
        since = await client.get(
            f"{pub}/v1/articles/{ids[0]}", headers={"If-Modified-Since": article.headers["last-modified"]}
        )
        assert since.status_code == 304

        page = await client.get(f"{pub}/v1/pages/{ids[0]}")
        assert page.status_code == 200 and page.json()["article"]["article_id"] == ids[0]
        assert {"popular", "more_like_this", "related"} <= set(page.json())

        retracted_at = time.monotonic()
        response = await client.post(
            f"{services.url('ingest')}/v1/articles/{ids[-1]}/retract",
            json={"kind": "unpublish", "reason": "Wrong"},
            headers=auth,
        )
        assert response.status_code == 202

        async def listed() -> bool:
            items = (await client.get(f"{pub}/v1/articles", params={"section": section})).json()["items"]
            return ids[-1] in [t["article_id"] for t in items]

        while await listed() and time.monotonic() < retracted_at + 10:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        gone_after = time.monotonic() - retracted_at
        page_gone = await wait_for_status(client, f"{pub}/v1/pages/{ids[-1]}", status=410, timeout_s=10)
        page_gone_after = time.monotonic() - retracted_at
    assert page_gone.status_code == 410
    timings = (
        f"out of the list after {gone_after * 1000:.0f} ms, page 410 after {page_gone_after * 1000:.0f} ms"
    )
    print(f"\nretraction: {timings}")
    assert gone_after < 1.0 and page_gone_after < 1.0


async def test_section_feeds_in_three_formats_parse_and_answer_304(services: Services) -> None:
    key = services.create_key(unique("e2e-cms"))
    section = "feed-" + unique("x").split("_")[1]
    pub = services.url("publication")
    async with httpx.AsyncClient(timeout=10) as client:
        article = {**SAMPLES[10], "external_id": unique("fed"), "section": section}
        response = await client.post(
            f"{services.url('ingest')}/v1/articles", json=article, headers={"Authorization": f"Bearer {key}"}
        )
        article_id = response.json()["article_id"]
        await wait_until_listed(client, pub, article_id, section)
        for name in ("rss.xml", "atom.xml", "feed.json"):
            feed = await client.get(f"{pub}/v1/feeds/sections/{section}/{name}")
            assert feed.status_code == 200
            if name == "feed.json":
                items = feed.json()["items"]
                assert [i["id"] for i in items] == [f"urn:newsflow:article:{article_id}"]
            else:
                parsed = feedparser.parse(feed.content)
                assert parsed.bozo == 0 and [e.id for e in parsed.entries] == [
                    f"urn:newsflow:article:{article_id}"
                ]
            cached = await client.get(
                f"{pub}/v1/feeds/sections/{section}/{name}", headers={"If-None-Match": feed.headers["etag"]}
            )
            assert cached.status_code == 304
