"""Trace context and logs: W3C `traceparent` carried on every event as the CloudEvents
extension attribute `traceparent` (header `ce_traceparent`), one JSON log line per handled
event, and OpenTelemetry spans when `NEWSFLOW_OTEL_ENABLED` is set."""

import contextlib
import json
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from faststream import BaseMiddleware
from faststream.message import StreamMessage

from . import metrics

HEADER_TRACEPARENT = "ce_traceparent"
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16

events_log = logging.getLogger("newsflow.events")


@dataclass(frozen=True, slots=True)
class TraceContext:
    trace_id: str
    span_id: str
    sampled: bool = True

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"


def parse_traceparent(value: str | bytes | None) -> TraceContext | None:
    """The W3C trace context in `value`, or None when it is absent or malformed."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not value:
        return None
    found = _TRACEPARENT.match(value.strip().lower())
    if found is None:
        return None
    version, trace_id, span_id, flags, rest = found.groups()
    if version == "ff" or (version == "00" and rest) or trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return TraceContext(trace_id, span_id, sampled=bool(int(flags, 16) & 1))


def _span_id() -> str:
    return f"{random.getrandbits(64) or 1:016x}"


def child_of(parent: TraceContext | None) -> TraceContext:
    """A new span in the parent's trace, or the root of a new trace."""
    if parent is None:
        return TraceContext(f"{random.getrandbits(128) or 1:032x}", _span_id())
    return TraceContext(parent.trace_id, _span_id(), parent.sampled)


_current: ContextVar[TraceContext | None] = ContextVar("newsflow_trace", default=None)


def current_trace() -> TraceContext | None:
    return _current.get()


def outgoing_traceparent() -> str:
    """What an event produced now carries: the current span, or a new trace when there is none
    (a background task such as an embargo release)."""
    return (_current.get() or child_of(None)).traceparent


# -- spans: ids of our own, or OpenTelemetry's when it is enabled -------------------------------


class _Spans:
    """Without OpenTelemetry: a span is a new span id in the parent's trace, nothing exported."""

    @contextlib.contextmanager
    def span(self, name: str, parent: TraceContext | None, *, kind: str) -> Iterator[TraceContext]:
        context = child_of(parent)
        token = _current.set(context)
        try:
            yield context
        finally:
            _current.reset(token)


class _OtelSpans(_Spans):
    def __init__(self, service: str, exporter: Any = None) -> None:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        provider = TracerProvider(resource=Resource.create({"service.name": f"newsflow-{service}"}))
        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter()) if exporter is None else SimpleSpanProcessor(exporter)
        )
        self.provider = provider
        self.tracer = provider.get_tracer("newsflow")
        self.propagator = TraceContextTextMapPropagator()
        self.kinds = {"consumer": trace.SpanKind.CONSUMER, "server": trace.SpanKind.SERVER}

    @contextlib.contextmanager
    def span(self, name: str, parent: TraceContext | None, *, kind: str) -> Iterator[TraceContext]:
        carrier = {"traceparent": parent.traceparent} if parent else {}
        with self.tracer.start_as_current_span(
            name, context=self.propagator.extract(carrier), kind=self.kinds[kind]
        ) as span:
            ids = span.get_span_context()
            context = TraceContext(f"{ids.trace_id:032x}", f"{ids.span_id:016x}", ids.trace_flags.sampled)
            token = _current.set(context)
            try:
                yield context
            finally:
                _current.reset(token)


spans: _Spans = _Spans()


def enable_otel(service: str, *, exporter: Any = None) -> None:
    """Spans exported over OTLP/HTTP (endpoint from OTEL_EXPORTER_OTLP_ENDPOINT), or to
    `exporter` (tests)."""
    global spans
    if exporter is not None or not isinstance(spans, _OtelSpans):
        spans = _OtelSpans(service, exporter)


def disable_otel() -> None:
    global spans
    spans = _Spans()


# -- logs ----------------------------------------------------------------------------------------

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of the message with terminal colours
}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the trace of the work in hand and
    any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = _current.get()
        if context is not None:
            line["trace_id"], line["span_id"] = context.trace_id, context.span_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def log_config(*, format: str = "json", level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` for the service and uvicorn (given as its `log_config`)."""
    formatter = (
        {"()": f"{__name__}.JsonFormatter"}
        if format == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["default"], "level": level.upper()},
        "loggers": {
            name: {"handlers": [], "propagate": True, "level": level.upper()}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


# -- the consumer side: one span, one outcome and one log line per handled record -----------------


class Handling:
    """What became of the message in hand; the delivery guard marks dead letters."""

    __slots__ = ("outcome",)

    def __init__(self) -> None:
        self.outcome = "processed"


_handling: ContextVar[Handling | None] = ContextVar("newsflow_handling", default=None)


def mark_dead_lettered() -> None:
    handling = _handling.get()
    if handling is not None:
        handling.outcome = "dead_lettered"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class ObservedConsume(BaseMiddleware):
    """Outermost consumer middleware: continues the record's trace, counts it in
    `newsflow_records_total` by outcome and logs one line for it (one per batch for a batch
    subscriber, whose records are page views rather than articles)."""

    async def consume_scope(
        self, call_next: Callable[[StreamMessage[Any]], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Any:
        raw = msg.raw_message
        batch = isinstance(raw, tuple)
        records = raw if batch else (raw,)
        first = records[0]
        headers = {k: v for k, v in (first.headers or ())}
        handling = Handling()
        handling_token = _handling.set(handling)
        started = time.perf_counter()
        try:
            with spans.span(
                f"{first.topic} process", parse_traceparent(headers.get(HEADER_TRACEPARENT)), kind="consumer"
            ):
                try:
                    return await call_next(msg)
                except BaseException:
                    handling.outcome = "failed"
                    raise
                finally:
                    _record(records, headers, handling.outcome, time.perf_counter() - started, batch=batch)
        finally:
            _handling.reset(handling_token)


def _record(
    records: tuple[Any, ...], headers: dict[str, Any], outcome: str, seconds: float, *, batch: bool
) -> None:
    first = records[0]
    metrics.RECORDS.labels(first.topic, outcome).inc(len(records))
    level = logging.INFO if outcome == "processed" else logging.WARNING
    if not events_log.isEnabledFor(level):
        return
    fields: dict[str, Any] = {"topic": first.topic, "partition": first.partition, "outcome": outcome}
    context = _current.get()
    if context is not None:  # on the record itself, so a handler formatting it later has it too
        fields["trace_id"], fields["span_id"] = context.trace_id, context.span_id
    fields["duration_ms"] = round(seconds * 1000, 3)
    if batch:
        fields.update(records=len(records), first_offset=first.offset, last_offset=records[-1].offset)
        events_log.log(level, "handled a batch of %d records", len(records), extra=fields)
        return
    fields["offset"] = first.offset
    fields["event_id"] = _text(headers.get("ce_id"))
    fields["event_type"] = _text(headers.get("ce_type"))
    fields["article_id"] = _text(first.key) or _text(headers.get("ce_subject"))
    events_log.log(level, "handled %s", fields["event_type"] or first.topic, extra=fields)
