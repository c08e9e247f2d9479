"""Webhook deliveries against the real FerretDB and real HTTP: deliveries are created once
per subscription and event, sent signed (checked by the standardwebhooks package), retried
with growing waits under the same webhook-id, dead after the last attempt and re-driven; a
hanging subscriber delays nobody else; attempts are claimed, so a second worker sends
nothing twice, and an attempt cut off by a crash is taken over."""

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from newsflow_publication.adapters.deliveries import MongoDeliveryStore, NotDead
from newsflow_publication.adapters.subscriptions import MongoSubscriptionStore
from newsflow_publication.adapters.webhook_sender import HttpWebhookSender
from newsflow_publication.domain.webhooks import (
    EVENT_PUBLISHED,
    EVENT_RETRACTED,
    Outcome,
    RetryPolicy,
    Subscription,
    event_payload,
)
from newsflow_publication.entrypoints.webhook_worker import DeliveryWorker
from pymongo import AsyncMongoClient

from tests.support.stack import MONGO, unique
from tests.support.webhook_receiver import Receiver, Route, running_receiver

POLICY = RetryPolicy(max_attempts=3, base_s=0.3, factor=2, max_s=5)
TIMEOUT_S = 1.0


@dataclass
class Wiring:
    subscriptions: MongoSubscriptionStore
    deliveries: MongoDeliveryStore
    worker: DeliveryWorker
    receiver: Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
async def wiring(receiver: Receiver) -> AsyncIterator[Wiring]:
    database = unique("test_webhooks")
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO, tz_aware=True)
    subscriptions = MongoSubscriptionStore(mongo, database)
    deliveries = MongoDeliveryStore(mongo, database)
    worker = DeliveryWorker(
        deliveries=deliveries,
        subscriptions=subscriptions,
        sender=HttpWebhookSender(timeout_s=TIMEOUT_S, allow_loopback=True),
        policy=POLICY,
        tick_s=0.05,
        concurrency=4,
        per_subscription=1,
        stale_after_s=2.0,
    )
    try:
        yield Wiring(subscriptions, deliveries, worker, receiver)
    finally:
        await worker.stop(grace_s=0)
        await worker.sender.aclose()
        await mongo.drop_database(database)
        await mongo.close()


async def subscribe(w: Wiring, path: str, route: Route, *types: str) -> Subscription:
    subscription = await w.subscriptions.create(
        owner="partner", url=w.receiver.url(path), event_types=types or (EVENT_PUBLISHED, EVENT_RETRACTED)
    )
    route.secret = subscription.secret
    w.receiver.routes[path] = route
    return subscription


async def publish(w: Wiring, subscriptions: list[Subscription], *, retraction: bool = False) -> str:
    message_id = unique("ce")
    now = datetime.now(UTC)
    event_type = EVENT_RETRACTED if retraction else EVENT_PUBLISHED
    body = event_payload(event_type, b'{"article_id": "article-1", "version": 1}', timestamp=now)
    await w.deliveries.create(
        message_id=message_id,
        event_type=event_type,
        body=body,
        subscriptions=[s for s in subscriptions if s.wants(event_type)],
        now=now,
    )
    return message_id


