"""Webhook deliveries in publication's database, every read and write by `_id`:

- `webhook_messages`: `_id` = event id (the `webhook-id`), the signed body, once per event;
- `webhook_deliveries`: `_id` = `<subscription id>:<event id>`, one per subscription and
  event, its state and attempts; inserting it claims the delivery, so a redelivered record
  creates nothing new;
- `webhook_due`: `_id` = delivery id, the next attempt of each pending delivery. Small (only
  what is pending), so the worker reads it whole instead of querying the big collection;
- `webhook_dead`: `_id` = delivery id, the dead deliveries, for operators to list and re-drive;
- `webhook_attempts`: `_id` = `<delivery id>#<round>.<attempt>`, one per attempt. Inserting
  it claims the attempt, so two workers (two processes, two replicas) never send the same
  attempt; it also keeps what the attempt got.

Each pending delivery has one writer at a time, the holder of its current attempt's claim
(FerretDB v1 does not apply concurrent updates of one document atomically). Writes are
ordered so that a crash between two of them leaves something the worker repairs: a due
entry for a finished delivery is dropped, an attempt that finished without being recorded
is recorded by the next worker that claims it."""

import contextlib
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from ..domain.webhooks import (
    Dead,
    Delivered,
    Delivery,
    Due,
    Outcome,
    RetryAt,
    Step,
    Subscription,
    delivery_id,
)


class UnknownDelivery(LookupError):
    pass


class NotDead(Exception):
    """Only a dead delivery can be re-driven."""

    def __init__(self, state: str) -> None:
        super().__init__(f"the delivery is {state}, not dead")
        self.state = state


@dataclass(frozen=True, slots=True)
class Claim:
    claimed_at: datetime
    outcome: Outcome | None


@dataclass(frozen=True, slots=True)
class DeadDelivery:
    id: str
    subscription_id: str
    owner: str
    dead_at: datetime
    attempts: int
    last_error: str | None


class DeliveryStore(Protocol):
    async def create(
        self,
        *,
        message_id: str,
        event_type: str,
        body: bytes,
        subscriptions: list[Subscription],
        now: datetime,
    ) -> list[str]: ...
    async def due(self) -> list[Due]: ...
    async def get(self, delivery_id: str) -> Delivery | None: ...
    async def body(self, message_id: str) -> bytes | None: ...
    async def claim(self, delivery_id: str, *, round: int, attempt: int, now: datetime) -> bool: ...
    async def claimed(self, delivery_id: str, *, round: int, attempt: int) -> Claim | None: ...
    async def finish(
        self, delivery_id: str, *, round: int, attempt: int, outcome: Outcome, now: datetime
    ) -> None: ...
    async def record(
        self, delivery: Delivery, *, attempt: int, outcome: Outcome, step: Step, now: datetime
    ) -> None: ...
    async def drop_due(self, delivery_id: str) -> None: ...
    async def cancel(self, delivery_id: str, *, reason: str, now: datetime) -> None: ...
    async def redrive(self, delivery_id: str, *, now: datetime, owner: str | None = None) -> Delivery: ...
    async def dead(self) -> list[DeadDelivery]: ...


def _attempt_id(delivery_id: str, round: int, attempt: int) -> str:
    return f"{delivery_id}#{round}.{attempt}"


def _delivery(doc: dict[str, Any]) -> Delivery:
    return Delivery(
        id=doc["_id"],
        subscription_id=doc["subscription_id"],
        owner=doc["owner"],
        message_id=doc["message_id"],
        event_type=doc["event_type"],
        state=doc["state"],
        created_at=doc["created_at"],
        round=doc.get("round", 0),
        attempts=doc.get("attempts", 0),
        last_status=doc.get("last_status"),
        last_error=doc.get("last_error"),
    )


