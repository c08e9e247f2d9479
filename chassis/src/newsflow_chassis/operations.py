"""What every service's wiring point adds for operators, in one call: health and readiness,
`/metrics`, the HTTP middleware, consumer lag, MongoDB timing, JSON logs and (optionally)
OpenTelemetry; and `serve`, which runs the app with the bounded stop and the log format."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import uvicorn
from fastapi import FastAPI

from . import health, metrics, telemetry
from .settings import KafkaSettings

if TYPE_CHECKING:
    from faststream.kafka import KafkaBroker


def operate(
    app: FastAPI,
    broker: "KafkaBroker | None",
    settings: KafkaSettings,
    *,
    service: str,
    checks: dict[str, health.Check] | None = None,
    optional: dict[str, health.Check] | None = None,
) -> health.Health:
    """`checks`: the service's own dependencies (e.g. mongodb, redis); `optional`: reported,
    not required for readiness; Kafka and the broker's consumers are always checked (a process
    without a FastStream broker, `broker` None, names its Kafka check among `checks`). MongoDB
    clients are timed only when made after this call or after `metrics.time_mongodb()`."""
    probe = health.Health()
    for name, check in (checks or {}).items():
        probe.add(name, check)
    for name, check in (optional or {}).items():
        probe.add(name, check, required=False)
    if broker is not None:
        probe.add("kafka", health.broker_kafka_check(broker))
        probe.add("consumers", health.ConsumerAssignments(broker, grace_s=probe.rebalance_grace_s))
        metrics.watch_consumers(broker)
    health.install(app, probe)
    app.include_router(metrics.router)
    app.add_middleware(metrics.HttpMetrics)
    metrics.time_mongodb()
    if settings.otel_enabled:
        telemetry.enable_otel(service)

    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        probe.stop_on_signals(timeout_s=settings.shutdown_timeout_s)
        async with inner(app) as state:
            yield state

    app.router.lifespan_context = lifespan
    return probe


def serve(factory: str, settings: KafkaSettings, *, host: str, port: int, **options: Any) -> None:
    """Run `factory` (module:function) under uvicorn with the service's log format and a
    quarter of the stop timeout for the HTTP requests in flight."""
    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        log_config=telemetry.log_config(format=settings.log_format, level=settings.log_level),
        timeout_graceful_shutdown=max(1, round(settings.shutdown_timeout_s / 4)),
        **options,
    )
