"""`newsflow-dlq`: list the dead-letter topics, show their records and re-drive chosen ones
to the topic they failed on. Exit codes: 0 done, 1 refused or failed, 2 usage."""

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Sequence
from typing import Any

from aiokafka.errors import KafkaError
from newsflow_contracts.topics import topics_with_dead_letters

from . import dead_letters as dl
from .settings import KafkaSettings

MESSAGE_WIDTH = 100

REDRIVE_HELP = """\
Republish dead-lettered records to the topic they failed on (dlq_source_topic, or --to),
with the same key, value and headers, minus every dlq_* header, plus
dlq_redriven_from=<dlq topic>@<offset>; with an acks=all idempotent producer.
The record keeps its ce_id on purpose: consumers' effects are idempotent by event id and
version, so re-driving a record twice doubles nothing. Fix the cause first, or the record
comes back to the dead-letter topic. Nothing is written when one chosen offset is missing."""


def _dlq_topic(value: str) -> str:
    if not dl.is_dlq_topic(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a dead-letter topic (it must end with .dlq)")
    return value


def _target_topic(value: str) -> str:
    if not value or value.endswith(".dlq"):
        raise argparse.ArgumentTypeError(f"{value!r}: re-drive to a source topic, not a dead-letter one")
    return value


def non_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return number


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="newsflow-dlq", description=__doc__)
    add_arguments(root)
    return root


def add_arguments(root: argparse.ArgumentParser) -> None:
    """The options and commands of `newsflow-dlq`, on its own parser or under another CLI's."""
    root.add_argument("--bootstrap", help="Kafka bootstrap servers (default: $NEWSFLOW_KAFKA_BOOTSTRAP)")
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("topics", help="each dead-letter topic of the registry with its record count")
    show = commands.add_parser("list", help="the records of dead-letter topics, with why they failed")
    show.add_argument("topics", nargs="*", type=_dlq_topic, metavar="TOPIC.dlq", help="default: all")
    show.add_argument("--limit", type=non_negative, metavar="N", help="at most N records per topic")
    show.add_argument("--since-offset", type=non_negative, default=0, metavar="O", help="start at O")
    show.add_argument("--json", action="store_true", help="one JSON object per line, messages in full")
    redrive = commands.add_parser(
        "redrive", help="republish chosen records to their source topic", description=REDRIVE_HELP
    )
    redrive.add_argument("topic", type=_dlq_topic, metavar="TOPIC.dlq")
    chosen = redrive.add_mutually_exclusive_group(required=True)
    chosen.add_argument(
        "--offset",
        type=int,
        action="append",
        dest="offsets",
        metavar="N",
        help="a record to re-drive; repeatable",
    )
    chosen.add_argument("--all", action="store_true", help="every record the topic holds now")
    redrive.add_argument("--dry-run", action="store_true", help="say what would be sent, send nothing")
    redrive.add_argument("--to", type=_target_topic, metavar="TOPIC", help="instead of dlq_source_topic")


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", "replace")


def as_json(record: dl.DeadLetter) -> dict[str, Any]:
    h = record.text_headers

    def number(name: str) -> int | None:
        return int(h[name]) if h.get(name, "").isdigit() else None

    return {
        "dlq_topic": record.topic,
        "offset": record.offset,
        "key": _text(record.key),
        "error_class": h.get("dlq_error_class"),
        "error_message": h.get("dlq_error_message"),
        "source_topic": h.get("dlq_source_topic"),
        "source_partition": number("dlq_source_partition"),
        "source_offset": number("dlq_source_offset"),
        "failed_at": h.get("dlq_failed_at"),
        "ce_id": h.get("ce_id"),
        "ce_type": h.get("ce_type"),
        "redriven_from": h.get(dl.REDRIVEN_FROM),
    }


def shorten(message: str, width: int = MESSAGE_WIDTH) -> str:
    line = re.sub(r"\s+", " ", message).strip()
    return line if len(line) <= width else line[: width - 1] + "…"


