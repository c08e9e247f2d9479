"""Settings shared by every service; each service's own `Settings` extends these."""

from typing import Literal

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
    shutdown_timeout_s: float = Field(
        default=20.0,
        gt=0,
        description=(
            "Longest a stop (SIGTERM) may take: a quarter for HTTP requests in flight, half for the "
            "records in hand to finish and their offsets to be committed, then the process exits."
        ),
    )
    log_format: Literal["json", "text"] = Field(
        default="json", description="json: one JSON object a line (with trace ids); text: for people."
    )
    log_level: str = Field(default="INFO", description="Level of the service's logs.")
    otel_enabled: bool = Field(
        default=False,
        description=(
            "Export spans (one per handled event and HTTP request) over OTLP/HTTP, to "
            "OTEL_EXPORTER_OTLP_ENDPOINT; needs the chassis' `otel` extra."
        ),
    )
