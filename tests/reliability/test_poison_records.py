"""A malformed record and a record failing validation reach the dead-letter topic with their
reason, and the records behind them on the same partition are processed."""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from newsflow_chassis.cloudevents import attributes_for, to_headers
from newsflow_contracts.events import ArticleContent, ArticleEnriched, ArticleIngested, Enrichment, Event
from newsflow_contracts.topics import ARTICLE_ENRICHED, ARTICLE_INGESTED, Topic

from tests.support.accounting import by_source_position, dead_letter_offsets, wait_for_read_model
from tests.support.processes import Services, running_services
from tests.support.stack import produce, records_since, unique

NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
async def services() -> AsyncIterator[Services]:
    async with running_services("enrichment", "publication") as running:
        yield running


def good_event(topic: Topic, article_id: str) -> Event:
    content = ArticleContent(
        headline="Quay reopens", body_html="<p>The quay reopened.</p>", first_created=NOW, updated=NOW
    )
    fields = dict(
        article_id=article_id,
        version=1,
        source="cms",
        external_id=article_id,
        slug=f"quay-{article_id}",
        accepted_at=NOW,
        content=content,
    )
    if topic is ARTICLE_INGESTED:
        return ArticleIngested(**fields, content_hash="0" * 64)
    return ArticleEnriched(**fields, enrichment=Enrichment(word_count=3))


def headers_for(event_type: str, article_id: str) -> dict[str, str]:
    class Typed(Event):
        pass

    Typed.event_type = event_type
    return to_headers(attributes_for(Typed(), event_id=unique("ce"), source="/test", subject=article_id))


@pytest.mark.parametrize("topic", [ARTICLE_INGESTED, ARTICLE_ENRICHED], ids=lambda t: t.name)
async def test_poison_records_are_dead_lettered_and_the_records_behind_them_processed(
    services: Services, topic: Topic
) -> None:
    article_id = unique("poison")
    key = article_id.encode()
    headers = headers_for(topic.event_type, article_id)
    dlq_start = await dead_letter_offsets([topic.dlq.name])
    positions = await produce(
        topic.name,
        [
            (key, b'{"article_id": "' + key + b'", "version": 1, ', headers),  # cut off mid-object
            (key, json.dumps({"article_id": article_id, "version": 0}).encode(), headers),
            (key, good_event(topic, article_id).model_dump_json().encode(), headers),
        ],
    )

    # the record behind the poison is processed: all the way to the read model
    stored = await wait_for_read_model(services.env["NEWSFLOW_PUBLICATION_DB"], {article_id: 1}, timeout_s=30)
    assert stored == {article_id: 1}

    dead = by_source_position(
        [
            r
            for r in await records_since(
                dlq_start, until=lambda rs: len([r for r in rs if r.key == key]) >= 2
            )
            if r.key == key
        ]
    )
    assert len(dead) == 2
    reasons = [{k: v.decode() for k, v in record.headers} for record in dead]
    malformed, invalid = reasons
    assert malformed["dlq_error_class"].endswith("JSONDecodeError"), malformed["dlq_error_class"]
    assert invalid["dlq_error_class"].endswith("ValidationError")
    assert (
        "version" in invalid["dlq_error_message"]
        and "greater than or equal to 1" in invalid["dlq_error_message"]
    )
    for reason, (partition, offset) in zip(reasons, positions[:2], strict=True):
        assert reason["dlq_source_topic"] == topic.name
        assert (int(reason["dlq_source_partition"]), int(reason["dlq_source_offset"])) == (partition, offset)
        assert reason["ce_id"] == headers["ce_id"]  # the original headers travel with it
    assert dead[0].value.startswith(b'{"article_id"')  # the record itself, byte for byte
