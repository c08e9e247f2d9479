"""`newsflow-publication serve` runs the consumer and the read API."""

import argparse

import uvicorn

from .settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="newsflow-publication", description=__doc__)
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    settings = Settings()
    uvicorn.run(
        "newsflow_publication.app:create_app",
        factory=True,
        host=settings.http_host,
        port=settings.publication_port,
        workers=args.workers,
        log_level="info",
    )


if __name__ == "__main__":
    main()
