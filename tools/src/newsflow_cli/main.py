"""The `newsflow` command: parsing, help and dispatch. Each command hands its work to the code
that owns it; this module only wires them under one name."""

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from aiokafka.errors import KafkaError
from newsflow_chassis import dead_letters_cli
from newsflow_chassis.api_keys_cli import add_key_parsers
from newsflow_chassis.kafka import ensure_topics
from newsflow_chassis.settings import KafkaSettings
from newsflow_contracts.topics import topics_with_dead_letters
from newsflow_enrichment.settings import Settings as EnrichmentSettings
from newsflow_ingest.__main__ import keys as ingest_keys
from newsflow_ingest.adapters.keys import DEFAULT_SCOPES as INGEST_DEFAULT_SCOPES
from newsflow_ingest.adapters.keys import SCOPES as INGEST_SCOPES
from newsflow_ingest.entrypoints import feeds_cli
from newsflow_ingest.settings import Settings as IngestSettings
from newsflow_publication.adapters.generations import GenerationStore
from newsflow_publication.entrypoints import popular_rebuild, replay, webhooks_cli
from newsflow_publication.settings import Settings as PublicationSettings
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from . import offsets, stack, stats

PROG = "newsflow"
Handler = Callable[[argparse.Namespace], int]

DESCRIPTION = """\
newsflow's operator command line: the local stack and services, Kafka topics and consumer
lag, dead letters, replay of the read model, API keys, feeds, webhooks and a summary.
Addresses come from the NEWSFLOW_* environment, as the services read them (README,
Configuration); `newsflow COMMAND --help` explains each command."""

EPILOG = """\
examples:
  newsflow stack status                  Kafka, FerretDB, Redis: up or DOWN
  newsflow services up                   start ingest, enrichment, publication, Related, the reader site
  newsflow topics --create               the registry's topics; create the missing ones
  newsflow lag --max-lag 1000            consumer lag of every service's groups
  newsflow dlq list --limit 20           dead-lettered records and why they failed
  newsflow dlq redrive news.article.ingested.v1.dlq --offset 3 --dry-run
  newsflow replay                        rebuild publication's read model (progress bar)
  newsflow popular rebuild --prefix newsflow:pop2   count the page views again, to switch to
  newsflow sources create --source cms-main
  newsflow keys create --owner partner-site
  newsflow stats                         articles, lists, Popular, Related, records, dead letters

exit codes: 0 ok; 1 a problem found (a server down, a missing topic, lag over --max-lag,
a refusal or a failure); 2 usage."""


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def _explain(parser: argparse.ArgumentParser, description: str, *examples: str) -> argparse.ArgumentParser:
    parser.description = description
    parser.epilog = _examples(*examples) if examples else None
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


