"""`newsflow-publication serve` runs the consumer, the read API and the webhook deliveries;
`newsflow-publication related` runs the Related indexer, once per deployment, in a process of
its own; `newsflow-publication keys ...` manages API keys; `newsflow-publication webhooks ...`
lists subscriptions and dead deliveries, and re-drives them; `newsflow-publication replay`
rebuilds the read model from the article topics and `newsflow-publication generations ...`
manages the rebuilt generations; `newsflow-publication popular rebuild` counts the page views
again into a fresh Redis prefix."""

import argparse
import asyncio
import sys

from newsflow_chassis import operations

from .settings import Settings

RELATED_HELP = "run the Related indexer (health and metrics on NEWSFLOW_RELATED_PORT); one per deployment"


def related(argv: list[str]) -> None:
    """Parsed apart, before the other commands' modules are imported: the indexer's process
    imports only what it runs (`related_app.py`)."""
    argparse.ArgumentParser(prog="newsflow-publication related", description=RELATED_HELP).parse_args(argv)
    settings = Settings()
    _serve("newsflow_publication.related_app:create_app", settings, port=settings.related_port)


def _serve(factory: str, settings: Settings, *, port: int, workers: int = 1) -> None:
    operations.serve(
        factory, settings, host=settings.http_host, port=port, workers=workers, access_log=settings.access_log
    )


def main() -> None:
    if sys.argv[1:2] == ["related"]:
        related(sys.argv[2:])
        return
    from .entrypoints import popular_rebuild, replay, webhooks_cli

    parser = argparse.ArgumentParser(prog="newsflow-publication", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the consumers, the read API and the webhook worker")
    serve.add_argument("--workers", type=int, default=1)
    commands.add_parser("related", help=RELATED_HELP)
    webhooks_cli.add_parsers(commands)
    replay.add_parsers(commands)
    popular_rebuild.add_parsers(commands)
    args = parser.parse_args()
    settings = Settings()
    if args.command == "keys":
        sys.exit(asyncio.run(webhooks_cli.keys(args, settings)))
    if args.command == "webhooks":
        sys.exit(asyncio.run(webhooks_cli.webhooks(args, settings)))
    if args.command == "popular":
        sys.exit(asyncio.run(popular_rebuild.command(args, settings)))
    if args.command in ("replay", "generations"):
        sys.exit(asyncio.run(replay.command(args, settings)))
    _serve(
        "newsflow_publication.app:create_app", settings, port=settings.publication_port, workers=args.workers
    )


if __name__ == "__main__":
    main()
