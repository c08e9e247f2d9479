"""Webhooks: what a subscriber can ask for, what it is sent, and when a failed delivery is
tried again. Pure.

A subscription gets one delivery per event of a type it wants; a delivery is tried until
the subscriber answers 2xx, with exponential backoff between attempts, and is dead after
`max_attempts` failures until an operator or the subscriber re-drives it. Deliveries are
not ordered: a retried one may arrive after a later event, so receivers go by the article's
version and the payload's timestamp, and drop repeats by `webhook-id`."""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

EVENT_PUBLISHED: Final = "news.article.published.v1"
EVENT_RETRACTED: Final = "news.article.retracted.v1"
EventType = Literal["news.article.published.v1", "news.article.retracted.v1"]
EVENT_TYPES: tuple[EventType, ...] = (EVENT_PUBLISHED, EVENT_RETRACTED)

DeliveryState = Literal["pending", "delivered", "dead", "cancelled"]
JITTER = 0.25
"""Each delay is lengthened by up to this share, at random, so that the retries of many
deliveries that failed together (a subscriber's outage) do not all come back at once."""


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    owner: str
    url: str
    event_types: tuple[str, ...]
    description: str
    created_at: datetime
    secret: str = field(repr=False)

    def wants(self, event_type: str) -> bool:
        return event_type in self.event_types


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    subscription_id: str
    owner: str
    message_id: str
    event_type: str
    state: DeliveryState
    created_at: datetime
    round: int = 0
    """How often it was re-driven: each round has its own attempts."""
    attempts: int = 0
    last_status: int | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class Due:
    """A pending delivery's next attempt."""

    delivery_id: str
    subscription_id: str
    attempt: int
    round: int
    at: datetime


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt got: an HTTP status, or an error before any."""

    status: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def describe(self) -> str:
        if self.status is not None:
            return f"HTTP {self.status}"
        return self.error or "no answer"


def delivery_id(subscription_id: str, message_id: str) -> str:
    return f"{subscription_id}:{message_id}"


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def payload(event_type: str, *, timestamp: datetime, data: Mapping[str, Any]) -> bytes:
    """The Standard Webhooks payload shape: `type`, `timestamp` (of the event), `data`."""
    document = {"type": event_type, "timestamp": _instant(timestamp), "data": dict(data)}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def event_payload(event_type: str, value: bytes, *, timestamp: datetime) -> bytes:
    """`data` is the event as it is on the published topic (the published article, or the
    retraction with its kind and reason), unknown fields included."""
    event = json.loads(value)
    if not isinstance(event, dict):
        raise ValueError("an event is a JSON object")
    return payload(event_type, timestamp=timestamp, data=event)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int
    base_s: float
    factor: float
    max_s: float

    def delay_s(self, attempt: int, *, spread: float) -> float:
        """Wait after failed attempt `attempt` (1-based); `spread` in [0, 1) picks the jitter."""
        return min(self.max_s, self.base_s * self.factor ** (attempt - 1)) * (1 + JITTER * spread)


@dataclass(frozen=True, slots=True)
class Delivered:
    pass


@dataclass(frozen=True, slots=True)
class RetryAt:
    at: datetime


@dataclass(frozen=True, slots=True)
class Dead:
    pass


Step = Delivered | RetryAt | Dead


def after_attempt(
    attempt: int, outcome: Outcome, *, policy: RetryPolicy, now: datetime, spread: float
) -> Step:
    if outcome.ok:
        return Delivered()
    if attempt >= policy.max_attempts:
        return Dead()
    return RetryAt(now + timedelta(seconds=policy.delay_s(attempt, spread=spread)))