def _describe_nested(parser: argparse.ArgumentParser) -> None:
    """A subcommand without a description gets its one-line help as one, at every level."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                if sub.description is None and helps.get(name):
                    sub.description = helps[name]
                _describe_nested(sub)


# ---- handlers: each delegates to the code that owns the work


def _stack(args: argparse.Namespace) -> int:
    return stack.run([args.action])


def _services(args: argparse.Namespace) -> int:
    return stack.run(["services", args.action])


def _topics(args: argparse.Namespace) -> int:
    settings = KafkaSettings()
    registry = topics_with_dead_letters()

    async def work() -> list[offsets.TopicState]:
        if args.create:
            created = await ensure_topics(
                settings.kafka_bootstrap, registry, replication=settings.kafka_topic_replication
            )
            print(f"created {', '.join(created)}" if created else "created none: every topic exists")
        return await offsets.topic_states(settings.kafka_bootstrap, registry)

    states = asyncio.run(work())
    if args.json:
        for s in states:
            print(json.dumps({**asdict(s.topic), "actual_partitions": s.partitions, "end_offsets": s.ends}))
    else:
        print(offsets.topics_table(states))
    problems = [f"{s.topic.name}: {s.problem}" for s in states if s.problem]
    for problem in problems:
        print(problem, file=sys.stderr)
    if any(s.partitions is None for s in states):
        print("`newsflow topics --create` creates the missing topics", file=sys.stderr)
    return 1 if problems else 0


async def service_groups() -> list[str]:
    """The consumer groups of the three services, as their Settings name them; publication's
    article consumer by the read-model generation in use (g0 when MongoDB cannot tell)."""
    ingest, enrichment, publication = IngestSettings(), EnrichmentSettings(), PublicationSettings()
    articles = publication.publication_group
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        publication.mongo_url, serverSelectionTimeoutMS=3000
    )
    try:
        articles = (await GenerationStore(mongo, publication).current()).group
    except PyMongoError as error:
        print(
            f"current read-model generation unknown ({type(error).__name__}): using {articles}",
            file=sys.stderr,
        )
    finally:
        await mongo.close()
    return [
        ingest.submissions_group,
        enrichment.enrichment_group,
        articles,
        publication.webhook_group,
        publication.popular_group,
    ]


def _lag(args: argparse.Namespace) -> int:
    bootstrap = KafkaSettings().kafka_bootstrap

    async def work() -> dict[str, list[offsets.Lag]]:
        return await offsets.lags(bootstrap, args.group or await service_groups())

    found = asyncio.run(work())
    if args.json:
        for rows in found.values():
            for r in rows:
                print(json.dumps({**asdict(r), "lag": r.lag}))
    else:
        print(offsets.lag_table(found))
    for group, rows in found.items():
        if not rows:
            print(f"{group}: no committed offsets (never started, or expired)", file=sys.stderr)
    if args.max_lag is None:
        return 0
    behind = offsets.over(found, args.max_lag)
    for r in behind:
        print(f"{r.group} {r.topic}[{r.partition}]: lag {r.lag:,} > {args.max_lag:,}", file=sys.stderr)
    return 1 if behind else 0


def _stats(args: argparse.Namespace) -> int:
    settings = PublicationSettings()
    print(stats.render(asyncio.run(stats.gather(settings)), settings))
    return 0


def _replay(args: argparse.Namespace) -> int:
    return asyncio.run(replay.command(args, PublicationSettings()))


def _popular(args: argparse.Namespace) -> int:
    return asyncio.run(popular_rebuild.command(args, PublicationSettings()))


def _sources(args: argparse.Namespace) -> int:
    return asyncio.run(ingest_keys(args, IngestSettings()))


def _feeds(args: argparse.Namespace) -> int:
    return asyncio.run(feeds_cli.run(args, IngestSettings()))


def _keys(args: argparse.Namespace) -> int:
    return asyncio.run(webhooks_cli.keys(args, PublicationSettings()))


def _webhooks(args: argparse.Namespace) -> int:
    return asyncio.run(webhooks_cli.webhooks(args, PublicationSettings()))


# ---- the parser


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # dest "command", as the services' own parsers use it (publication's replay reads it)
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Handler, help: str, description: str, *examples: str) -> Any:
        sub = commands.add_parser(name, help=help)
        sub.set_defaults(handler=handler, area=name)
        return _explain(sub, description, *examples)

    def delegated(name: str, handler: Handler, description: str, *examples: str) -> None:
        sub = commands.choices[name]
        sub.set_defaults(handler=handler, area=name)
        _explain(sub, description, *examples)

    st = command(
        "stack",
        _stack,
        "start, stop or check Kafka, FerretDB and Redis (stack/stack.sh)",
        "Run stack/stack.sh of this checkout: `up` installs what is missing, starts what is not\n"
        "running and waits until healthy; `down` stops the servers; `status` prints one line a\n"
        "server and exits 1 if one is down.",
        "newsflow stack status",
        "newsflow stack up",
    )
    st.add_argument("action", choices=("up", "down", "status"))
    sv = command(
        "services",
        _services,
        "start, stop or check the services (stack/stack.sh services)",
        "Run `stack/stack.sh services ACTION`: ingest (:8001), publication (:8002), enrichment\n"
        "(:8003), publication's Related indexer (`related`, :8005) and the reader site (:8004)\n"
        "from .venv, logs in .run/logs/. `status` exits 1 if one is down.",
        "newsflow services status",
        "newsflow services up",
    )
    sv.add_argument("action", choices=("up", "down", "status"))

    tp = command(
        "topics",
        _topics,
        "the registry's topics: partitions, policy, retention, end offsets",
        "Each topic of the registry (newsflow_contracts.topics), dead-letter topics included: its\n"
        "partitions on the broker, its cleanup policy and retention as the registry sets them, and\n"
        "its end offsets (total and by partition). Exits 1 when a topic is missing or its partition\n"
        "count differs from the registry's; --create first creates the missing ones, as every\n"
        "service does at start.",
        "newsflow topics",
        "newsflow topics --create",
        "newsflow topics --json | jq .end_offsets",
    )
    tp.add_argument("--create", action="store_true", help="create missing topics first")
    tp.add_argument("--json", action="store_true", help="one JSON object per topic")

    lg = command(
        "lag",
        _lag,
        "consumer lag per group and partition",
        "For each consumer group, each partition of the topics it committed on: the committed\n"
        "offset, the end offset and the lag between them. By default the services' groups, named\n"
        "by their Settings (NEWSFLOW_*_GROUP): ingest's submissions, enrichment, publication's\n"
        "articles (of the read-model generation in use), webhooks and Popular. Related reads\n"
        "without a group. A partition the group never committed on shows `-`.",
        "newsflow lag",
        "newsflow lag --max-lag 1000 || alert 'newsflow is behind'",
        "newsflow lag --group newsflow-enrichment --json",
    )
    lg.add_argument("--group", action="append", metavar="GROUP", help="this group instead; repeatable")
    lg.add_argument(
        "--max-lag",
        type=dead_letters_cli.non_negative,
        metavar="N",
        help="exit 1 when any partition's lag is over N",
    )
    lg.add_argument("--json", action="store_true", help="one JSON object per group and partition")

    dlq = commands.add_parser("dlq", help="dead-letter topics: list records, re-drive them")
    dead_letters_cli.add_arguments(dlq)
    delegated(
        "dlq",
        dead_letters_cli.run,
        "Dead-lettered records, as `newsflow-dlq` shows them: why each failed, where it came from;\n"
        "`redrive` republishes chosen records to their source topic (`redrive --help`).",
        "newsflow dlq topics",
        "newsflow dlq list news.article.ingested.v1.dlq --limit 20",
        "newsflow dlq redrive news.article.ingested.v1.dlq --offset 3 --dry-run",
        "newsflow dlq redrive news.article.ingested.v1.dlq --all",
    )

    replay.add_parsers(commands)
    delegated(
        "replay",
        _replay,
        "Rebuild publication's read model from news.article.enriched.v1 and\n"
        "news.article.retracted.v1 into a new generation, with a progress bar on stderr, and switch\n"
        "to it when it has caught up (`newsflow-publication replay`; README, Replay).",
        "newsflow replay",
        "newsflow replay --no-switch && newsflow generations use g2",
    )
    delegated(
        "generations",
        _replay,
        "The read model's generations: list them, switch to one, drop an old one.",
        "newsflow generations list",
        "newsflow generations use g1",
        "newsflow generations drop g1",
    )
    popular_rebuild.add_parsers(commands)
    delegated(
        "popular",
        _popular,
        "Popular's counters: `rebuild` counts the page-view topic again into a fresh Redis prefix\n"
        "and prints the settings that switch publication to it (`newsflow-publication popular`).",
        "newsflow popular rebuild --prefix newsflow:pop2",
    )

    add_key_parsers(
        commands,
        name="sources",
        holder="source",
        example="cms-main",
        scopes=INGEST_SCOPES,
        default_scopes=INGEST_DEFAULT_SCOPES,
        about="publisher sources: their ingest API keys",
    )
    delegated(
        "sources",
        _sources,
        "The publishers allowed to submit articles to ingest, by their API keys\n"
        "(`newsflow-ingest keys`): a key is shown once at creation; only its hash is stored.",
        "newsflow sources create --source cms-main",
        "newsflow sources create --source agency --scope publish --scope retract",
        "newsflow sources list",
        "newsflow sources revoke <key id>",
    )
    feeds_cli.add_parser(commands)
    delegated(
        "feeds",
        _feeds,
        "Wire feeds ingest polls for articles (`newsflow-ingest feeds`).",
        "newsflow feeds add --name agency-sport --source agency --url https://agency.example/sport.xml",
        "newsflow feeds list",
        "newsflow feeds poll agency-sport",
    )
    webhooks_cli.add_parsers(commands)
    delegated(
        "keys",
        _keys,
        "Publication's API keys, for webhook subscribers and operators\n"
        "(`newsflow-publication keys`): shown once at creation.",
        "newsflow keys create --owner partner-site",
        "newsflow keys list",
        "newsflow keys revoke <key id>",
    )
    delegated(
        "webhooks",
        _webhooks,
        "Webhook subscriptions and dead deliveries (`newsflow-publication webhooks`).",
        "newsflow webhooks list",
        "newsflow webhooks dead",
        "newsflow webhooks redrive --all-dead",
    )
    command(
        "stats",
        _stats,
        "a short summary: articles, lists, Popular, Related, records, dead letters",
        "What the platform holds: articles in publication's read model (its generation in use)\n"
        "and in its `all` list, Popular's and Related's Redis keys, every registry topic's records,\n"
        "dead letters and dead webhook deliveries.",
        "newsflow stats",
    )
    _describe_nested(root)
    return root


FAILURES = (KafkaError, OSError, TimeoutError, PyMongoError, RedisError, stack.NoStackScript)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as done:  # --help (0) or a usage error (2), as a return value
        return done.code if isinstance(done.code, int) else 2
    try:
        return int(args.handler(args))
    except FAILURES as error:
        print(f"{PROG} {args.area}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def run() -> None:
    sys.exit(main())
