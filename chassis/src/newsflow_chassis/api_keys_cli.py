"""The `keys create|list|revoke` operator commands every service with API keys offers."""

import argparse
import sys
from typing import Any

from .api_keys import MongoApiKeys


def add_key_parsers(
    commands: Any,
    *,
    holder: str,
    example: str,
    scopes: tuple[str, ...],
    default_scopes: tuple[str, ...],
    about: str,
    name: str = "keys",
) -> None:
    keys = commands.add_parser(name, help=about)
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", help=f"create a key for a {holder} (shown once)")
    create.add_argument(f"--{holder}", required=True, help=f"who holds the key, e.g. {example!r}")
    create.add_argument(
        "--scope", action="append", choices=scopes, help=f"repeatable; default: {', '.join(default_scopes)}"
    )
    key_commands.add_parser("list", help="list keys (never the keys themselves)")
    revoke = key_commands.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id")


async def run_key_command(
    args: argparse.Namespace, store: MongoApiKeys[Any], *, holder: str, default_scopes: tuple[str, ...]
) -> int:
    if args.keys_command == "create":
        who = getattr(args, holder)
        key_id, key = await store.create_for(who, tuple(args.scope or default_scopes))
        print(f"key id: {key_id}\n{holder + ':':<7} {who}\nkey:    {key}\n(shown once; store it now)")
    elif args.keys_command == "list":
        for doc in await store.list():
            state = "revoked" if doc.get("revoked_at") else "active"
            print(f"{doc['_id']}  {doc[store.holder_field]:<20} {','.join(doc['scopes']):<16} {state}")
    elif args.keys_command == "revoke":
        if not await store.revoke(args.key_id):
            print(f"no active key {args.key_id}", file=sys.stderr)
            return 1
        print(f"revoked {args.key_id}")
    return 0
