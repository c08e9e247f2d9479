"""Webhooks end to end: publication runs as a process against the real Kafka and FerretDB;
a subscriber registers over the API, an enriched article and its retraction go through
publication onto the published topic, and the deliveries reach a local receiver that
verifies every request with the standardwebhooks package. One message is refused twice and
retried with growing waits under the same webhook-id; a URL that always fails ends dead
after the last attempt and is re-driven, over the API and with the CLI, once it recovers."""

import asyncio
import itertools
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from newsflow_chassis.cloudevents import attributes_for, to_headers
from newsflow_contracts.events import ArticleContent, ArticleEnriched, ArticleRetracted, Enrichment, Event
from newsflow_contracts.topics import ARTICLE_ENRICHED, ARTICLE_PUBLISHED, ARTICLE_RETRACTED

from tests.support.processes import BIN, Services
from tests.support.stack import produce, unique
from tests.support.webhook_receiver import Receiver, Route, running_receiver

PUBLISHED, RETRACTED = ARTICLE_PUBLISHED.event_type, ARTICLE_RETRACTED.event_type
MAX_ATTEMPTS = 4
BASE_S = 0.4


@pytest.fixture(scope="module")
async def services() -> AsyncIterator[Services]:
    running = Services.isolated()
    running.env.update(
        {
            "NEWSFLOW_WEBHOOKS_ALLOW_HTTP_LOCALHOST": "true",
            "NEWSFLOW_WEBHOOK_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
            "NEWSFLOW_WEBHOOK_BACKOFF_BASE_S": str(BASE_S),
            "NEWSFLOW_WEBHOOK_BACKOFF_FACTOR": "2",
            "NEWSFLOW_WEBHOOK_BACKOFF_MAX_S": "5",
            "NEWSFLOW_WEBHOOK_TICK_S": "0.1",
            "NEWSFLOW_WEBHOOK_TIMEOUT_S": "2",
        }
    )
    await running.groups_at_end()
    try:
        running.start("publication")
        yield running
    finally:
        running.stop_all()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def cli(services: Services, *args: str, check: bool = True) -> str:
    done = subprocess.run(
        [str(BIN / "newsflow-publication"), *args],
        env=services.env,
        capture_output=True,
        text=True,
        check=check,
    )
    return done.stdout


def create_key(services: Services, owner: str) -> dict[str, str]:
    out = cli(services, "keys", "create", "--owner", owner)
    key = next(line.split()[1] for line in out.splitlines() if line.startswith("key:"))
    return {"Authorization": f"Bearer {key}"}


def headers_for(event: Event, article_id: str) -> dict[str, str]:
    return to_headers(attributes_for(event, event_id=unique("ce"), source="/test", subject=article_id))


async def publish_and_retract(article_id: str) -> None:
    now = datetime.now(UTC)
    fields: dict[str, Any] = dict(
        article_id=article_id, source="cms", external_id=article_id, slug=f"bridge-{article_id}"
    )
    enriched = ArticleEnriched(
        **fields,
        version=1,
        accepted_at=now,
        content=ArticleContent(
            headline="Bridge reopens", body_html="<p>The bridge reopened.</p>", first_created=now, updated=now
        ),
        enrichment=Enrichment(word_count=3),
    )
    await produce(
        ARTICLE_ENRICHED.name,
        [(article_id.encode(), enriched.model_dump_json().encode(), headers_for(enriched, article_id))],
    )
    retracted = ArticleRetracted(**fields, version=2, kind="kill", reason="Legal advice", retracted_at=now)
    await produce(
        ARTICLE_RETRACTED.name,
        [(article_id.encode(), retracted.model_dump_json().encode(), headers_for(retracted, article_id))],
    )


