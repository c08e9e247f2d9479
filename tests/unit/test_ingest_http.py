"""The ingest API with in-memory adapters: status codes, problem+json, auth, limits."""

from collections.abc import AsyncIterator

import httpx
import pytest
from newsflow_ingest.app import create_app
from newsflow_ingest.settings import Settings

from tests.support.fakes import (
    FakeHeadStore,
    FakeIdempotencyStore,
    FakeKeyStore,
    FakeRateLimiter,
    RecordingPublisher,
)

KEY = "nfk_test-key-for-unit-tests"
RETRACT_ONLY = "nfk_retract-only"
OTHER_SOURCE = "nfk_other-source"
ARTICLE = {"external_id": "u-1", "headline": "Title", "body_html": "<p>Body text.</p>"}


@pytest.fixture
async def client() -> AsyncIterator[tuple[httpx.AsyncClient, RecordingPublisher]]:
    app = create_app(Settings(max_body_bytes=4096))
    keys = FakeKeyStore()
    keys.add(KEY, "cms")
    keys.add(RETRACT_ONLY, "cms", scopes=("retract",))
    publisher = RecordingPublisher()
    keys.add(OTHER_SOURCE, "other-cms")
    app.state.heads, app.state.keys, app.state.publish_ingested = FakeHeadStore(), keys, publisher
    app.state.idempotency, app.state.rate_limiter = FakeIdempotencyStore(), FakeRateLimiter(limit=20)
    transport = httpx.ASGITransport(app=app)  # no lifespan: no servers in the unit tier
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as c:
        yield c, publisher


def auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_accepted_article_is_202_with_id_version_and_event_id(client) -> None:  # type: ignore[no-untyped-def]
    c, publisher = client
    response = await c.post("/v1/articles", json=ARTICLE, headers=auth())
    assert response.status_code == 202
    body = response.json()
    assert body["version"] == 1 and body["new_version"] is True
    assert publisher.events[0][1] == body["event_id"]
    assert publisher.events[0][0].source == "cms"


@pytest.mark.parametrize("headers", [{}, auth("nfk_wrong"), {"Authorization": "Basic abc"}])
async def test_missing_or_wrong_key_is_401_problem(client, headers) -> None:  # type: ignore[no-untyped-def]
    c, publisher = client
    response = await c.post("/v1/articles", json=ARTICLE, headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert publisher.events == []


async def test_key_without_publish_scope_is_403(client) -> None:  # type: ignore[no-untyped-def]
    c, _ = client
    response = await c.post("/v1/articles", json=ARTICLE, headers=auth(RETRACT_ONLY))
    assert response.status_code == 403
    assert response.json()["status"] == 403


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"headline": ""}, "headline"),
        ({"external_id": "has spaces"}, "external_id"),
        ({"section": "Not A Slug"}, "section"),
        ({"canonical_url": "ftp://x"}, "canonical_url"),
        ({"images": [{"url": "javascript:alert(1)"}]}, "images.0.url"),
        ({"body_html": "<script>x()</script>"}, "body_html"),
        ({"updated": "yesterday"}, "updated"),
        ({"curation": {"related": {"pinned": ["no spaces allowed"]}}}, "curation.related.pinned.0"),
        ({"curation": {"related": {"pinned": [f"a{n}" for n in range(11)]}}}, "curation.related.pinned"),
        ({"curation": {"popular": {}}}, "curation.popular"),
    ],
)
async def test_invalid_field_is_422_problem_naming_the_field(client, change, field) -> None:  # type: ignore[no-untyped-def]
    c, _ = client
    response = await c.post("/v1/articles", json={**ARTICLE, **change}, headers=auth())
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_body_over_the_limit_is_413_problem(client) -> None:  # type: ignore[no-untyped-def]
    c, publisher = client
    big = {**ARTICLE, "body_html": "<p>" + "x" * 5000 + "</p>"}
    response = await c.post("/v1/articles", json=big, headers=auth())
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert publisher.events == []


