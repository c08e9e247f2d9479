"""A configured feed and its poll state: when it is due, and what a poll's success or
failure does to the state. Pure."""

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

from .feed_items import Skipped

FORMATS = ("auto", "rss", "atom", "jsonfeed", "ninjs")
FEED_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
MIN_INTERVAL_S = 1.0
MAX_SKIPPED_KEPT = 20

PollOutcome = Literal["ok", "not_modified", "fetch_failed", "invalid_feed", "unavailable", "error"]


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """A feed an operator configured: its items are submitted as `source`'s articles."""

    name: str
    source: str
    url: str
    format: str = "auto"
    interval_s: float = 300.0
    enabled: bool = True

    def __post_init__(self) -> None:
        if not FEED_NAME.match(self.name):
            raise ValueError("name: lower-case letters, digits, '.', '_' or '-', at most 100")
        if not self.source.strip():
            raise ValueError("source: required")
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("url: an absolute http(s) URL")
        if self.format not in FORMATS:
            raise ValueError(f"format: one of {', '.join(FORMATS)}")
        if self.interval_s < MIN_INTERVAL_S:
            raise ValueError(f"interval_s: at least {MIN_INTERVAL_S}")


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the poller remembers of a feed; `next_poll_at` None means due now."""

    etag: str | None = None
    last_modified: str | None = None
    last_polled_at: datetime | None = None
    last_success_at: datetime | None = None
    consecutive_failures: int = 0
    next_poll_at: datetime | None = None
    last_outcome: PollOutcome | None = None
    last_error: str | None = None
    items_seen: int = 0  # items in the last document read
    last_items: dict[str, int] = field(default_factory=dict)  # item outcome -> count, last read
    last_skipped: list[Skipped] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Feed:
    config: FeedConfig
    state: FeedState

    def due(self, now: datetime) -> bool:
        next_poll_at = self.state.next_poll_at
        return self.config.enabled and (next_poll_at is None or next_poll_at <= now)


def retry_delay_s(interval_s: float, failures: int, cap_s: float) -> float:
    """After `failures` failed polls in a row: the interval doubled per failure, capped at
    `cap_s` but never shorter than the interval itself."""
    return max(interval_s, min(cap_s, interval_s * 2.0 ** min(failures, 32)))


def read(
    state: FeedState,
    *,
    now: datetime,
    interval_s: float,
    etag: str | None,
    last_modified: str | None,
    items_seen: int,
    items: dict[str, int],
    skipped: list[Skipped],
) -> FeedState:
    """A document was read and every item handled: remember its validators."""
    return replace(
        _succeeded(state, now=now, interval_s=interval_s, outcome="ok"),
        etag=etag,
        last_modified=last_modified,
        items_seen=items_seen,
        last_items=items,
        last_skipped=skipped[:MAX_SKIPPED_KEPT],
    )


def not_modified(
    state: FeedState, *, now: datetime, interval_s: float, etag: str | None, last_modified: str | None
) -> FeedState:
    """304: nothing new; a server may send fresh validators with it."""
    return replace(
        _succeeded(state, now=now, interval_s=interval_s, outcome="not_modified"),
        etag=etag or state.etag,
        last_modified=last_modified or state.last_modified,
    )


def _succeeded(state: FeedState, *, now: datetime, interval_s: float, outcome: PollOutcome) -> FeedState:
    return replace(
        state,
        last_polled_at=now,
        last_success_at=now,
        consecutive_failures=0,
        next_poll_at=now + timedelta(seconds=interval_s),
        last_outcome=outcome,
        last_error=None,
    )


def failed(
    state: FeedState, *, now: datetime, interval_s: float, cap_s: float, outcome: PollOutcome, error: str
) -> FeedState:
    """The feed failed (HTTP error, timeout, not a feed): back off exponentially."""
    failures = state.consecutive_failures + 1
    return replace(
        state,
        last_polled_at=now,
        consecutive_failures=failures,
        next_poll_at=now + timedelta(seconds=retry_delay_s(interval_s, failures, cap_s)),
        last_outcome=outcome,
        last_error=error,
    )


def interrupted(state: FeedState, *, now: datetime, retry_s: float, error: str) -> FeedState:
    """Our side failed (MongoDB, Kafka): not the feed's fault, so no backoff and the
    validators stay as they were; the next poll reads the document again."""
    return replace(
        state,
        last_polled_at=now,
        next_poll_at=now + timedelta(seconds=retry_s),
        last_outcome="unavailable",
        last_error=error,
    )