async def until(condition: Any, timeout_s: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def register(
    client: httpx.AsyncClient, services: Services, auth: dict[str, str], url: str, *types: str
) -> dict[str, Any]:
    response = await client.post(
        f"{services.url('publication')}/v1/webhooks",
        json={"url": url, "event_types": list(types), "description": "e2e"},
        headers=auth,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    assert created["secret"].startswith("whsec_")
    return created


async def test_signed_deliveries_retries_dead_letters_and_redrive(
    services: Services, receiver: Receiver
) -> None:
    auth = create_key(services, unique("partner"))
    article_id = unique("hooked")
    # other tests share the servers: the receiver fails only this article's deliveries
    site = Route(fail_first=2, fail_types=frozenset({PUBLISHED}), article_id=article_id)
    broken = Route(always_fail=True, article_id=article_id)
    receiver.routes.update({"/site": site, "/broken": broken})
    async with httpx.AsyncClient(timeout=10) as client:
        site.secret = (await register(client, services, auth, receiver.url("/site"), PUBLISHED, RETRACTED))[
            "secret"
        ]
        broken_hook = await register(client, services, auth, receiver.url("/broken"), PUBLISHED, RETRACTED)
        broken.secret = broken_hook["secret"]

        await publish_and_retract(article_id)

        def delivered(path: str, event_type: str) -> list[Any]:
            return [
                r
                for r in receiver.at(path, article_id)
                if r.status == 204 and r.payload["type"] == event_type
            ]

        await until(lambda: delivered("/site", PUBLISHED) and delivered("/site", RETRACTED), what="/site")
        attempts = receiver.at("/site", article_id)
        assert attempts and all(r.verified for r in attempts)  # standardwebhooks.Webhook.verify passed
        published = [r for r in attempts if r.payload["type"] == PUBLISHED]
        assert [r.status for r in published] == [500, 500, 204]
        assert len({r.msg_id for r in published}) == 1  # the same webhook-id on every retry
        gaps = [b.at - a.at for a, b in itertools.pairwise(published)]
        assert BASE_S <= gaps[0] < gaps[1], gaps  # exponential backoff: 0.4-0.5 s, then 0.8-1 s
        assert len({r.headers["webhook-timestamp"] for r in published}) >= 2  # each attempt signed anew
        data = published[-1].payload["data"]
        assert (data["article_id"], data["version"]) == (article_id, 1)
        assert data["article"]["headlines"][0]["value"] == "Bridge reopens"
        [retraction] = [
            r for r in attempts if r.payload["type"] == RETRACTED
        ]  # the record, not the tombstone
        retracted = retraction.payload["data"]
        assert (retracted["article_id"], retracted["version"], retracted["kind"]) == (article_id, 2, "kill")
        assert retraction.payload["timestamp"].endswith("Z")
        assert retraction.msg_id != published[0].msg_id

        # the URL that always fails: every attempt made, then dead
        await until(
            lambda: len(receiver.at("/broken", article_id)) >= 2 * MAX_ATTEMPTS, what="/broken attempts"
        )
        dead_ids = {f"{broken_hook['id']}:{r.msg_id}" for r in receiver.at("/broken", article_id)}
        assert len(dead_ids) == 2

        def dead_listed() -> set[str]:
            return {line.split()[0] for line in cli(services, "webhooks", "dead").splitlines()} & dead_ids

        await until(lambda: dead_listed() == dead_ids, timeout_s=15, what="dead deliveries")
        listed = await client.get(f"{services.url('publication')}/v1/webhooks/deliveries/dead", headers=auth)
        assert {(d["delivery_id"], d["attempts"], d["last_error"]) for d in listed.json()["items"]} == {
            (dead_id, MAX_ATTEMPTS, "HTTP 503") for dead_id in dead_ids
        }
        await asyncio.sleep(2.5)  # longer than the longest backoff (1.6 s + 25%): nothing more comes
        assert [r.status for r in receiver.at("/broken", article_id)] == [503] * (2 * MAX_ATTEMPTS)
        assert "HTTP 503" in cli(services, "webhooks", "dead")

        # the subscriber recovers; one delivery re-driven over the API, the other with the CLI
        broken.always_fail = False
        over_api, with_cli = sorted(dead_ids)
        redriven = await client.post(
            f"{services.url('publication')}/v1/webhooks/deliveries/{over_api}/redrive", headers=auth
        )
        assert redriven.status_code == 202, redriven.text
        assert redriven.json() == {"delivery_id": over_api, "state": "pending", "round": 1}
        assert "re-driven" in cli(services, "webhooks", "redrive", with_cli)
        await until(
            lambda: len([r for r in receiver.at("/broken", article_id) if r.status == 204]) == 2,
            what="re-driven",
        )
        recovered = [r for r in receiver.at("/broken", article_id) if r.status == 204]
        assert {f"{broken_hook['id']}:{r.msg_id}" for r in recovered} == dead_ids  # same webhook-ids
        assert all(r.verified for r in receiver.received)  # every request, of every article
        assert dead_listed() == set()

        again = await client.post(
            f"{services.url('publication')}/v1/webhooks/deliveries/{over_api}/redrive", headers=auth
        )
        assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
        stranger = create_key(services, unique("stranger"))
        theirs = await client.post(
            f"{services.url('publication')}/v1/webhooks/deliveries/{over_api}/redrive", headers=stranger
        )
        assert theirs.status_code == 404
        strangers_dead = await client.get(
            f"{services.url('publication')}/v1/webhooks/deliveries/dead", headers=stranger
        )
        assert strangers_dead.json() == {"items": []}
        await asyncio.sleep(0.5)
        assert (
            len(receiver.at("/broken", article_id)) == 2 * MAX_ATTEMPTS + 2
        )  # delivered once each, not again


async def test_registration_is_authenticated_validated_and_owned(
    services: Services, receiver: Receiver
) -> None:
    api = f"{services.url('publication')}/v1/webhooks"
    mine, theirs = create_key(services, unique("owner")), create_key(services, unique("other"))
    async with httpx.AsyncClient(timeout=10) as client:
        anonymous = await client.get(api)
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"] == "application/problem+json"
        wrong = await client.get(api, headers={"Authorization": "Bearer nfk_nope_nope"})
        assert wrong.status_code == 401

        for body, field in [
            ({"url": "https://10.0.0.5/hook", "event_types": [PUBLISHED]}, "url"),
            ({"url": "https://169.254.169.254/latest", "event_types": [PUBLISHED]}, "url"),
            ({"url": "http://hooks.example.com/x", "event_types": [PUBLISHED]}, "url"),
            (
                {"url": "https://hooks.example.com/x", "event_types": ["news.article.ingested.v1"]},
                "event_types.0",
            ),
            ({"url": "https://hooks.example.com/x", "event_types": []}, "event_types"),
            ({"url": "https://hooks.example.com/x", "event_types": [PUBLISHED], "extra": 1}, "extra"),
        ]:
            refused = await client.post(api, json=body, headers=mine)
            assert refused.status_code == 422, (body, refused.text)
            assert refused.headers["content-type"] == "application/problem+json"
            assert [e["field"] for e in refused.json()["errors"]] == [field], refused.json()

        created = await register(client, services, mine, "https://hooks.example.com/newsflow", RETRACTED)
        listed = (await client.get(api, headers=mine)).json()["items"]
        assert [(w["id"], w["event_types"]) for w in listed] == [(created["id"], [RETRACTED])]
        assert all("secret" not in w for w in listed)
        assert (await client.get(api, headers=theirs)).json()["items"] == []
        assert (await client.delete(f"{api}/{created['id']}", headers=theirs)).status_code == 404
        assert created["id"] in cli(services, "webhooks", "list")
        assert (await client.delete(f"{api}/{created['id']}", headers=mine)).status_code == 204
        assert (await client.delete(f"{api}/{created['id']}", headers=mine)).status_code == 404
        assert (await client.get(api, headers=mine)).json()["items"] == []
