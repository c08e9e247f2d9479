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
    site_title: str = Field(default="newsflow", description="Title of the site in feeds.")
    site_url: str = Field(
        default="http://127.0.0.1:8002",
        description="The site's home; article links without a canonical URL go below it.",
    )
