from typing import Literal

from newsflow_chassis.settings import KafkaSettings
from pydantic import Field


class Settings(KafkaSettings):
    """Publication configuration, read from NEWSFLOW_* environment variables."""

    http_host: str = Field(default="127.0.0.1", description="Address the read API binds to.")
    publication_port: int = Field(default=8002, description="Port of the read API.")
    mongo_url: str = Field(default="mongodb://127.0.0.1:27017", description="MongoDB / FerretDB URL.")
    publication_db: str = Field(default="newsflow_publication", description="The read model database.")
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", description="Redis for counters and lists.")
    publication_group: str = Field(default="newsflow-publication", description="Consumer group id.")
    event_source: str = Field(default="/newsflow/publication", description="CloudEvents source.")
    access_log: bool = Field(
        default=True, description="Log every HTTP request; turn off when a proxy in front logs them."
    )
    site_title: str = Field(default="newsflow", description="Title of the site in feeds.")
    site_url: str = Field(
        default="http://127.0.0.1:8002",
        description="The site's home; article links without a canonical URL go below it.",
    )
    webhooks_enabled: bool = Field(
        default=True, description="Turn subscriptions' events into deliveries and send them, in this process."
    )
    webhook_group: str = Field(
        default="newsflow-publication-webhooks", description="Consumer group of the webhook deliveries."
    )
    webhooks_allow_http_localhost: bool = Field(
        default=False, description="Development only: let webhooks go to localhost, over plain http too."
    )
    webhook_max_attempts: int = Field(default=8, ge=1, description="Attempts before a delivery is dead.")
    webhook_backoff_base_s: float = Field(
        default=15.0, gt=0, description="Wait after a first failed attempt."
    )
    webhook_backoff_factor: float = Field(
        default=4.0, ge=1, description="Each later wait is this many times longer (plus up to 25% jitter)."
    )
    webhook_backoff_max_s: float = Field(default=21600.0, gt=0, description="Longest wait between attempts.")
    webhook_timeout_s: float = Field(
        default=10.0, gt=0, description="Longest a subscriber may take to answer."
    )
    webhook_concurrency: int = Field(default=16, ge=1, description="Attempts in flight at once, at most.")
    webhook_subscription_concurrency: int = Field(
        default=4, ge=1, description="Attempts in flight to one subscription at once, at most."
    )
    webhook_tick_s: float = Field(default=1.0, gt=0, description="How often due deliveries are looked for.")
    views_allowed_origins: str = Field(
        default="*", description="Origins allowed to call POST /v1/views from a browser, comma separated."
    )
    views_visitor_secret: str = Field(
        default="",
        description=(
            "Key of the visitor hash (same on every replica); empty: a random key per process, "
            "so visitors are counted per process."
        ),
    )
    popular_enabled: bool = Field(default=True, description="Count page views for Popular, in this process.")
    popular_group: str = Field(
        default="newsflow-publication-popular", description="Consumer group counting page views."
    )
    popular_prefix: str = Field(default="newsflow:pop", description="Prefix of Popular's Redis keys.")
    popular_batch_max: int = Field(default=5000, ge=1, description="Most page views counted in one batch.")
    popular_batch_timeout_ms: int = Field(
        default=100, ge=1, description="Longest wait for a batch of page views to fill."
    )
    popular_dedup_ttl_s: int = Field(
        default=3600, ge=1, description="How long a view id is remembered, so that a resent view counts once."
    )
    popular_cache_s: float = Field(default=2.0, gt=0, description="How long a computed Popular list is kept.")
    changes_channel: str = Field(
        default="newsflow:changes",
        description=(
            "Redis pub/sub channel on which changes to articles and lists are announced, so that "
            "every read API process drops what it keeps of them."
        ),
    )
    related_enabled: bool = Field(
        default=False,
        description=(
            "Also run the Related indexer in the read API's process (`serve`), for a single-process "
            "development setup; deployments run it as a process of its own (`newsflow-publication "
            "related`), one per deployment."
        ),
    )
    related_port: int = Field(
        default=8005,
        description="Port of the Related indexer's process (`related`): health and metrics only.",
    )
    related_prefix: str = Field(
        default="newsflow:related", description="Prefix of the Related lists' Redis keys."
    )
    related_max_articles: int = Field(
        default=2000,
        ge=10,
        description=(
            "Newest articles the Related index holds (about 12 KB of memory each); older ones "
            "leave it and the lists."
        ),
    )
    related_refresh_per_s: float = Field(
        default=5.0,
        gt=0,
        description="Related lists recomputed a second at most, in the background (each takes a few ms).",
    )
    related_start: Literal["start", "end"] = Field(
        default="start",
        description="Where the Related indexer starts reading the published topic: its start, or its end.",
    )
