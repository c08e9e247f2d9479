"""The chassis' operating pieces without servers: trace context, JSON logs, the HTTP
middleware, the consumer observer, readiness reports and the bounded stop."""

import asyncio
import json
import logging
import subprocess
import sys
import textwrap
import time

import httpx
import pytest
from fastapi import FastAPI
from faststream.kafka import KafkaMessage, TestKafkaBroker
from faststream.middlewares import AckPolicy
from newsflow_chassis import health, metrics, telemetry
from newsflow_chassis.delivery import DeliveryGuard, PoisonRecord
from newsflow_chassis.kafka import EventPublisher, build_broker
from newsflow_chassis.settings import KafkaSettings
from newsflow_contracts.events import PageViewRecorded
from newsflow_contracts.topics import PAGEVIEW_RECORDED
from prometheus_client import REGISTRY

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# -- trace context ---------------------------------------------------------------------------------


def test_traceparent_is_parsed_and_continued() -> None:
    parent = telemetry.parse_traceparent(PARENT)
    assert parent is not None
    assert (parent.trace_id, parent.span_id, parent.sampled) == (
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "00f067aa0ba902b7",
        True,
    )
    child = telemetry.child_of(parent)
    assert child.trace_id == parent.trace_id
    assert child.span_id != parent.span_id and len(child.span_id) == 16
    assert telemetry.parse_traceparent(child.traceparent) == child


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # zero parent id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # forbidden version
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  # version 00 has no more
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  # short trace id
    ],
)
def test_malformed_traceparent_is_ignored(value: str | None) -> None:
    assert telemetry.parse_traceparent(value) is None


def test_a_new_trace_is_started_when_there_is_none() -> None:
    first, second = telemetry.child_of(None), telemetry.child_of(None)
    assert first.trace_id != second.trace_id
    assert telemetry.parse_traceparent(telemetry.outgoing_traceparent()) is not None


# -- logs --------------------------------------------------------------------------------------------


def test_json_log_line_carries_the_trace_and_extra_fields() -> None:
    record = logging.LogRecord("newsflow.events", logging.INFO, __file__, 1, "handled %s", ("x",), None)
    record.article_id = "a-1"
    record.color_message = "\x1b[1mhandled\x1b[0m"
    with telemetry.spans.span("t", telemetry.parse_traceparent(PARENT), kind="consumer") as context:
        line = json.loads(telemetry.JsonFormatter().format(record))
    assert line["message"] == "handled x"
    assert line["level"] == "INFO" and line["logger"] == "newsflow.events"
    assert line["article_id"] == "a-1"
    assert line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert line["span_id"] == context.span_id
    assert "color_message" not in line


# -- HTTP ------------------------------------------------------------------------------------------


async def test_http_metrics_label_the_route_template_and_status() -> None:
    app = FastAPI()
    seen: list[str | None] = []

    @app.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        current = telemetry.current_trace()
        seen.append(current.trace_id if current else None)
        return {"id": thing_id}

    app.add_middleware(metrics.HttpMetrics)
    labels = {"method": "GET", "route": "/things/{thing_id}", "status": "200"}
    before = sample("newsflow_http_requests_total", **labels)
    unmatched = {"method": "GET", "route": metrics.UNMATCHED, "status": "404"}
    before_404 = sample("newsflow_http_requests_total", **unmatched)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.get("/things/1", headers={"traceparent": PARENT})).status_code == 200
        assert (await client.get("/things/2")).status_code == 200
        assert (await client.get("/nowhere/at/all")).status_code == 404
    assert sample("newsflow_http_requests_total", **labels) == before + 2
    assert sample("newsflow_http_requests_total", **unmatched) == before_404 + 1
    assert sample("newsflow_http_request_seconds_count", method="GET", route="/things/{thing_id}") >= 2
    # the caller's trace is continued, a request without one starts its own
    assert seen[0] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert seen[1] is not None and seen[1] != seen[0]


# -- consumers ---------------------------------------------------------------------------------------


def observed_broker() -> tuple[object, list[dict[str, str]]]:
    broker = build_broker(KafkaSettings(retry_backoff_max_s=0.01, poison_attempts=3), client_id="t")
    guard = next(m for m in broker.middlewares if isinstance(m, DeliveryGuard))
    dead: list[str] = []

    async def capture(value: bytes, key: bytes | None, headers: dict[str, str], topic: str) -> None:
        dead.append(topic)

    guard.dead_letter = capture
    out = EventPublisher(broker, PAGEVIEW_RECORDED, PageViewRecorded, source="/newsflow/test", description="")
    sent: list[dict[str, str]] = []

    @broker.subscriber("ops-in", group_id="g", ack_policy=AckPolicy.NACK_ON_ERROR)
    async def on_in(view: PageViewRecorded) -> None:
        if view.site == "poison":
            raise PoisonRecord("never")
        if view.site == "boom":
            raise ValueError("boom")
        await out.publish(view, key=view.article_id, event_id="e-out")

    @broker.subscriber(PAGEVIEW_RECORDED.name, group_id="g2")
    async def on_out(view: PageViewRecorded, msg: KafkaMessage) -> None:
        sent.append(dict(msg.headers))

    return broker, sent


def view(site: str) -> dict[str, str]:
    return {"article_id": "a-1", "site": site, "visitor": "v", "viewed_at": "2026-01-01T00:00:00Z"}


