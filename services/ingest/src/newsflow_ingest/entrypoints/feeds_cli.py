"""`newsflow-ingest feeds add|list|remove|poll`: the operator's commands for wire feeds."""

import argparse
import sys
from types import SimpleNamespace
from typing import Any

from ..adapters.feed_sources import MongoFeedStore
from ..adapters.heads import MongoHeadStore
from ..app import create_app, deduplicator, mongo_client
from ..domain.feed_polls import FORMATS, FeedConfig
from ..settings import Settings
from .feed_status import status_of
from .feeds import PollResult, polling


def add_parser(commands: Any) -> None:
    feeds = commands.add_parser("feeds", help="wire feeds polled for articles")
    feed_commands = feeds.add_subparsers(dest="feeds_command", required=True)
    add = feed_commands.add_parser("add", help="add a feed, or replace the one with that name")
    add.add_argument("--name", required=True, help="lower-case id, e.g. 'agency-sport'")
    add.add_argument("--source", required=True, help="the publisher source its items are submitted as")
    add.add_argument("--url", required=True, help="http(s) URL of the feed")
    add.add_argument("--format", choices=FORMATS, default="auto")
    add.add_argument("--interval", type=float, default=300.0, help="seconds between polls (default 300)")
    add.add_argument("--disabled", action="store_true", help="configure it without polling it yet")
    feed_commands.add_parser("list", help="list feeds and the state of their polls")
    remove = feed_commands.add_parser("remove", help="remove a feed (its articles stay)")
    remove.add_argument("name")
    poll = feed_commands.add_parser("poll", help="poll a feed once now and print what happened")
    poll.add_argument("name")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    mongo = mongo_client(settings)
    store = MongoFeedStore(mongo, settings.ingest_db)
    try:
        if args.feeds_command == "add":
            try:
                config = FeedConfig(
                    name=args.name,
                    source=args.source,
                    url=args.url,
                    format=args.format,
                    interval_s=args.interval,
                    enabled=not args.disabled,
                )
            except ValueError as error:
                print(f"invalid feed: {error}", file=sys.stderr)
                return 2
            await store.save_config(config)
            print(f"saved feed {config.name}: {config.url} as source {config.source}")
        elif args.feeds_command == "list":
            for feed in await store.all():
                config, state = feed.config, feed.state
                next_poll = state.next_poll_at.isoformat() if state.next_poll_at else "now"
                print(
                    f"{config.name:<20} {config.source:<16} {config.format:<8} {config.interval_s:>6g}s "
                    f"{status_of(feed):<9} failures={state.consecutive_failures} next={next_poll} "
                    f"{config.url}"
                )
        elif args.feeds_command == "remove":
            if not await store.remove(args.name):
                print(f"no feed {args.name}", file=sys.stderr)
                return 1
            print(f"removed {args.name}")
        elif args.feeds_command == "poll":
            app = create_app(settings)
            adapters = SimpleNamespace(
                feeds=store,
                heads=MongoHeadStore(mongo, settings.ingest_db),
                publish_ingested=app.state.publish_ingested,
                dedup=deduplicator(mongo, settings),
            )
            one_shot = settings.model_copy(update={"feeds_enabled": False})
            # `async with broker` connects the producer only: a one-shot command consumes nothing
            async with app.state.broker, polling(adapters, one_shot) as poller:
                result = await poller.poll_now(args.name)
            if result is None:
                print(f"no feed {args.name}", file=sys.stderr)
                return 1
            _print(result)
            return 0 if result.outcome in ("ok", "not_modified") else 1
        return 0
    finally:
        await mongo.close()


def _print(result: PollResult) -> None:
    state = result.state
    counts = ", ".join(f"{outcome} {n}" for outcome, n in result.items.items())
    print(f"{result.feed}: {result.outcome}{f' ({counts})' if counts else ''}")
    if state.last_error:
        print(f"  error: {state.last_error}")
    for skipped in result.skipped:
        print(f"  skipped {skipped.item}: {skipped.reason}")
    print(f"  next poll at {state.next_poll_at.isoformat() if state.next_poll_at else 'now'}")