def as_line(record: dl.DeadLetter) -> str:
    j = as_json(record)
    source = f"{j['source_topic'] or '?'}[{j['source_partition']}]@{j['source_offset']}"
    parts = [
        f"{record.offset:>6}",
        f"key={j['key'] or '-'}",
        f"{j['error_class'] or '?'}: {shorten(j['error_message'] or '')}",
        f"from {source}",
        f"failed_at={j['failed_at'] or '?'}",
    ]
    parts += [f"{name}={j[name]}" for name in ("ce_id", "ce_type", "redriven_from") if j[name]]
    return "  ".join(parts)


def _registry_dlqs() -> list[str]:
    return [t.name for t in topics_with_dead_letters() if dl.is_dlq_topic(t.name)]


async def _topics(bootstrap: str) -> int:
    names = _registry_dlqs()
    width = max(map(len, names))
    for name, count in (await dl.counts(bootstrap, names)).items():
        print(f"{name:<{width}}  {'not created yet' if count is None else count}")
    return 0


async def _list(bootstrap: str, args: argparse.Namespace) -> int:
    named = bool(args.topics)
    topics: list[str] = args.topics or _registry_dlqs()
    if not named:
        missing = set(await dl.missing_topics(bootstrap, topics))
        for topic in sorted(missing):
            print(f"{topic}: not created yet", file=sys.stderr)
        topics = [t for t in topics if t not in missing]
    for topic in topics:
        records, window = await dl.read(bootstrap, topic, since=args.since_offset, limit=args.limit)
        if args.json:
            for record in records:
                print(json.dumps(as_json(record), ensure_ascii=False))
            continue
        summary = f"{window.count} records ({window}), showing {len(records)}" if window.count else "empty"
        print(f"{topic}: {summary}")
        for record in records:
            print(as_line(record))
    return 0


async def _redrive(bootstrap: str, args: argparse.Namespace) -> int:
    offsets: list[int] | None = args.offsets
    since, until = (0, None) if offsets is None else (max(0, min(offsets)), max(offsets) + 1)
    records, window = await dl.read(bootstrap, args.topic, since=since, until=until)
    redrives = dl.plan(dl.choose(records, offsets, topic=args.topic, window=window), to=args.to)
    if not redrives:
        print(f"{args.topic} holds no records; nothing re-driven")
        return 0
    missing = await dl.missing_topics(bootstrap, (r.target for r in redrives))
    if missing:
        raise dl.DeadLetterError(f"target topic {', '.join(missing)} does not exist; nothing re-driven")
    if args.dry_run:
        for r in redrives:
            key = _text(r.record.key) or "-"
            print(f"would re-drive {args.topic}@{r.record.offset} -> {r.target} key={key}")
        print(f"dry run: {len(redrives)} record(s), nothing written")
        return 0
    sent = 0
    try:
        async for r, partition, offset in dl.send(bootstrap, redrives):
            sent += 1
            print(f"re-drove {args.topic}@{r.record.offset} -> {r.target}[{partition}]@{offset}")
    except (KafkaError, OSError, TimeoutError) as error:
        print(f"newsflow-dlq: failed after {sent} of {len(redrives)} re-drives: {error!r}", file=sys.stderr)
        return 1
    print(f"{sent} record(s) re-driven")
    return 0


async def _run(args: argparse.Namespace, bootstrap: str) -> int:
    if args.command == "topics":
        return await _topics(bootstrap)
    if args.command == "list":
        return await _list(bootstrap, args)
    return await _redrive(bootstrap, args)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as done:  # --help (0) or a usage error (2), as a return value
        return done.code if isinstance(done.code, int) else 2
    return run(args)


def run(args: argparse.Namespace) -> int:
    """Carry out parsed `newsflow-dlq` arguments (see add_arguments)."""
    bootstrap = args.bootstrap or KafkaSettings().kafka_bootstrap
    try:
        return asyncio.run(_run(args, bootstrap))
    except dl.DeadLetterError as refused:
        print(f"newsflow-dlq: {refused}", file=sys.stderr)
    except (KafkaError, OSError, TimeoutError) as error:
        print(f"newsflow-dlq: Kafka at {bootstrap}: {error!r}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