async def test_records_are_counted_by_outcome_and_the_trace_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    broker, sent = observed_broker()
    counts = {o: sample("newsflow_records_total", topic="ops-in", outcome=o) for o in ("processed", "failed")}
    dead_before = sample("newsflow_records_total", topic="ops-in", outcome="dead_lettered")
    caplog.set_level(logging.INFO, logger="newsflow.events")
    async with TestKafkaBroker(broker) as br:  # type: ignore[arg-type]
        await br.publish(
            view("ok"), topic="ops-in", key=b"a-1", headers={"ce_traceparent": PARENT, "ce_id": "e1"}
        )
        await br.publish(view("poison"), topic="ops-in", key=b"a-1")
        with pytest.raises(ValueError):
            await br.publish(view("boom"), topic="ops-in", key=b"a-1")
    assert sample("newsflow_records_total", topic="ops-in", outcome="processed") == counts["processed"] + 1
    assert sample("newsflow_records_total", topic="ops-in", outcome="failed") == counts["failed"] + 1
    assert sample("newsflow_records_total", topic="ops-in", outcome="dead_lettered") == dead_before + 1
    # the event the handler produced continues the incoming trace in a span of its own
    ((headers),) = sent
    out = telemetry.parse_traceparent(headers["ce_traceparent"])
    assert out is not None and out.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert out.span_id != "00f067aa0ba902b7"
    handled = [r for r in caplog.records if r.name == "newsflow.events" and r.topic == "ops-in"]
    assert [r.outcome for r in handled] == ["processed", "dead_lettered", "failed"]  # type: ignore[attr-defined]
    first = handled[0]
    assert (first.event_id, first.article_id) == ("e1", "a-1")  # type: ignore[attr-defined]
    assert json.loads(telemetry.JsonFormatter().format(first))["trace_id"] == out.trace_id


async def test_otel_spans_when_enabled() -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    telemetry.enable_otel("test", exporter=exporter)
    try:
        broker, sent = observed_broker()
        async with TestKafkaBroker(broker) as br:  # type: ignore[arg-type]
            await br.publish(view("ok"), topic="ops-in", key=b"a-1", headers={"ce_traceparent": PARENT})
    finally:
        telemetry.disable_otel()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    span = spans["ops-in process"]
    assert f"{span.context.trace_id:032x}" == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert f"{span.parent.span_id:016x}" == "00f067aa0ba902b7"
    # the produced event names the exported span as its parent
    out = telemetry.parse_traceparent(sent[0]["ce_traceparent"])
    assert out is not None and out.span_id == f"{span.context.span_id:016x}"


# -- readiness and stop ---------------------------------------------------------------------------


async def test_readiness_names_the_failing_checks() -> None:
    probe = health.Health(check_timeout_s=0.2)

    async def ok() -> str | None:
        return "fine"

    async def down() -> str | None:
        raise ConnectionError("refused")

    async def hangs() -> str | None:
        await asyncio.sleep(5)
        return None

    probe.add("mongodb", ok)
    probe.add("redis", down)
    probe.add("kafka", hangs)
    probe.add("extra", down, required=False)
    app = FastAPI()
    health.install(app, probe)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.get("/livez")).status_code == 200
        answer = await client.get("/readyz")
        assert answer.status_code == 503
        assert answer.headers["content-type"] == "application/problem+json"
        body = answer.json()
        assert body["failing"] == ["kafka", "redis"]
        assert body["checks"]["mongodb"] == {"ok": True, "detail": "fine"}
        assert "refused" in body["checks"]["redis"]["detail"]
        assert body["checks"]["extra"]["required"] is False
        probe.checks.pop("redis"), probe.checks.pop("kafka")
        answer = await client.get("/readyz")
        assert answer.status_code == 200, answer.text  # an optional check failing does not count
        probe.stopping = True
        answer = await client.get("/readyz")
        assert answer.status_code == 503 and answer.json()["failing"] == ["shutdown"]


class FakeAssignment:
    def __init__(self, partitions: int) -> None:
        self.tps = set(range(partitions))


class FakeConsumer:
    def __init__(self, assignment: FakeAssignment | None) -> None:
        subscription = type("S", (), {"assignment": assignment})()
        self._subscription = type("SS", (), {"subscription": subscription})()


class FakeSubscriber:
    def __init__(self, consumer: FakeConsumer | None, group: str = "g") -> None:
        self.consumer, self.group_id = consumer, group


async def test_consumer_assignments() -> None:
    broker = type("B", (), {"subscribers": []})()
    check = health.ConsumerAssignments(broker, grace_s=0.2)
    joining = FakeSubscriber(FakeConsumer(None))
    broker.subscribers = [FakeSubscriber(FakeConsumer(FakeAssignment(3))), joining]
    with pytest.raises(health.NotReady, match="g: waiting for an assignment"):
        await check()
    # an empty assignment: the group has more members than partitions, a ready standby
    joining.consumer = FakeConsumer(FakeAssignment(0))
    assert await check() == "3 partitions held"
    # a rebalance is tolerated for the grace time, then it is not ready
    joining.consumer._subscription.subscription.assignment = None
    assert await check() == "3 partitions held"
    await asyncio.sleep(0.25)
    with pytest.raises(health.NotReady, match="rebalancing"):
        await check()
    broker.subscribers = [FakeSubscriber(None)]
    with pytest.raises(health.NotReady, match="stopped"):
        await check()


def test_a_stop_that_hangs_ends_the_process_at_the_timeout() -> None:
    script = textwrap.dedent(
        """
        import os, signal, time
        from newsflow_chassis.health import Health
        signal.signal(signal.SIGTERM, lambda *_: None)  # a server that never finishes stopping
        probe = Health()
        probe.stop_on_signals(timeout_s=1.0)
        os.kill(os.getpid(), signal.SIGTERM)
        assert probe.stopping
        time.sleep(30)
        """
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=20)
    assert done.returncode == 70, done.stderr
    assert 0.9 < time.monotonic() - started < 10