class MongoDeliveryStore:
    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        db = client[database]
        self.messages = db["webhook_messages"]
        self.deliveries = db["webhook_deliveries"]
        self.due_entries = db["webhook_due"]
        self.dead_entries = db["webhook_dead"]
        self.attempts = db["webhook_attempts"]

    async def create(
        self,
        *,
        message_id: str,
        event_type: str,
        body: bytes,
        subscriptions: list[Subscription],
        now: datetime,
    ) -> list[str]:
        """One pending delivery per subscription, due now; returns the ids of those that were
        not there yet (a redelivered record creates none)."""
        with contextlib.suppress(DuplicateKeyError):
            await self.messages.insert_one(
                {"_id": message_id, "event_type": event_type, "body": body, "created_at": now}
            )
        created = []
        for subscription in subscriptions:
            did = delivery_id(subscription.id, message_id)
            try:
                await self.deliveries.insert_one(
                    {
                        "_id": did,
                        "subscription_id": subscription.id,
                        "owner": subscription.owner,
                        "message_id": message_id,
                        "event_type": event_type,
                        "state": "pending",
                        "round": 0,
                        "attempts": 0,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                created.append(did)
            except DuplicateKeyError:
                existing = await self.get(did)
                if existing is None or existing.state != "pending" or existing.attempts or existing.round:
                    continue
                # not attempted yet: the record may be read again because we crashed before
                # the due entry was written (a surplus entry is dropped by the worker)
            with contextlib.suppress(DuplicateKeyError):
                await self.due_entries.insert_one(
                    {"_id": did, "subscription_id": subscription.id, "attempt": 1, "round": 0, "at": now}
                )
        return created

    async def due(self) -> list[Due]:
        return [
            Due(
                delivery_id=doc["_id"],
                subscription_id=doc["subscription_id"],
                attempt=doc["attempt"],
                round=doc["round"],
                at=doc["at"],
            )
            async for doc in self.due_entries.find({})
        ]

    async def get(self, delivery_id: str) -> Delivery | None:
        doc = await self.deliveries.find_one({"_id": delivery_id})
        return _delivery(doc) if doc else None

    async def body(self, message_id: str) -> bytes | None:
        doc = await self.messages.find_one({"_id": message_id})
        return bytes(doc["body"]) if doc else None

    async def claim(self, delivery_id: str, *, round: int, attempt: int, now: datetime) -> bool:
        try:
            await self.attempts.insert_one(
                {
                    "_id": _attempt_id(delivery_id, round, attempt),
                    "delivery_id": delivery_id,
                    "claimed_at": now,
                }
            )
        except DuplicateKeyError:
            return False
        return True

    async def claimed(self, delivery_id: str, *, round: int, attempt: int) -> Claim | None:
        doc = await self.attempts.find_one({"_id": _attempt_id(delivery_id, round, attempt)})
        if doc is None:
            return None
        outcome = None
        if doc.get("finished_at") is not None:
            outcome = Outcome(status=doc.get("status"), error=doc.get("error"))
        return Claim(claimed_at=doc["claimed_at"], outcome=outcome)

    async def finish(
        self, delivery_id: str, *, round: int, attempt: int, outcome: Outcome, now: datetime
    ) -> None:
        await self.attempts.update_one(
            {"_id": _attempt_id(delivery_id, round, attempt)},
            {"$set": {"finished_at": now, "status": outcome.status, "error": outcome.error}},
        )

    async def record(
        self, delivery: Delivery, *, attempt: int, outcome: Outcome, step: Step, now: datetime
    ) -> None:
        """The attempt's result and what follows; its due entry goes last, so a crash before
        leaves the attempt to be recorded again."""
        changes: dict[str, Any] = {
            "attempts": attempt,
            "last_status": outcome.status,
            "last_error": None if outcome.ok else outcome.describe(),
            "updated_at": now,
        }
        if isinstance(step, Delivered):
            await self._update(delivery.id, {**changes, "state": "delivered", "delivered_at": now})
            await self.drop_due(delivery.id)
        elif isinstance(step, RetryAt):
            await self._update(delivery.id, {**changes, "next_attempt_at": step.at})
            await self.due_entries.replace_one(
                {"_id": delivery.id},
                {
                    "subscription_id": delivery.subscription_id,
                    "attempt": attempt + 1,
                    "round": delivery.round,
                    "at": step.at,
                },
                upsert=True,
            )
        elif isinstance(step, Dead):
            await self.dead_entries.replace_one(
                {"_id": delivery.id},
                {
                    "subscription_id": delivery.subscription_id,
                    "owner": delivery.owner,
                    "dead_at": now,
                    "attempts": attempt,
                    "last_error": changes["last_error"],
                },
                upsert=True,
            )
            await self._update(delivery.id, {**changes, "state": "dead", "dead_at": now})
            await self.drop_due(delivery.id)

    async def _update(self, delivery_id: str, changes: dict[str, Any]) -> None:
        await self.deliveries.update_one({"_id": delivery_id}, {"$set": changes})

    async def drop_due(self, delivery_id: str) -> None:
        await self.due_entries.delete_one({"_id": delivery_id})

    async def cancel(self, delivery_id: str, *, reason: str, now: datetime) -> None:
        await self._update(delivery_id, {"state": "cancelled", "last_error": reason, "updated_at": now})
        await self.drop_due(delivery_id)

    async def redrive(self, delivery_id: str, *, now: datetime, owner: str | None = None) -> Delivery:
        """A dead delivery becomes pending again, due now, with a fresh round of attempts.
        `owner`: only that owner's deliveries (a subscriber's key); None for operators."""
        delivery = await self.get(delivery_id)
        if delivery is None or (owner is not None and delivery.owner != owner):
            raise UnknownDelivery(delivery_id)
        if delivery.state == "dead":
            delivery = replace(delivery, state="pending", round=delivery.round + 1, attempts=0)
            await self._update(
                delivery_id,
                {
                    "state": "pending",
                    "round": delivery.round,
                    "attempts": 0,
                    "redriven_at": now,
                    "updated_at": now,
                },
            )
        elif delivery.state != "pending" or await self.dead_entries.find_one({"_id": delivery_id}) is None:
            raise NotDead(delivery.state)
        # else a re-drive cut off half-way: finish it
        with contextlib.suppress(DuplicateKeyError):
            await self.due_entries.insert_one(
                {
                    "_id": delivery_id,
                    "subscription_id": delivery.subscription_id,
                    "attempt": 1,
                    "round": delivery.round,
                    "at": now,
                }
            )
        await self.dead_entries.delete_one({"_id": delivery_id})
        return delivery

    async def dead(self) -> list[DeadDelivery]:
        found = [
            DeadDelivery(
                id=doc["_id"],
                subscription_id=doc["subscription_id"],
                owner=doc["owner"],
                dead_at=doc["dead_at"],
                attempts=doc["attempts"],
                last_error=doc.get("last_error"),
            )
            async for doc in self.dead_entries.find({})
        ]
        return sorted(found, key=lambda d: (d.dead_at, d.id))
