"""The delivery worker: every tick (or as soon as the consumer created deliveries), start the
due attempts, each in its own task, and record what they got.

An attempt is claimed before it is sent, so workers in several processes never send the
same attempt; an attempt whose worker died is taken as failed once it is older than
`stale_after_s`. At most `concurrency` attempts are in flight, and at most
`per_subscription` to one subscription, each within the sender's time limit: a subscriber
that hangs or fails keeps its own deliveries waiting, nobody else's."""

import asyncio
import contextlib
import logging
import random
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pymongo.errors import PyMongoError

from ..adapters.deliveries import DeliveryStore
from ..adapters.subscriptions import SubscriptionStore
from ..adapters.webhook_sender import HttpWebhookSender
from ..domain.webhook_signing import signed_headers
from ..domain.webhooks import Dead, Delivered, Delivery, Due, Outcome, RetryPolicy, after_attempt
from ..settings import Settings

log = logging.getLogger("newsflow.publication.webhooks")


class Sender(Protocol):
    async def send(self, url: str, *, body: bytes, headers: dict[str, str]) -> Outcome: ...
    async def aclose(self) -> None: ...


class DeliveryWorker:
    def __init__(
        self,
        *,
        deliveries: DeliveryStore,
        subscriptions: SubscriptionStore,
        sender: Sender,
        policy: RetryPolicy,
        tick_s: float,
        concurrency: int,
        per_subscription: int,
        stale_after_s: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        spread: Callable[[], float] = random.random,
    ) -> None:
        self.deliveries = deliveries
        self.subscriptions = subscriptions
        self.sender = sender
        self.policy = policy
        self.tick_s = tick_s
        self.concurrency = concurrency
        self.per_subscription = per_subscription
        self.stale_after = timedelta(seconds=stale_after_s)
        self.clock = clock
        self.spread = spread
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._by_subscription: Counter[str] = Counter()
        self._wake = asyncio.Event()
        self._backlog = False

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Until cancelled."""
        while True:
            try:
                await self.start_due()
            except Exception:  # the loop must outlive any one bad entry
                log.exception("webhook worker: cannot start the due deliveries")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.tick_s):
                    await self._wake.wait()
            self._wake.clear()

    async def start_due(self) -> list[asyncio.Task[None]]:
        try:
            due = await self.deliveries.due()
        except PyMongoError as error:
            log.warning("cannot read the due deliveries, retrying next tick: %s", error)
            return []
        now = self.clock()
        started = []
        self._backlog = False
        for entry in sorted((d for d in due if d.at <= now), key=lambda d: d.at):
            if entry.delivery_id in self._in_flight:
                continue
            if len(self._in_flight) >= self.concurrency:
                self._backlog = True
                break
            if self._by_subscription[entry.subscription_id] >= self.per_subscription:
                self._backlog = True
                continue
            started.append(self._start(entry))
        return started

    async def tick(self) -> None:
        """Start the due attempts and wait for them (tests)."""
        await asyncio.gather(*await self.start_due())

    async def stop(self, *, grace_s: float) -> None:
        """Let the attempts in flight finish within `grace_s`, then cancel the rest."""
        if self._in_flight:
            await asyncio.wait(list(self._in_flight.values()), timeout=grace_s)
        for task in list(self._in_flight.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _start(self, entry: Due) -> asyncio.Task[None]:
        task = asyncio.create_task(self._deliver(entry), name=f"webhook:{entry.delivery_id}")
        self._in_flight[entry.delivery_id] = task
        self._by_subscription[entry.subscription_id] += 1

        def done(_: asyncio.Task[None]) -> None:
            self._in_flight.pop(entry.delivery_id, None)
            self._by_subscription[entry.subscription_id] -= 1
            if self._backlog:
                self.wake()

        task.add_done_callback(done)
        return task

    async def _deliver(self, entry: Due) -> None:
        try:
            await self._attempt(entry)
        except PyMongoError as error:  # it stays due: tried again next tick
            log.warning("webhook delivery %s postponed: %r", entry.delivery_id, error)
        except Exception:
            log.exception("webhook delivery %s: unexpected error", entry.delivery_id)

    async def _attempt(self, entry: Due) -> None:
        now = self.clock()
        delivery = await self.deliveries.get(entry.delivery_id)
        if delivery is None or delivery.state != "pending":
            await self.deliveries.drop_due(entry.delivery_id)  # left over from a crash or a race
            return
        if entry.round != delivery.round:
            entry = replace(entry, round=delivery.round, attempt=1)
        subscription = await self.subscriptions.get(delivery.subscription_id)
        if subscription is None:
            await self.deliveries.cancel(delivery.id, reason="the subscription was deleted", now=now)
            return
        round, attempt = delivery.round, entry.attempt
        if not await self.deliveries.claim(delivery.id, round=round, attempt=attempt, now=now):
            claim = await self.deliveries.claimed(delivery.id, round=round, attempt=attempt)
            if claim is None:
                return
            if claim.outcome is not None:  # sent, but its result not recorded (a crash, an outage)
                outcome = claim.outcome
            elif now - claim.claimed_at > self.stale_after:
                outcome = Outcome(error="interrupted: the worker stopped during the attempt")
                await self.deliveries.finish(
                    delivery.id, round=round, attempt=attempt, outcome=outcome, now=now
                )
            else:
                return  # another worker is on it
            await self._record(delivery, attempt, outcome)
            return
        body = await self.deliveries.body(delivery.message_id)
        if body is None:
            await self.deliveries.cancel(delivery.id, reason="its message is missing", now=now)
            return
        headers = signed_headers(
            subscription.secret, msg_id=delivery.message_id, timestamp=int(now.timestamp()), body=body
        )
        outcome = await self.sender.send(subscription.url, body=body, headers=headers)
        await self.deliveries.finish(
            delivery.id, round=round, attempt=attempt, outcome=outcome, now=self.clock()
        )
        await self._record(delivery, attempt, outcome)

    async def _record(self, delivery: Delivery, attempt: int, outcome: Outcome) -> None:
        now = self.clock()
        step = after_attempt(attempt, outcome, policy=self.policy, now=now, spread=self.spread())
        await self.deliveries.record(delivery, attempt=attempt, outcome=outcome, step=step, now=now)
        if isinstance(step, Delivered):
            log.info("webhook %s delivered (attempt %d)", delivery.id, attempt)
        elif isinstance(step, Dead):
            log.warning("webhook %s dead after %d attempts: %s", delivery.id, attempt, outcome.describe())
        else:
            log.info(
                "webhook %s attempt %d failed (%s); next at %s",
                delivery.id,
                attempt,
                outcome.describe(),
                step.at.isoformat(),
            )


def build(
    settings: Settings, *, deliveries: DeliveryStore, subscriptions: SubscriptionStore
) -> DeliveryWorker:
    return DeliveryWorker(
        deliveries=deliveries,
        subscriptions=subscriptions,
        sender=HttpWebhookSender(
            timeout_s=settings.webhook_timeout_s, allow_loopback=settings.webhooks_allow_http_localhost
        ),
        policy=RetryPolicy(
            max_attempts=settings.webhook_max_attempts,
            base_s=settings.webhook_backoff_base_s,
            factor=settings.webhook_backoff_factor,
            max_s=settings.webhook_backoff_max_s,
        ),
        tick_s=settings.webhook_tick_s,
        concurrency=settings.webhook_concurrency,
        per_subscription=settings.webhook_subscription_concurrency,
        stale_after_s=max(60.0, 3 * settings.webhook_timeout_s),
    )


@asynccontextmanager
async def running(worker: DeliveryWorker, *, enabled: bool, grace_s: float) -> AsyncIterator[None]:
    """The worker's loop while the app runs (when `enabled`); then its sender is closed."""
    loop = asyncio.create_task(worker.run(), name="webhook-worker") if enabled else None
    try:
        yield
    finally:
        if loop is not None:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop
            await worker.stop(grace_s=grace_s)
        await worker.sender.aclose()
