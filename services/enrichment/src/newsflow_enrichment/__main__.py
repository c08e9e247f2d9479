"""`newsflow-enrichment serve` runs the enrichment consumer; `newsflow-enrichment replay`
moves its consumer group back so that ingested articles are enriched again (e.g. by a new
enricher version) at the next start."""

import argparse
import asyncio
import sys

from newsflow_chassis import operations

from .entrypoints import replay
from .settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="newsflow-enrichment", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the consumer (and the health endpoint)")
    replay.add_parser(commands)
    args = parser.parse_args()
    settings = Settings()
    if args.command == "replay":
        group = args.group or settings.enrichment_group
        try:
            offsets = asyncio.run(replay.replay(settings, group=group, since=args.since))
        except Exception as error:
            print(f"replay failed: {type(error).__name__}: {error}", file=sys.stderr)
            print("is an enrichment process of this group still running? stop it first", file=sys.stderr)
            sys.exit(1)
        moved = ", ".join(f"{p}:{o}" for p, o in sorted(offsets.items()))
        print(f"group {group} will read news.article.ingested.v1 from partition:offset {moved}")
        return
    operations.serve(
        "newsflow_enrichment.app:create_app", settings, host=settings.http_host, port=settings.enrichment_port
    )


if __name__ == "__main__":
    main()
