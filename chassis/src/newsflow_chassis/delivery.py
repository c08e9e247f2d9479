"""Delivery semantics for every consumer: commit only after the handler's effects are
durable, retry infrastructure outages with backoff, dead-letter what can never succeed.

Subscribers use `AckPolicy.NACK_ON_ERROR`: an exception that leaves this middleware seeks
the partition back to the record, so it is read again; a clean return commits its offset.
"""

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka.errors import KafkaError
from faststream import BaseMiddleware
from faststream.message import StreamMessage
from pydantic import ValidationError

from .telemetry import mark_dead_lettered

log = logging.getLogger("newsflow.delivery")

DLQ_SUFFIX = ".dlq"
DLQ_HEADERS = (
    "dlq_error_class",
    "dlq_error_message",
    "dlq_source_topic",
    "dlq_source_partition",
    "dlq_source_offset",
    "dlq_failed_at",
)


class PoisonRecord(Exception):
    """Raised by a handler for a record that can never succeed (it breaks a contract rule)."""


POISON: tuple[type[BaseException], ...] = (
    PoisonRecord,
    ValidationError,
    json.JSONDecodeError,
    UnicodeDecodeError,
)
TRANSIENT: tuple[type[BaseException], ...] = (OSError, TimeoutError, KafkaError)

DeadLetterSink = Callable[[bytes, bytes | None, dict[str, str], str], Awaitable[None]]


class DeliveryGuard:
    """A FastStream middleware factory; one per service, given to the broker."""

    def __init__(
        self,
        *,
        transient: tuple[type[BaseException], ...] = (),
        backoff_max_s: float = 10.0,
        poison_attempts: int = 3,
    ) -> None:
        self.transient = TRANSIENT + transient
        self.backoff_max_s = backoff_max_s
        self.poison_attempts = poison_attempts
        self.dead_letter: DeadLetterSink | None = None
        self._attempts: dict[tuple[str, int, int], int] = {}

    def __call__(self, msg: Any, /, **kwargs: Any) -> "_Guard":
        return _Guard(msg, guard=self, **kwargs)

    def backoff_s(self, attempt: int) -> float:
        return float(min(self.backoff_max_s, 0.1 * 2 ** min(attempt, 16)))

    def record_attempt(self, position: tuple[str, int, int]) -> int:
        attempt = self._attempts.get(position, 0) + 1
        self._attempts[position] = attempt
        return attempt

    def forget(self, position: tuple[str, int, int]) -> None:
        self._attempts.pop(position, None)


def _records(msg: StreamMessage[Any]) -> tuple[Any, ...]:
    """The message's records: one, or a batch subscriber's tuple."""
    raw = msg.raw_message
    return raw if isinstance(raw, tuple) else (raw,)


def _position(msg: StreamMessage[Any]) -> tuple[str, int, int]:
    record = _records(msg)[0]  # a batch is known by its first record
    return (record.topic, record.partition, record.offset)


def dead_letter_headers(
    record: Any, error: BaseException, *, failed_at: datetime | None = None, group: str | None = None
) -> dict[str, str]:
    """The record's own headers, and why and where it failed; `dlq_consumer_group` says which
    consumer gave up on it, as several groups may read one topic."""
    headers = {
        k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v))
        for k, v in (record.headers or ())
    }
    headers.update(
        {
            "dlq_error_class": f"{type(error).__module__}.{type(error).__qualname__}",
            "dlq_error_message": str(error)[:4000],
            "dlq_source_topic": record.topic,
            "dlq_source_partition": str(record.partition),
            "dlq_source_offset": str(record.offset),
            "dlq_failed_at": (failed_at or datetime.now(UTC)).isoformat(),
        }
    )
    if group:
        headers["dlq_consumer_group"] = group
    return headers


class _Guard(BaseMiddleware):
    def __init__(self, msg: Any, /, *, guard: DeliveryGuard, **kwargs: Any) -> None:
        super().__init__(msg, **kwargs)
        self.guard = guard

    async def consume_scope(
        self, call_next: Callable[[StreamMessage[Any]], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Any:
        position = _position(msg)
        try:
            result = await call_next(msg)
        except asyncio.CancelledError:
            raise
        except self.guard.transient as error:
            attempt = self.guard.record_attempt(position)
            delay = self.guard.backoff_s(attempt)
            log.warning(
                "infrastructure error on %s[%d]@%d (attempt %d), retrying in %.1fs: %r",
                *position,
                attempt,
                delay,
                error,
            )
            await asyncio.sleep(delay)
            raise
        except POISON as error:
            await self._dead_letter(msg, error)
            return None
        except Exception as error:
            attempt = self.guard.record_attempt(position)
            if attempt < self.guard.poison_attempts:
                log.exception("unexpected error on %s[%d]@%d (attempt %d)", *position, attempt)
                await asyncio.sleep(self.guard.backoff_s(attempt))
                raise
            await self._dead_letter(msg, error)
            return None
        self.guard.forget(position)
        return result

    async def _dead_letter(self, msg: StreamMessage[Any], error: BaseException) -> None:
        if self.guard.dead_letter is None:
            raise RuntimeError("DeliveryGuard.dead_letter is not wired") from error
        position = _position(msg)
        mark_dead_lettered()
        group = getattr(getattr(msg, "consumer", None), "_group_id", None)
        for record in _records(msg):
            headers = dead_letter_headers(record, error, group=group)
            await self.guard.dead_letter(record.value or b"", record.key, headers, record.topic + DLQ_SUFFIX)
            log.error(
                "dead-lettered %s[%d]@%d: %s: %s",
                record.topic,
                record.partition,
                record.offset,
                type(error).__name__,
                error,
            )
        self.guard.forget(position)
