"""Prometheus metrics every service exposes on `GET /metrics`, with the names the alert rules
and dashboards use. No `service` label: the scrape target says which service it is."""

import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from pymongo import monitoring

from . import telemetry

disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` series beside every counter and histogram

FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SLOW = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)

RECORDS = Counter(
    "newsflow_records_total", "Records handled by the consumers, by outcome.", ["topic", "outcome"]
)
STAGE = Histogram("newsflow_stage_seconds", "Time spent in a stage of handling.", ["stage"], buckets=FAST)
HTTP_REQUESTS = Counter(
    "newsflow_http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "newsflow_http_request_seconds", "Time to answer an HTTP request.", ["method", "route"], buckets=FAST
)
DEPENDENCY = Histogram(
    "newsflow_dependency_seconds",
    "Time of one call to MongoDB, Redis or Kafka.",
    ["dependency", "operation"],
    buckets=FAST,
)

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics_endpoint() -> Response:
    """Unauthenticated, as Prometheus scrapers expect; the port is not exposed beyond the cluster."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


@contextmanager
def stage(name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        STAGE.labels(name).observe(time.perf_counter() - started)


# -- HTTP ----------------------------------------------------------------------------------------

UNMATCHED = "<unmatched>"


class HttpMetrics:
    """Pure ASGI middleware: counts and times every request by its route template (never the
    raw path), and runs it in a span continuing the caller's `traceparent`. A few microseconds
    a request: the labelled children are looked up once and kept."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._timers: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        parent = None
        for name, value in scope["headers"]:
            if name == b"traceparent":
                parent = telemetry.parse_traceparent(value)
                break
        started = time.perf_counter()
        try:
            with telemetry.spans.span(f"HTTP {scope['method']}", parent, kind="server"):
                await self.app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            method = scope["method"]
            counter = self._counters.get((method, route, status))
            if counter is None:
                counter = self._counters[(method, route, status)] = HTTP_REQUESTS.labels(
                    method, route, str(status)
                )
            timer = self._timers.get((method, route))
            if timer is None:
                timer = self._timers[(method, route)] = HTTP_SECONDS.labels(method, route)
            counter.inc()
            timer.observe(elapsed)


# -- MongoDB and Redis ----------------------------------------------------------------------------


class MongoTiming(monitoring.CommandListener):
    """PyMongo command monitoring: the driver measures each command; this only records it."""

    def __init__(self) -> None:
        self._timers: dict[str, Any] = {}

    def _observe(self, event: monitoring.CommandSucceededEvent | monitoring.CommandFailedEvent) -> None:
        timer = self._timers.get(event.command_name)
        if timer is None:
            timer = self._timers[event.command_name] = DEPENDENCY.labels("mongodb", event.command_name)
        timer.observe(event.duration_micros / 1e6)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._observe(event)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._observe(event)


_mongo_timing: MongoTiming | None = None


def time_mongodb() -> None:
    """Time every MongoDB command of the clients created from now on in this process."""
    global _mongo_timing
    if _mongo_timing is None:
        _mongo_timing = MongoTiming()
        monitoring.register(_mongo_timing)


def time_redis(client: Any) -> Any:
    """Time the client's commands (by command name) and pipelines ("pipeline"), at the
    boundary: one clock read either side of each round trip. Returns the client."""
    if getattr(client, "_newsflow_timed", False):
        return client
    execute = client.execute_command
    make_pipeline = client.pipeline
    timers: dict[str, Any] = {}

    def timer(operation: str) -> Any:
        found = timers.get(operation)
        if found is None:
            found = timers[operation] = DEPENDENCY.labels("redis", operation)
        return found

    async def execute_command(*args: Any, **options: Any) -> Any:
        started = time.perf_counter()
        try:
            return await execute(*args, **options)
        finally:
            name = args[0] if args and isinstance(args[0], str) else "command"
            timer(name.split(" ", 1)[0].upper()).observe(time.perf_counter() - started)

    def pipeline(*args: Any, **kwargs: Any) -> Any:
        pipe = make_pipeline(*args, **kwargs)
        run = pipe.execute

        async def execute_pipeline(*a: Any, **k: Any) -> Any:
            started = time.perf_counter()
            try:
                return await run(*a, **k)
            finally:
                timer("pipeline").observe(time.perf_counter() - started)

        pipe.execute = execute_pipeline
        return pipe

    client.execute_command = execute_command
    client.pipeline = pipeline
    client._newsflow_timed = True
    return client


# -- consumer lag ----------------------------------------------------------------------------------


class ConsumerLag(Collector):
    """`newsflow_consumer_lag`, computed at scrape time from each consumer's fetch state:
    the partition's highwater (end offset, from the last fetch) minus the consumer's position."""

    def __init__(self) -> None:
        self._brokers: weakref.WeakSet[Any] = weakref.WeakSet()
        self._consumers: list[tuple[str, Callable[[], Any]]] = []

    def watch(self, broker: Any) -> None:
        self._brokers.add(broker)

    def watch_consumer(self, group: str, consumer: Callable[[], Any]) -> None:
        """An aiokafka consumer of no broker (e.g. partitions assigned by hand), reported
        under `group`; `consumer()` gives the one in use, or None."""
        self._consumers.append((group, consumer))

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "newsflow_consumer_lag",
            "Records behind the partition's end, per consumer group and partition.",
            labels=["group", "topic", "partition"],
        )
        for broker in list(self._brokers):
            for subscriber in list(getattr(broker, "subscribers", ())):
                for group, tp, lag in _lags(subscriber):
                    family.add_metric([group, tp.topic, str(tp.partition)], lag)
        for group, consumer in self._consumers:
            found = consumer()
            for tp, lag in _consumer_lags(found) if found is not None else ():
                family.add_metric([group, tp.topic, str(tp.partition)], lag)
        yield family


def _consumers(subscriber: Any) -> list[Any]:
    consumers = getattr(subscriber, "consumers", None)  # concurrent subscribers hold several
    if consumers:
        return list(consumers)
    consumer = getattr(subscriber, "consumer", None)
    return [consumer] if consumer is not None else []


def _lags(subscriber: Any) -> Iterator[tuple[str, Any, int]]:
    group = getattr(subscriber, "group_id", None) or ""
    for consumer in _consumers(subscriber):
        for tp, lag in _consumer_lags(consumer):
            yield group, tp, lag


def _consumer_lags(consumer: Any) -> Iterator[tuple[Any, int]]:
    subscription = getattr(consumer._subscription, "subscription", None)
    assignment = subscription.assignment if subscription is not None else None
    if assignment is None:
        return
    for tp in assignment.tps:
        state = assignment.state_value(tp)
        if state.highwater is None or not state.has_valid_position:
            continue
        yield tp, max(0, state.highwater - state.position)


CONSUMER_LAG = ConsumerLag()
_lag_registered: list[CollectorRegistry] = []


def _register_lag(registry: CollectorRegistry) -> None:
    if registry not in _lag_registered:
        registry.register(CONSUMER_LAG)
        _lag_registered.append(registry)


def watch_consumers(broker: Any, registry: CollectorRegistry = REGISTRY) -> None:
    _register_lag(registry)
    CONSUMER_LAG.watch(broker)


def watch_consumer(group: str, consumer: Callable[[], Any], registry: CollectorRegistry = REGISTRY) -> None:
    """`newsflow_consumer_lag` of a consumer outside any broker (see `ConsumerLag.watch_consumer`)."""
    _register_lag(registry)
    CONSUMER_LAG.watch_consumer(group, consumer)
