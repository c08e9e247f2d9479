from newsflow_chassis.settings import KafkaSettings
from pydantic import Field

from .domain.dedup import DEFAULT_MIN_WORDS, DEFAULT_NEAR_THRESHOLD


class Settings(KafkaSettings):
    """Ingest configuration, read from NEWSFLOW_* environment variables."""

    http_host: str = Field(default="127.0.0.1", description="Address the HTTP API binds to.")
    ingest_port: int = Field(default=8001, description="Port of the ingest HTTP API.")
    mongo_url: str = Field(default="mongodb://127.0.0.1:27017", description="MongoDB / FerretDB URL.")
    ingest_db: str = Field(default="newsflow_ingest", description="Ingest's own database.")
    max_body_bytes: int = Field(default=2_000_000, ge=1024, description="Largest accepted request.")
    event_source: str = Field(default="/newsflow/ingest", description="CloudEvents source.")
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", description="Redis, for the rate limit.")
    rate_limit_per_second: int = Field(
        default=200, ge=1, description="Requests a source may make per second (all replicas together)."
    )
    submissions_group: str = Field(
        default="newsflow-ingest-submissions", description="Consumer group of the submissions topic."
    )
    embargo_tick_s: float = Field(default=1.0, gt=0, description="How often held versions are checked.")
    dedup_enabled: bool = Field(
        default=True,
        description="Judge each new article against earlier ones from every source; a duplicate is "
        "recorded (its event says of which article), not published.",
    )
    dedup_near_threshold: float = Field(
        default=DEFAULT_NEAR_THRESHOLD,
        ge=0.5,
        le=1,
        description="Estimated Jaccard similarity of the bodies' 3-word shingles from which an article is "
        "a near duplicate (the LSH bands are tuned for 0.5 and up; see bench/dedup_eval.py).",
    )
    dedup_min_words: int = Field(
        default=DEFAULT_MIN_WORDS, ge=1, description="Bodies with fewer words are never judged duplicates."
    )
    feeds_enabled: bool = Field(default=True, description="Poll the configured wire feeds in this process.")
    feeds_tick_s: float = Field(default=5.0, gt=0, description="How often due feeds are looked for.")
    feeds_concurrency: int = Field(default=8, ge=1, description="Feeds polled at the same time, at most.")
    feed_timeout_s: float = Field(default=20.0, gt=0, description="Longest a feed's fetch may take.")
    feed_backoff_max_s: float = Field(
        default=3600.0, gt=0, description="Longest wait before a failing feed is polled again."
    )
    feed_max_bytes: int = Field(default=10_000_000, ge=1024, description="Largest feed document read.")
