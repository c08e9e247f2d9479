"""`newsflow-ingest serve` runs the API; `newsflow-ingest keys ...` manages publisher keys;
`newsflow-ingest feeds ...` manages wire feeds."""

import argparse
import asyncio
import sys

import uvicorn

from .adapters.keys import DEFAULT_SCOPES, SCOPES, MongoKeyStore
from .app import mongo_client
from .entrypoints import feeds_cli
from .settings import Settings


async def _keys(args: argparse.Namespace, settings: Settings) -> int:
    mongo = mongo_client(settings)
    store = MongoKeyStore(mongo, settings.ingest_db)
    try:
        await store.create_indexes()
        if args.keys_command == "create":
            key_id, key = await store.create(source=args.source, scopes=tuple(args.scope or DEFAULT_SCOPES))
            print(f"key id: {key_id}\nsource: {args.source}\nkey:    {key}\n(shown once; store it now)")
        elif args.keys_command == "list":
            for doc in await store.list():
                state = "revoked" if doc.get("revoked_at") else "active"
                print(f"{doc['_id']}  {doc['source']:<20} {','.join(doc['scopes']):<16} {state}")
        elif args.keys_command == "revoke":
            if not await store.revoke(args.key_id):
                print(f"no active key {args.key_id}", file=sys.stderr)
                return 1
            print(f"revoked {args.key_id}")
        return 0
    finally:
        await mongo.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="newsflow-ingest", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--workers", type=int, default=1)
    keys = commands.add_parser("keys", help="publisher API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", help="create a key for a source (shown once)")
    create.add_argument("--source", required=True, help="the newsroom system, e.g. 'cms-main'")
    create.add_argument(
        "--scope", action="append", choices=SCOPES, help="repeatable; default: publish and retract"
    )
    key_commands.add_parser("list", help="list keys (never the keys themselves)")
    revoke = key_commands.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id")
    feeds_cli.add_parser(commands)
    args = parser.parse_args()
    settings = Settings()
    if args.command == "serve":
        uvicorn.run(
            "newsflow_ingest.app:create_app",
            factory=True,
            host=settings.http_host,
            port=settings.ingest_port,
            workers=args.workers,
            log_level="info",
        )
    elif args.command == "feeds":
        sys.exit(asyncio.run(feeds_cli.run(args, settings)))
    else:
        sys.exit(asyncio.run(_keys(args, settings)))


if __name__ == "__main__":
    main()
