"""Encode and decode CloudEvents attributes as Kafka record headers (binary content mode)."""

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from newsflow_contracts import cloudevents as ce
from newsflow_contracts.events import Event

from .delivery import PoisonRecord

EVENT_ID_NAMESPACE = uuid.UUID("6f1b8a52-3c55-4b7e-9a34-0b1d4c2e9f10")


def derived_event_id(event_type: str, *parts: object) -> str:
    """A deterministic event id: reprocessing the same cause yields the same `ce_id`,
    so a consumer can drop a redelivered duplicate."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, "/".join([event_type, *map(str, parts)])))


def attributes_for(
    event: Event,
    *,
    event_id: str,
    source: str,
    subject: str,
    time: datetime | None = None,
    traceparent: str | None = None,
) -> ce.EventAttributes:
    return ce.EventAttributes(
        id=event_id,
        type=event.event_type,
        source=source,
        time=time or datetime.now(UTC),
        subject=subject,
        traceparent=traceparent,
    )


def to_headers(attributes: ce.EventAttributes) -> dict[str, str]:
    headers = {
        ce.HEADER_ID: attributes.id,
        ce.HEADER_TYPE: attributes.type,
        ce.HEADER_SOURCE: attributes.source,
        ce.HEADER_TIME: attributes.time.isoformat().replace("+00:00", "Z"),
        ce.HEADER_SPECVERSION: attributes.specversion,
        ce.HEADER_CONTENT_TYPE: ce.CONTENT_TYPE,
    }
    if attributes.subject is not None:
        headers[ce.HEADER_SUBJECT] = attributes.subject
    if attributes.traceparent is not None:
        headers[ce.HEADER_TRACEPARENT] = attributes.traceparent
    return headers


def from_headers(headers: Mapping[str, str | bytes]) -> ce.EventAttributes:
    """Raises `PoisonRecord` when a required attribute is missing: retrying cannot help."""

    def text(name: str) -> str | None:
        value = headers.get(name)
        return value.decode() if isinstance(value, bytes) else value

    missing = [h for h in (ce.HEADER_ID, ce.HEADER_TYPE, ce.HEADER_SOURCE) if not text(h)]
    if missing:
        raise PoisonRecord(f"missing CloudEvents headers: {', '.join(missing)}")
    return ce.EventAttributes(
        id=text(ce.HEADER_ID) or "",
        type=text(ce.HEADER_TYPE) or "",
        source=text(ce.HEADER_SOURCE) or "",
        time=text(ce.HEADER_TIME) or datetime.now(UTC),
        subject=text(ce.HEADER_SUBJECT),
        traceparent=text(ce.HEADER_TRACEPARENT),
        specversion=text(ce.HEADER_SPECVERSION) or ce.SPEC_VERSION,
    )
