"""The ingest API with in-memory adapters: status codes, problem+json, auth, limits."""

from collections.abc import AsyncIterator

import httpx
import pytest
from newsflow_ingest.app import create_app
from newsflow_ingest.settings import Settings

from tests.support.fakes import FakeHeadStore, FakeKeyStore, RecordingPublisher

KEY = "nfk_test-key-for-unit-tests"
RETRACT_ONLY = "nfk_retract-only"
ARTICLE = {"external_id": "u-1", "headline": "Title", "body_html": "<p>Body text.</p>"}


@pytest.fixture
async def client() -> AsyncIterator[tuple[httpx.AsyncClient, RecordingPublisher]]:
    app = create_app(Settings(max_body_bytes=4096))
    keys = FakeKeyStore()
    keys.add(KEY, "cms")
    keys.add(RETRACT_ONLY, "cms", scopes=("retract",))
    publisher = RecordingPublisher()
    app.state.heads, app.state.keys, app.state.publish_ingested = FakeHeadStore(), keys, publisher
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
