"""`newsflow-publication keys create|list|revoke` (API keys for subscribers and operators) and
`newsflow-publication webhooks list|dead|redrive`: the operator's commands."""

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from newsflow_chassis.api_keys_cli import add_key_parsers, run_key_command
from pymongo import AsyncMongoClient

from ..adapters.deliveries import MongoDeliveryStore, NotDead, UnknownDelivery
from ..adapters.keys import SCOPES, MongoKeyStore
from ..adapters.subscriptions import MongoSubscriptionStore
from ..settings import Settings


def add_parsers(commands: Any) -> None:
    add_key_parsers(
        commands,
        holder="owner",
        example="partner-site",
        scopes=SCOPES,
        default_scopes=SCOPES,
        about="API keys for webhook subscribers and operators",
    )

    webhooks = commands.add_parser("webhooks", help="webhook subscriptions and dead deliveries")
    webhook_commands = webhooks.add_subparsers(dest="webhooks_command", required=True)
    webhook_commands.add_parser("list", help="every subscription, of every owner")
    webhook_commands.add_parser("dead", help="dead deliveries, oldest first")
    redrive = webhook_commands.add_parser("redrive", help="send dead deliveries again, due now")
    chosen = redrive.add_mutually_exclusive_group(required=True)
    chosen.add_argument("delivery_id", nargs="*", default=[], help="delivery ids (from `webhooks dead`)")
    chosen.add_argument("--all-dead", action="store_true", help="every dead delivery")


def _client(settings: Settings) -> AsyncMongoClient[dict[str, Any]]:
    return AsyncMongoClient(settings.mongo_url, serverSelectionTimeoutMS=5000, tz_aware=True)


async def keys(args: argparse.Namespace, settings: Settings) -> int:
    mongo = _client(settings)
    try:
        store = MongoKeyStore(mongo, settings.publication_db)
        return await run_key_command(args, store, holder="owner", default_scopes=SCOPES)
    finally:
        await mongo.close()


async def webhooks(args: argparse.Namespace, settings: Settings) -> int:
    mongo = _client(settings)
    deliveries = MongoDeliveryStore(mongo, settings.publication_db)
    try:
        if args.webhooks_command == "list":
            for s in await MongoSubscriptionStore(mongo, settings.publication_db).all():
                print(f"{s.id}  {s.owner:<20} {','.join(s.event_types)}  {s.url}  {s.description}")
        elif args.webhooks_command == "dead":
            for d in await deliveries.dead():
                since = d.dead_at.isoformat()
                print(f"{d.id}  {d.owner:<20} dead since {since}  {d.attempts} attempts  {d.last_error}")
        elif args.webhooks_command == "redrive":
            ids = [d.id for d in await deliveries.dead()] if args.all_dead else args.delivery_id
            failed = 0
            for delivery_id in ids:
                try:
                    delivery = await deliveries.redrive(delivery_id, now=datetime.now(UTC))
                except UnknownDelivery:
                    print(f"no delivery {delivery_id}", file=sys.stderr)
                    failed += 1
                except NotDead as error:
                    print(f"{delivery_id}: {error}", file=sys.stderr)
                    failed += 1
                else:
                    print(f"re-driven {delivery.id} (round {delivery.round}), due now")
            return 1 if failed else 0
        return 0
    finally:
        await mongo.close()
