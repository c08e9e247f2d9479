from newsflow_chassis.settings import KafkaSettings
from pydantic import Field


class Settings(KafkaSettings):
    """Enrichment configuration, read from NEWSFLOW_* environment variables."""

    http_host: str = Field(default="127.0.0.1", description="Address the health endpoint binds to.")
    enrichment_port: int = Field(default=8003, description="Port of the health endpoint.")
    enrichment_group: str = Field(default="newsflow-enrichment", description="Consumer group id.")
    event_source: str = Field(default="/newsflow/enrichment", description="CloudEvents source.")
    enrichment_languages: str = Field(
        default="en,fr,de,es,it,nl,pt",
        description="ISO 639-1 codes, comma-separated: the languages the detector chooses among.",
    )

    @property
    def languages(self) -> list[str]:
        return [code.strip() for code in self.enrichment_languages.split(",") if code.strip()]
