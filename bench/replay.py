"""Read-model replay: how fast `newsflow-publication replay` rebuilds MongoDB and Redis from
the article topics, beside the raw MongoDB and Redis operation rates measured in the same run,
and whether the rebuilt documents equal the live ones field by field.

    .venv/bin/python bench/replay.py [--corpus ../shared/corpus/bbc-news.jsonl] [--runs 3]

Needs `make up`. It turns every corpus article into the enriched event publication receives
(the enrichment service's own pipeline over the article, so the documents have their real
size), writes them to a topic pair of its own (6 partitions each, like the article topics),
and then:

1. builds the live read model the way the consumer does, one record at a time with the
   repository and lists the service uses (without publishing), and times it;
2. replays the topics `--runs` times, each into a new generation (the replay itself,
   in-process: from the consumer's start to the last write), and times it, with the CPU
   time an article took in the replay and in FerretDB, and what other processes on the
   machine took meanwhile (the cores are shared);
3. compares every article of the last replay with the live read model, field by field:
   the current state, every version, the slug, the teaser, the `in` set and the list
   memberships; rebuild timestamps (`published_at`, `first_published_at`) aside;
4. measures raw rates with the same documents, as the read model stores them (the content
   compressed into one binary field) and, for comparison, in the shape stored before (the
   content as fields): MongoDB `insert_many` (unordered, 1,000 a call, and 250 a call 4 at
   once with FerretDB's CPU time a document), `find_one` by `_id` one after another; and
   Redis pipelined ZADD.

Everything it creates (databases, keys, topics) is deleted at the end."""

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from newsflow_chassis.cloudevents import attributes_for, to_headers
from newsflow_chassis.kafka import ensure_topics
from newsflow_contracts.events import ArticleContent, ArticleEnriched, Enrichment
from newsflow_contracts.topics import ARTICLE_ENRICHED, ARTICLE_RETRACTED, Topic
from newsflow_publication.adapters.articles import MongoArticleRepository, _document, decoded
from newsflow_publication.adapters.generations import clear, generation
from newsflow_publication.adapters.listings import PREFIX, RedisListings
from newsflow_publication.domain.articles import publish
from newsflow_publication.entrypoints.consumer import store_enriched
from newsflow_publication.entrypoints.replay import replay
from newsflow_publication.settings import Settings
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "bbc-news.jsonl"
REBUILD_TIMES = {"published_at", "first_published_at"}
FERRETDB_PID = ROOT / ".run" / "ferretdb.pid"
KAFKA_PID = ROOT / ".run" / "kafka.pid"
REDIS_PID = ROOT / ".run" / "redis.pid"
NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def events(corpus: Path, run: str) -> list[ArticleEnriched]:
    try:
        from newsflow_enrichment.domain import build_enrichers
        from newsflow_enrichment.domain.pipeline import enrich

        enrichers: Any = build_enrichers()
    except ImportError:  # enrichment not installed: plain text only
        enrichers = None
    found = []
    for n, line in enumerate(corpus.read_text().splitlines()):
        item = json.loads(line)
        paragraphs = [p.strip() for p in item["body"].split("\n\n") if p.strip()]
        moment = NOW + timedelta(seconds=n)
        content = ArticleContent(
            headline=item["title"],
            body_html="".join(f"<p>{p}</p>" for p in paragraphs),
            section=item.get("category"),
            first_created=moment,
            updated=moment,
        )
        plain = "\n\n".join(paragraphs)
        enrichment = (
            enrich(content, enrichers)
            if enrichers is not None
            else Enrichment(plain_text=plain, word_count=len(plain.split()))
        )
        article_id = f"{run}-{item['id']}-{n}"
        found.append(
            ArticleEnriched(
                article_id=article_id,
                version=1,
                source="bench",
                external_id=item["id"],
                slug=f"{item['id']}-{n}-{run}",
                accepted_at=moment,
                content=content,
                enrichment=enrichment,
            )
        )
    return found


