"""Settings shared by every service; each service's own `Settings` extends these."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSFLOW_", extra="ignore")

    kafka_bootstrap: str = Field(
        default="127.0.0.1:9092", description="Kafka bootstrap servers, comma separated."
    )
    kafka_topic_replication: int = Field(
        default=1, ge=1, description="Replication factor for topics this service creates."
    )
    retry_backoff_max_s: float = Field(
        default=10.0, gt=0, description="Longest wait between retries of an infrastructure error."
    )
    poison_attempts: int = Field(
        default=3,
        ge=1,
        description="Attempts before a record failing with an unexpected error is dead-lettered.",
    )