async def until(condition: Any, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


@pytest.fixture
async def running(wiring: Wiring) -> AsyncIterator[Wiring]:
    task = asyncio.create_task(wiring.worker.run())
    try:
        yield wiring
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_deliveries_are_created_once_per_subscription_and_event(wiring: Wiring) -> None:
    wants_both = await subscribe(wiring, "/both", Route())
    wants_retractions = await subscribe(wiring, "/retractions", Route(), EVENT_RETRACTED)
    now = datetime.now(UTC)
    body = event_payload(EVENT_RETRACTED, b'{"article_id": "a1", "version": 2}', timestamp=now)
    first = await wiring.deliveries.create(
        message_id="m1",
        event_type=EVENT_RETRACTED,
        body=body,
        subscriptions=[wants_both, wants_retractions],
        now=now,
    )
    again = await wiring.deliveries.create(
        message_id="m1",
        event_type=EVENT_RETRACTED,
        body=body,
        subscriptions=[wants_both, wants_retractions],
        now=now,
    )
    assert sorted(first) == sorted([f"{wants_both.id}:m1", f"{wants_retractions.id}:m1"])
    assert again == []
    assert sorted(d.delivery_id for d in await wiring.deliveries.due()) == sorted(first)
    assert await wiring.deliveries.body("m1") == body


async def test_a_redelivered_record_restores_a_lost_due_entry(wiring: Wiring) -> None:
    subscription = await subscribe(wiring, "/x", Route())
    now = datetime.now(UTC)
    await wiring.deliveries.create(
        message_id="m1", event_type=EVENT_PUBLISHED, body=b"{}", subscriptions=[subscription], now=now
    )
    await wiring.deliveries.drop_due(f"{subscription.id}:m1")  # as if we crashed between the inserts
    await wiring.deliveries.create(
        message_id="m1", event_type=EVENT_PUBLISHED, body=b"{}", subscriptions=[subscription], now=now
    )
    assert [d.delivery_id for d in await wiring.deliveries.due()] == [f"{subscription.id}:m1"]


async def test_signed_deliveries_retries_with_growing_waits_dead_letters_and_redrive(running: Wiring) -> None:
    w = running
    flaky = await subscribe(w, "/flaky", Route(fail_first=2))
    broken_route = Route(always_fail=True)
    broken = await subscribe(w, "/broken", broken_route)
    message_id = await publish(w, [flaky, broken])
    w.worker.wake()

    await until(lambda: any(r.status == 204 for r in w.receiver.at("/flaky")))
    flaky_attempts = w.receiver.at("/flaky")
    assert [r.status for r in flaky_attempts] == [500, 500, 204]
    assert all(r.verified for r in flaky_attempts)
    assert {r.msg_id for r in flaky_attempts} == {message_id}  # the same webhook-id on every retry
    gaps = [b.at - a.at for a, b in itertools.pairwise(flaky_attempts)]
    assert 0.3 <= gaps[0] < gaps[1] and gaps[1] >= 0.6, gaps
    assert flaky_attempts[-1].payload["data"] == {"article_id": "article-1", "version": 1}
    # the worker records the outcome after the receiver has answered: wait for the record
    deadline = time.monotonic() + 10
    delivered = await w.deliveries.get(f"{flaky.id}:{message_id}")
    while delivered is not None and delivered.state == "pending" and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        delivered = await w.deliveries.get(f"{flaky.id}:{message_id}")
    assert delivered is not None and delivered.state == "delivered" and delivered.attempts == 3

    dead_id = f"{broken.id}:{message_id}"

    async def is_dead() -> bool:
        found = await w.deliveries.get(dead_id)
        return found is not None and found.state == "dead"

    deadline = time.monotonic() + 15
    while not await is_dead():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert [r.status for r in w.receiver.at("/broken")] == [503] * POLICY.max_attempts
    dead = await w.deliveries.dead()
    assert [(d.id, d.attempts, d.last_error) for d in dead] == [(dead_id, 3, "HTTP 503")]
    assert all(d.delivery_id != dead_id for d in await w.deliveries.due())
    with pytest.raises(NotDead):
        await w.deliveries.redrive(f"{flaky.id}:{message_id}", now=datetime.now(UTC))

    broken_route.always_fail = False  # the subscriber fixed its endpoint
    redriven = await w.deliveries.redrive(dead_id, now=datetime.now(UTC))
    assert (redriven.state, redriven.round, redriven.attempts) == ("pending", 1, 0)
    w.worker.wake()
    await until(lambda: [r.status for r in w.receiver.at("/broken")][-1:] == [204])
    await asyncio.sleep(0.3)
    assert [r.status for r in w.receiver.at("/broken")] == [503, 503, 503, 204]  # sent once, not again
    assert {r.msg_id for r in w.receiver.at("/broken")} == {message_id}
    assert await w.deliveries.dead() == []
    final = await w.deliveries.get(dead_id)
    assert final is not None and final.state == "delivered"


async def test_a_hanging_subscriber_delays_no_other(running: Wiring) -> None:
    w = running
    hanging = await subscribe(w, "/hanging", Route(delay_s=5))
    healthy = await subscribe(w, "/healthy", Route())
    for _ in range(3):
        await publish(w, [hanging, healthy])
    started = time.monotonic()
    w.worker.wake()
    await until(lambda: len([r for r in w.receiver.at("/healthy") if r.status == 204]) == 3)
    assert time.monotonic() - started < TIMEOUT_S  # while the hanging one still has its first attempt

    async def timed_out() -> list[str]:
        due = [d for d in await w.deliveries.due() if d.subscription_id == hanging.id and d.attempt == 2]
        return [d.delivery_id for d in due]

    deadline = time.monotonic() + 10
    while not (ids := await timed_out()):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    delivery = await w.deliveries.get(ids[0])
    assert delivery is not None and delivery.last_error == f"no answer within {TIMEOUT_S:g} s"


async def test_attempts_are_claimed_once_and_a_crashed_attempt_is_taken_over(wiring: Wiring) -> None:
    w = wiring
    subscription = await subscribe(w, "/claims", Route())
    message_id = await publish(w, [subscription])
    delivery_id = f"{subscription.id}:{message_id}"
    now = datetime.now(UTC)

    # another worker holds attempt 1: this one leaves it alone
    assert await w.deliveries.claim(delivery_id, round=0, attempt=1, now=now)
    await w.worker.tick()
    assert w.receiver.at("/claims") == []
    assert (await w.deliveries.get(delivery_id)).attempts == 0  # type: ignore[union-attr]

    # ...until its claim is stale (the worker died): attempt 1 counts as failed, 2 is due
    w.worker.clock = lambda: now + timedelta(seconds=3)
    await w.worker.tick()
    after = await w.deliveries.get(delivery_id)
    assert after is not None and after.attempts == 1 and after.last_error is not None
    assert "interrupted" in after.last_error
    [due] = await w.deliveries.due()
    assert due.attempt == 2 and due.at > now

    # an attempt that was sent but not recorded (a crash in between) is recorded, not resent
    assert await w.deliveries.claim(delivery_id, round=0, attempt=2, now=now)
    await w.deliveries.finish(delivery_id, round=0, attempt=2, outcome=Outcome(status=200), now=now)
    w.worker.clock = lambda: now + timedelta(seconds=30)
    await w.worker.tick()
    assert w.receiver.at("/claims") == []
    done = await w.deliveries.get(delivery_id)
    assert done is not None and done.state == "delivered" and done.attempts == 2
    assert await w.deliveries.due() == []


async def test_two_workers_send_each_attempt_once(wiring: Wiring) -> None:
    w = wiring
    subscription = await subscribe(w, "/twice", Route())
    ids = [await publish(w, [subscription]) for _ in range(5)]
    other = DeliveryWorker(
        deliveries=w.deliveries,
        subscriptions=w.subscriptions,
        sender=HttpWebhookSender(timeout_s=TIMEOUT_S, allow_loopback=True),
        policy=POLICY,
        tick_s=0.05,
        concurrency=4,
        per_subscription=4,
        stale_after_s=2.0,
    )
    w.worker.per_subscription = 4
    try:
        for _ in range(3):
            await asyncio.gather(w.worker.tick(), other.tick())
    finally:
        await other.sender.aclose()
    assert sorted(r.msg_id for r in w.receiver.at("/twice")) == sorted(ids)


async def test_a_deleted_subscriptions_deliveries_are_cancelled(wiring: Wiring) -> None:
    w = wiring
    subscription = await subscribe(w, "/gone", Route())
    message_id = await publish(w, [subscription])
    assert await w.subscriptions.delete(subscription.id)
    await w.worker.tick()
    cancelled = await w.deliveries.get(f"{subscription.id}:{message_id}")
    assert cancelled is not None and cancelled.state == "cancelled"
    assert await w.deliveries.due() == [] and w.receiver.at("/gone") == []
