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
