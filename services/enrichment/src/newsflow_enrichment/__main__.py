"""`newsflow-enrichment serve` runs the enrichment consumer."""

import argparse

import uvicorn

from .settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="newsflow-enrichment", description=__doc__)
    parser.add_argument("command", choices=["serve"])
    parser.parse_args()
    settings = Settings()
    uvicorn.run(
        "newsflow_enrichment.app:create_app",
        factory=True,
        host=settings.http_host,
        port=settings.enrichment_port,
        log_level="info",
    )


if __name__ == "__main__":
    main()
