"""The delivery guard on FastStream's in-memory broker: poison records are dead-lettered
with their reason, transient errors are retried, good records are handled."""

import contextlib

import pytest
from faststream.kafka import TestKafkaBroker
from faststream.middlewares import AckPolicy
from newsflow_chassis.delivery import DLQ_HEADERS, DeliveryGuard, PoisonRecord
from newsflow_chassis.kafka import build_broker
from newsflow_chassis.settings import KafkaSettings
from pydantic import BaseModel


class Ping(BaseModel):
    n: int


@pytest.fixture
def setup():  # type: ignore[no-untyped-def]
    broker = build_broker(KafkaSettings(retry_backoff_max_s=0.01, poison_attempts=2), client_id="t")
    handled: list[int] = []
    dead: list[tuple[str, bytes, dict[str, str]]] = []
    flaky = {"left": 2}

    async def capture(value: bytes, key: bytes | None, headers: dict[str, str], topic: str) -> None:
        dead.append((topic, value, headers))

    guard = next(m for m in broker.middlewares if isinstance(m, DeliveryGuard))
    guard.dead_letter = capture

    @broker.subscriber("pings", group_id="g", ack_policy=AckPolicy.NACK_ON_ERROR)
    async def on_ping(ping: Ping) -> None:
        if ping.n == 13:
            raise PoisonRecord("13 is never allowed")
        if ping.n == 7 and flaky["left"]:
            flaky["left"] -= 1
            raise ConnectionError("database down")
        handled.append(ping.n)

    return broker, handled, dead


async def test_invalid_payload_is_dead_lettered_with_reason(setup) -> None:  # type: ignore[no-untyped-def]
    broker, handled, dead = setup
    async with TestKafkaBroker(broker) as br:
        await br.publish(b'{"n": "not a number"}', topic="pings")
        await br.publish({"n": 1}, topic="pings")
    assert handled == [1]
    ((topic, value, headers),) = dead
    assert topic == "pings.dlq"
    assert value == b'{"n": "not a number"}'
    assert set(DLQ_HEADERS) <= set(headers)
    assert headers["dlq_error_class"].endswith("ValidationError")
    assert headers["dlq_source_topic"] == "pings"


async def test_poison_raised_by_handler_is_dead_lettered(setup) -> None:  # type: ignore[no-untyped-def]
    broker, handled, dead = setup
    async with TestKafkaBroker(broker) as br:
        await br.publish({"n": 13}, topic="pings")
    assert handled == []
    assert dead[0][2]["dlq_error_message"] == "13 is never allowed"


async def test_transient_error_is_raised_for_redelivery_never_dead_lettered(setup) -> None:  # type: ignore[no-untyped-def]
    broker, handled, dead = setup
    async with TestKafkaBroker(broker) as br:
        for _ in range(3):  # the in-memory broker does not redeliver: publish again as Kafka would
            with contextlib.suppress(ConnectionError):
                await br.publish({"n": 7}, topic="pings")
    assert handled == [7]
    assert dead == []
