"""`newsflow-ingest serve` runs the API; `newsflow-ingest keys ...` manages publisher keys;
`newsflow-ingest feeds ...` manages wire feeds."""

import argparse
import asyncio
import sys

from newsflow_chassis import operations
from newsflow_chassis.api_keys_cli import add_key_parsers, run_key_command

from .adapters.keys import DEFAULT_SCOPES, SCOPES, MongoKeyStore
from .app import mongo_client
from .entrypoints import feeds_cli
from .settings import Settings


async def keys(args: argparse.Namespace, settings: Settings) -> int:
    mongo = mongo_client(settings)
    try:
        store = MongoKeyStore(mongo, settings.ingest_db)
        return await run_key_command(args, store, holder="source", default_scopes=DEFAULT_SCOPES)
    finally:
        await mongo.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="newsflow-ingest", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--workers", type=int, default=1)
    add_key_parsers(
        commands,
        holder="source",
        example="cms-main",
        scopes=SCOPES,
        default_scopes=DEFAULT_SCOPES,
        about="publisher API keys",
    )
    feeds_cli.add_parser(commands)
    args = parser.parse_args()
    settings = Settings()
    if args.command == "serve":
        operations.serve(
            "newsflow_ingest.app:create_app",
            settings,
            host=settings.http_host,
            port=settings.ingest_port,
            workers=args.workers,
        )
    elif args.command == "feeds":
        sys.exit(asyncio.run(feeds_cli.run(args, settings)))
    else:
        sys.exit(asyncio.run(keys(args, settings)))


if __name__ == "__main__":
    main()
