"""`newsflow-enrichment replay`: move the enrichment consumer group back on
news.article.ingested.v1, so that the next start enriches those articles again (with the
pipeline it then has). Stop every enrichment process of the group first: Kafka refuses to move
the offsets of a group that has members."""

import argparse
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from newsflow_contracts.topics import ARTICLE_INGESTED

from ..settings import Settings


def add_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    replay = commands.add_parser("replay", help="re-enrich ingested articles at the next start")
    since = replay.add_mutually_exclusive_group(required=True)
    since.add_argument("--from-beginning", action="store_true", help="every article ever ingested")
    since.add_argument(
        "--since", type=datetime.fromisoformat, help="articles ingested at or after this ISO 8601 time"
    )
    replay.add_argument("--group", help="consumer group (default: NEWSFLOW_ENRICHMENT_GROUP)")


async def replay(settings: Settings, *, group: str, since: datetime | None) -> dict[int, int]:
    """Commit the group's offsets at the first record at or after `since` (or the beginning)
    of every partition; returns partition -> offset."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([ARTICLE_INGESTED.name])
    finally:
        await admin.close()
    partitions = [TopicPartition(ARTICLE_INGESTED.name, p["partition"]) for p in described["partitions"]]
    if not partitions:
        raise RuntimeError(f"topic {ARTICLE_INGESTED.name} not found")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        if since is None:
            offsets = dict(await consumer.beginning_offsets(partitions))
        else:
            found = await consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in partitions})
            offsets = {tp: found[tp].offset if found[tp] is not None else ends[tp] for tp in partitions}
        await consumer.commit(offsets)
        return {tp.partition: offset for tp, offset in offsets.items()}
    finally:
        await consumer.stop()
