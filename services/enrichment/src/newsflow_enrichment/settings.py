from newsflow_chassis.settings import KafkaSettings
from pydantic import Field


class Settings(KafkaSettings):
    """Enrichment configuration, read from NEWSFLOW_* environment variables."""

    http_host: str = Field(default="127.0.0.1", description="Address the health endpoint binds to.")
    enrichment_port: int = Field(default=8003, description="Port of the health endpoint.")
    enrichment_group: str = Field(default="newsflow-enrichment", description="Consumer group id.")
    event_source: str = Field(default="/newsflow/enrichment", description="CloudEvents source.")