async def test_kafka_outage_is_503_problem_with_retry_after(client) -> None:  # type: ignore[no-untyped-def]
    c, publisher = client
    publisher.fail_times = 1
    response = await c.post("/v1/articles", json=ARTICLE, headers=auth())
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    retried = await c.post("/v1/articles", json=ARTICLE, headers=auth())
    assert retried.status_code == 202 and retried.json()["version"] == 1


async def test_retraction_is_a_new_version_published_as_a_retracted_event(client) -> None:  # type: ignore[no-untyped-def]
    c, publisher = client
    article = (await c.post("/v1/articles", json=ARTICLE, headers=auth())).json()
    url = f"/v1/articles/{article['article_id']}/retract"
    response = await c.post(url, json={"kind": "kill", "reason": "Legal advice"}, headers=auth())
    assert response.status_code == 202, response.text
    assert response.json()["version"] == 2
    event, event_id = publisher.events[-1]
    assert event.event_type == "news.article.retracted.v1" and event.kind == "kill"  # type: ignore[union-attr]
    assert event_id == response.json()["event_id"]
    again = await c.post(url, json={"kind": "kill", "reason": "Legal advice"}, headers=auth())
    assert again.json()["version"] == 2 and again.json()["new_version"] is False
    revived = await c.post("/v1/articles", json={**ARTICLE, "headline": "Back"}, headers=auth())
    assert revived.status_code == 409 and revived.json()["type"].endswith("withdrawn")


async def test_only_the_owning_source_may_retract_and_unknown_articles_are_404(client) -> None:  # type: ignore[no-untyped-def]
    c, publisher = client
    article = (await c.post("/v1/articles", json=ARTICLE, headers=auth())).json()
    body = {"kind": "unpublish", "reason": "Wrong"}
    other = await c.post(
        f"/v1/articles/{article['article_id']}/retract", json=body, headers=auth(OTHER_SOURCE)
    )
    assert other.status_code == 403
    missing = await c.post("/v1/articles/0000-dead/retract", json=body, headers=auth())
    assert missing.status_code == 404
    assert len(publisher.events) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "delete", "reason": "x"}, "kind"),
        ({"kind": "kill"}, "reason"),
        ({"kind": "kill", "reason": ""}, "reason"),
    ],
)
async def test_a_bad_retraction_names_the_field(client, body, field) -> None:  # type: ignore[no-untyped-def]
    c, _ = client
    article = (await c.post("/v1/articles", json=ARTICLE, headers=auth())).json()
    response = await c.post(f"/v1/articles/{article['article_id']}/retract", json=body, headers=auth())
    assert response.status_code == 422
    assert any(error["field"].endswith(field) for error in response.json()["errors"])


async def test_an_idempotency_key_replays_the_first_answer_and_refuses_another_body(client) -> None:  # type: ignore[no-untyped-def]
    c, publisher = client
    headers = {**auth(), "Idempotency-Key": "req-1"}
    first = await c.post("/v1/articles", json=ARTICLE, headers=headers)
    replay = await c.post("/v1/articles", json=ARTICLE, headers=headers)
    assert replay.status_code == 202 and replay.json() == first.json()
    assert replay.headers["idempotent-replayed"] == "true"
    other = await c.post("/v1/articles", json={**ARTICLE, "headline": "Other"}, headers=headers)
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert len(publisher.events) == 1


async def test_past_the_sources_rate_the_answer_is_429_with_retry_after(client) -> None:  # type: ignore[no-untyped-def]
    c, _ = client
    statuses = [(await c.post("/v1/articles", json=ARTICLE, headers=auth())).status_code for _ in range(22)]
    assert statuses[:20] == [202] * 20
    limited = await c.post("/v1/articles", json=ARTICLE, headers=auth())
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "1"
    assert limited.headers["content-type"] == "application/problem+json"
    assert (await c.post("/v1/articles", json=ARTICLE, headers=auth(OTHER_SOURCE))).status_code == 202


async def test_an_embargoed_article_is_held_not_published(client) -> None:  # type: ignore[no-untyped-def]
    c, publisher = client
    response = await c.post(
        "/v1/articles", json={**ARTICLE, "embargo_until": "2999-01-01T00:00:00Z"}, headers=auth()
    )
    assert response.status_code == 202
    assert response.json()["held_until"].startswith("2999-01-01")
    assert publisher.events == []
