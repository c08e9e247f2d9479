from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Reader site configuration, read from NEWSFLOW_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="NEWSFLOW_", extra="ignore")

    http_host: str = Field(default="127.0.0.1", description="Address the site binds to.")
    site_port: int = Field(default=8004, description="Port of the reader site.")
    site_api_url: str = Field(
        default="http://127.0.0.1:8002", description="The public read API (publication) the site reads."
    )
    site_beacon_url: str = Field(
        default="",
        description="The read API as browsers reach it, for the page-view beacon; empty: site_api_url.",
    )
    site_name: str = Field(default="newsflow", description="The site's name, in titles and page views.")
    site_api_timeout_s: float = Field(default=5.0, gt=0, description="Longest wait for the read API.")
    site_simulated_readers: int = Field(
        default=0,
        ge=0,
        description="Simulated page views a minute, posted to the beacon (a demo readership); 0: none.",
    )
    access_log: bool = Field(default=True, description="Log every HTTP request.")
    shutdown_timeout_s: float = Field(default=20.0, gt=0, description="Longest a stop (SIGTERM) may take.")
    log_format: Literal["json", "text"] = Field(default="json", description="json, or text for people.")
    log_level: str = Field(default="INFO", description="Level of the site's logs.")

    @property
    def beacon_url(self) -> str:
        return (self.site_beacon_url or self.site_api_url).rstrip("/") + "/v1/views"
