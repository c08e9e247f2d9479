"""Write the services' OpenAPI and AsyncAPI documents into docs/ (`make docs`), or with
--check fail when the committed ones are stale (run in CI)."""

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import FastAPI
from newsflow_chassis.apidocs import asyncapi, openapi, render
from newsflow_enrichment.app import create_app as enrichment_app
from newsflow_ingest.app import create_app as ingest_app
from newsflow_publication.app import create_app as publication_app

DOCS = Path(__file__).resolve().parent
SERVICES: dict[str, Callable[[], FastAPI]] = {
    "ingest": ingest_app,
    "enrichment": enrichment_app,
    "publication": publication_app,
}


@contextmanager
def default_settings() -> Iterator[None]:
    """Documents describe the defaults, not whatever this shell's NEWSFLOW_* variables say."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("NEWSFLOW_")}
    for name in saved:
        del os.environ[name]
    try:
        yield
    finally:
        os.environ.update(saved)


def documents() -> dict[Path, str]:
    generated: dict[Path, str] = {}
    with default_settings():
        for name, create_app in SERVICES.items():
            app = create_app()
            generated[DOCS / "openapi" / f"{name}.json"] = render(openapi(app))
            generated[DOCS / "asyncapi" / f"{name}.json"] = render(asyncapi(app))
    return generated


def stale(generated: dict[Path, str]) -> list[Path]:
    return [path for path, text in generated.items() if not path.exists() or path.read_text() != text]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when stale")
    args = parser.parse_args()
    generated = documents()
    outdated = stale(generated)
    if args.check:
        for path in outdated:
            print(f"stale: {path.relative_to(DOCS.parent)} (run `make docs`)", file=sys.stderr)
        return 1 if outdated else 0
    for path in outdated:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(generated[path])
        print(f"wrote {path.relative_to(DOCS.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
