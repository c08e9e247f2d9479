"""CloudEvents 1.0 in Kafka binary content mode: attributes travel as `ce_*` headers,
the JSON event data is the record value and the article id is the record key."""

from datetime import datetime
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

SPEC_VERSION: Final = "1.0"
CONTENT_TYPE: Final = "application/json"

HEADER_ID: Final = "ce_id"
HEADER_TYPE: Final = "ce_type"
HEADER_SOURCE: Final = "ce_source"
HEADER_TIME: Final = "ce_time"
HEADER_SPECVERSION: Final = "ce_specversion"
HEADER_SUBJECT: Final = "ce_subject"
HEADER_CONTENT_TYPE: Final = "content-type"
HEADER_TRACEPARENT: Final = "ce_traceparent"
"""The CloudEvents distributed tracing extension attribute `traceparent` (W3C Trace Context)."""


class EventAttributes(BaseModel):
    """The CloudEvents context attributes of one event."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="Unique per event; a redelivered record carries the same id.")
    type: str = Field(description="Event type with its schema version, e.g. news.article.published.v1")
    source: str = Field(description="URI reference of the producing service, e.g. /newsflow/ingest")
    time: datetime = Field(description="When the event happened (UTC).")
    subject: str | None = Field(default=None, description="The article id the event is about.")
    traceparent: str | None = Field(
        default=None,
        description="W3C trace context of the work that produced the event (distributed tracing "
        "extension); ingest starts the trace, each service continues it.",
    )
    specversion: str = SPEC_VERSION
