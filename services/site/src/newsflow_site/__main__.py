"""`newsflow-site serve` runs the reader site (section fronts and article pages, from the
public read API; `NEWSFLOW_SITE_*` settings)."""

import argparse

import uvicorn
from newsflow_chassis import telemetry

from .settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="newsflow-site", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the reader site")
    parser.parse_args()
    settings = Settings()
    uvicorn.run(
        "newsflow_site.app:create_app",
        factory=True,
        host=settings.http_host,
        port=settings.site_port,
        log_config=telemetry.log_config(format=settings.log_format, level=settings.log_level),
        timeout_graceful_shutdown=max(1, round(settings.shutdown_timeout_s / 4)),
        access_log=settings.access_log,
    )


if __name__ == "__main__":
    main()