async def write_topic(topic: str, articles: list[ArticleEnriched], bootstrap: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        sent = []
        for event in articles:
            headers = to_headers(
                attributes_for(event, event_id=str(uuid.uuid4()), source="/bench", subject=event.article_id)
            )
            sent.append(
                await producer.send(
                    topic,
                    value=event.model_dump_json().encode(),
                    key=event.article_id.encode(),
                    headers=[(k, v.encode()) for k, v in headers.items()],
                )
            )
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def live_path(
    mongo: AsyncMongoClient[dict[str, Any]],
    redis: Redis,
    database: str,
    prefix: str,
    articles: list[ArticleEnriched],
) -> float:
    """The consumer's own adapters, one record at a time; returns the seconds."""
    repository, listings = MongoArticleRepository(mongo, database), RedisListings(redis, prefix)
    await repository.create_indexes()
    began = time.perf_counter()
    for event in articles:
        await store_enriched(repository, listings, event, now=datetime.now(UTC))
    return time.perf_counter() - began


def without(document: Any) -> Any:
    if isinstance(document, dict):
        return {k: without(v) for k, v in document.items() if k not in REBUILD_TIMES}
    if isinstance(document, list):
        return [without(v) for v in document]
    return document


async def compare(
    mongo: AsyncMongoClient[dict[str, Any]],
    redis: Redis,
    live: tuple[str, str],
    rebuilt: tuple[str, str],
    articles: list[ArticleEnriched],
) -> list[str]:
    """Every difference between the two read models, by `_id` and by key."""
    differences = []
    for event in articles:
        a = event.article_id
        pairs = [("articles", a), ("article_versions", f"{a}:1"), ("article_slugs", event.slug)]
        for collection, key in pairs:
            want = await mongo[live[0]][collection].find_one({"_id": key})
            have = await mongo[rebuilt[0]][collection].find_one({"_id": key})
            if want is None or have is None or without(decoded(want)) != without(decoded(have)):
                differences.append(f"{collection}/{key}")
        want_in = sorted(await redis.smembers(f"{live[1]}:in:{a}"))
        have_in = sorted(await redis.smembers(f"{rebuilt[1]}:in:{a}"))
        if want_in != have_in or not want_in:
            differences.append(f"in/{a}")
        for lst in want_in:
            name = lst.decode() if isinstance(lst, bytes) else lst
            if await redis.zscore(f"{rebuilt[1]}:list:{name}", a) is None:
                differences.append(f"list/{name}/{a}")
        want_t = await redis.get(f"{live[1]}:teaser:{a}")
        have_t = await redis.get(f"{rebuilt[1]}:teaser:{a}")
        if want_t is None or have_t is None or without(json.loads(want_t)) != without(json.loads(have_t)):
            differences.append(f"teaser/{a}")
    return differences


def shape_before(document: dict[str, Any]) -> dict[str, Any]:
    """A stored article document in the shape stored before the content was compressed: the
    content as fields (without `article_id`, kept as `_id`)."""
    content = decoded(document).pop("zjson")
    del content["article_id"]
    return {"_id": document["_id"], **content}


async def insert_rates(
    mongo: AsyncMongoClient[dict[str, Any]], database: str, docs: list[dict[str, Any]]
) -> dict[str, float]:
    """The documents inserted the way the replay writes them (unordered insert_many of 250,
    4 at once, with FerretDB's CPU time a document), and one after another in calls of
    1,000; then find_one by `_id` one after another."""
    rates: dict[str, float] = {}
    collection = mongo[database]["raw"]
    began = time.perf_counter()
    for start in range(0, len(docs), 1000):
        await collection.insert_many(docs[start : start + 1000], ordered=False)
    rates["insert_many"] = len(docs) / (time.perf_counter() - began)
    limit = asyncio.Semaphore(4)

    async def chunk(part: list[dict[str, Any]]) -> None:
        async with limit:
            await mongo[database]["raw4"].insert_many(part, ordered=False)

    began, ferretdb_began = time.perf_counter(), cpu_seconds(FERRETDB_PID)
    await asyncio.gather(*(chunk(docs[s : s + 250]) for s in range(0, len(docs), 250)))
    rates["insert_many_4"] = len(docs) / (time.perf_counter() - began)
    ferretdb_spent = cpu_seconds(FERRETDB_PID)
    if ferretdb_began is not None and ferretdb_spent is not None:
        rates["insert_cpu_ms"] = (ferretdb_spent - ferretdb_began) / len(docs) * 1e3
    sample = [d["_id"] for d in docs[:500]]
    began = time.perf_counter()
    for key in sample:
        await collection.find_one({"_id": key})
    rates["find_one"] = len(sample) / (time.perf_counter() - began)
    await mongo.drop_database(database)
    return rates


async def raw_rates(
    mongo: AsyncMongoClient[dict[str, Any]], redis: Redis, database: str, articles: list[ArticleEnriched]
) -> dict[str, dict[str, float]]:
    """MongoDB and Redis on their own: the read model's own article documents, as stored
    ("stored") and in the shape before ("as fields"), by `insert_rates`; pipelined ZADD."""
    now = datetime.now(UTC)
    docs = [{"_id": f"raw-{n}", **_document(publish(e, now=now))} for n, e in enumerate(articles)]
    rates = {
        "stored": await insert_rates(mongo, database, docs),
        "as fields": await insert_rates(mongo, database, [shape_before(d) for d in docs]),
    }
    rates["stored"]["size"] = statistics.mean(len(bson.encode(d)) for d in docs)
    rates["as fields"]["size"] = statistics.mean(len(bson.encode(shape_before(d))) for d in docs)
    zset = f"{PREFIX}:{database}:raw"
    members = 20_000
    began = time.perf_counter()
    async with redis.pipeline(transaction=False) as pipe:
        for n in range(members):
            pipe.zadd(zset, {f"m{n}": n})
        await pipe.execute()
    rates["redis"] = {"zadd": members / (time.perf_counter() - began)}
    await redis.delete(zset)
    return rates


def cpu_seconds(pid_file: Path) -> float | None:
    """CPU time a local server process has used so far (Linux), if its pid file is there."""
    try:
        fields = Path(f"/proc/{int(pid_file.read_text())}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def machine_busy_seconds() -> float | None:
    """CPU time all cores have spent busy so far (Linux /proc/stat: all but idle and iowait)."""
    try:
        ticks = [int(t) for t in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


@dataclass
class CpuUse:
    """CPU seconds used while the replays ran: by the replay (this process), by FerretDB,
    by Kafka and Redis, and by everything else on the machine (other people's work)."""

    replay: float
    ferretdb: float | None
    kafka_redis: float | None
    machine: float | None

    @classmethod
    def now(cls) -> "CpuUse":
        kafka, redis = cpu_seconds(KAFKA_PID), cpu_seconds(REDIS_PID)
        return cls(
            time.process_time(),
            cpu_seconds(FERRETDB_PID),
            None if kafka is None or redis is None else kafka + redis,
            machine_busy_seconds(),
        )

    def since(self, before: "CpuUse") -> "CpuUse":
        def spent(after: float | None, start: float | None) -> float | None:
            return None if after is None or start is None else after - start

        return CpuUse(
            self.replay - before.replay,
            spent(self.ferretdb, before.ferretdb),
            spent(self.kafka_redis, before.kafka_redis),
            spent(self.machine, before.machine),
        )

    def others(self) -> float | None:
        if self.machine is None or self.ferretdb is None or self.kafka_redis is None:
            return None
        return max(0.0, self.machine - self.replay - self.ferretdb - self.kafka_redis)


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=5000, help="the replay's --batch")
    args = parser.parse_args()
    if not args.corpus.exists():
        print(f"no corpus at {args.corpus}: pass --corpus", file=sys.stderr)
        return 2

    run = f"bench_{uuid.uuid4().hex[:8]}"
    base = Settings()
    settings = base.model_copy(
        update={"publication_db": f"{run}_publication", "publication_group": f"{run}-pub"}
    )
    topics = [
        Topic(f"bench.{run}.enriched.v1", partitions=ARTICLE_ENRICHED.partitions, retention_ms=3600_000),
        Topic(f"bench.{run}.retracted.v1", partitions=ARTICLE_RETRACTED.partitions, retention_ms=3600_000),
    ]
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    redis = Redis.from_url(settings.redis_url, socket_timeout=60)
    live = (f"{run}_live", f"{PREFIX}:{run}_live")
    built: list[int] = []
    try:
        began = time.perf_counter()
        articles = events(args.corpus, run)
        print(
            f"{len(articles):,} enriched events built in {time.perf_counter() - began:.1f} s", file=sys.stderr
        )
        await ensure_topics(settings.kafka_bootstrap, topics)
        await write_topic(topics[0].name, articles, settings.kafka_bootstrap)

        live_s = await live_path(mongo, redis, *live, articles)
        rows = []
        cpu_before, replays_began, replayed = CpuUse.now(), time.perf_counter(), 0
        for number in range(args.runs):
            result = await replay(
                settings, topics=[t.name for t in topics], switch=False, batch=args.batch, progress=sys.stderr
            )
            built.append(result.generation.number)
            rows.append(result.per_second)
            replayed += result.records
            print(
                f"run {number + 1}: {result.records:,} records ({result.articles:,} articles) in "
                f"{result.seconds:.2f} s: {result.per_second:,.0f} articles/s"
            )
        cpu, replays_took = CpuUse.now().since(cpu_before), time.perf_counter() - replays_began
        last = generation(settings, built[-1])
        differences = await compare(mongo, redis, live, (last.database, last.redis_prefix), articles)
        raw = await raw_rates(mongo, redis, f"{run}_raw", articles)
    finally:
        for number in built:
            await clear(mongo, redis, generation(settings, number))
        await mongo.drop_database(live[0])
        await mongo.drop_database(settings.publication_db)
        stale = [k async for k in redis.scan_iter(match=f"{live[1]}:*", count=10_000)]
        if stale:
            await redis.delete(*stale)
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([t.name for t in topics])
        finally:
            await admin.close()
        await redis.aclose()
        await mongo.close()

    size = statistics.mean(len(a.model_dump_json()) for a in articles)
    print(
        f"live path (one record at a time, the consumer's adapters): {len(articles) / live_s:,.0f} articles/s"
    )
    print(
        f"replay, median of {len(rows)}: {statistics.median(rows):,.0f} articles/s "
        f"({len(articles):,} articles of {size / 1024:.1f} KiB as events)"
    )
    stored = raw["stored"]
    print(
        f"raw, same run, the same documents as stored ({stored['size'] / 1024:.1f} KiB of BSON, the "
        f"content compressed): MongoDB insert_many {stored['insert_many']:,.0f} docs/s "
        f"({stored['insert_many_4']:,.0f} docs/s 4 at once, as the replay writes), find_one by _id "
        f"{stored['find_one']:,.0f}/s; Redis pipelined ZADD {raw['redis']['zadd']:,.0f}/s. The replay "
        f"writes 2 article documents an article (its version and its state): at most "
        f"{stored['insert_many_4'] / 2:,.0f} articles/s at that insert rate"
    )
    fields = raw["as fields"]
    print(
        f"raw, same run, the same documents in the shape before ({fields['size'] / 1024:.1f} KiB, the "
        f"content as fields): insert_many {fields['insert_many']:,.0f} docs/s "
        f"({fields['insert_many_4']:,.0f} docs/s 4 at once), find_one by _id {fields['find_one']:,.0f}/s"
    )
    cores = os.cpu_count() or 1
    for shape, measured in raw.items():
        if "insert_cpu_ms" in measured:
            ms = measured["insert_cpu_ms"]
            print(
                f"FerretDB CPU an inserted article document ({shape}): {ms:.2f} ms, so 2 a replayed "
                f"article need {2 * ms:.2f} ms: at most {cores / (2 * ms / 1e3):,.0f} articles/s on "
                f"{cores} cores doing nothing else"
            )
    print_cpu(cpu, replays_took, replayed)
    checked = f"{len(articles):,} articles x (state, version, slug, teaser, in set, lists)"
    if differences:
        print(f"field by field: {len(differences)} differences, e.g. {differences[:5]} ({checked})")
        return 1
    print(f"field by field: identical, rebuild timestamps aside ({checked})")
    return 0


def print_cpu(cpu: CpuUse, seconds: float, records: int) -> None:
    """Where the replays' CPU went, per article, and the rate that allows on this machine."""
    cores = os.cpu_count() or 1
    per_article = f"replay process {cpu.replay / records * 1e3:.2f} ms"
    total = cpu.replay
    if cpu.ferretdb is not None:
        per_article += f", FerretDB {cpu.ferretdb / records * 1e3:.2f} ms"
        total += cpu.ferretdb
    print(
        f"CPU an article: {per_article} (replays' wall time {seconds / records * 1e3:.2f} ms an article; "
        f"FerretDB busy {(cpu.ferretdb or 0) / seconds:.0%} of it, one core = 100%); with {cores} "
        f"cores to themselves they allow at most {cores / total * records:,.0f} articles/s"
    )
    others = cpu.others()
    if others is not None:
        print(
            f"other processes on the machine used {others / seconds:.0%} of a core meanwhile "
            f"(Kafka and Redis {(cpu.kafka_redis or 0) / seconds:.0%})"
        )


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
