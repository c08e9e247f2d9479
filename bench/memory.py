"""Resident memory of each service process under load, beside the targets: ingest and
publication under 200 MB each (publication's read API and its Related indexer, each a process),
enrichment under 300 MB.

    .venv/bin/python bench/memory.py [--corpus ../shared/corpus/bbc-news.jsonl] [--runs 3]
        [--read-seconds 20] [--related-start start|end]

Needs `make up`. Each run starts ingest, enrichment, publication (`serve`, without the
indexer) and publication's Related indexer (`related`) as processes of their own, as deployed
(free ports, their own databases and consumer groups, `tests/support/processes.py`;
deduplication on), then:

1. idle: RSS once every service is ready (the indexer once it has read the published topic
   to its end and rebuilt its rows);
2. feed: every corpus article through ingest's HTTP API (8 at once), until publication has
   stored each one that was not a duplicate. The Related indexer starts, as deployed, from the
   start of the published topic (`--related-start`): with the topic's history and the corpus
   its index is full (`NEWSFLOW_RELATED_MAX_ARTICLES`, 2,000), and the corpus's articles
   replace older ones in it;
3. read: `--read-seconds` of read API traffic on publication (article, page, Related, More
   like this, lists, a feed, Popular) with page views (`POST /v1/views`), 16 at once;
4. steady: RSS after 10 idle seconds.

RSS is sampled from /proc/<pid>/status every 0.2 s (VmRSS); peak is the kernel's high-water
mark (VmHWM), so it misses nothing between samples. Prints each run, then the medians."""

import argparse
import asyncio
import json
import random
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from newsflow_contracts.topics import PAGEVIEW_RECORDED
from newsflow_publication.adapters.listings import RedisListings
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.accounting import wait_for_read_model  # noqa: E402
from tests.support.processes import Services  # noqa: E402
from tests.support.stack import MONGO, REDIS, commit_group_at_end, unique  # noqa: E402

SERVICES = ("ingest", "enrichment", "publication", "related")
TARGET_MB = {"ingest": 200, "enrichment": 300, "publication": 200, "related": 200}
SECTIONS = ["business", "politics", "sport", "technology", "culture", "science"]


def status_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in kB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


class Sampler(threading.Thread):
    """VmRSS of each process every 0.2 s, labelled with the phase of the run."""

    def __init__(self, pids: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.pids, self.phase = pids, "idle"
        self.samples: list[tuple[str, str, int]] = []  # (phase, service, kB)
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.2):
            for name, pid in self.pids.items():
                self.samples.append((self.phase, name, status_kb(pid)["VmRSS"]))

    def last(self, name: str) -> float:
        return next(kb for _, n, kb in reversed(self.samples) if n == name) / 1024

    def highest(self, name: str, phase: str) -> float:
        return max(kb for p, n, kb in self.samples if (p, n) == (phase, name)) / 1024


def corpus_articles(corpus: Path, run: str) -> list[dict[str, Any]]:
    articles = []
    for n, line in enumerate(corpus.read_text().splitlines()):
        item = json.loads(line)
        body = "".join(f"<p>{p.strip()}</p>" for p in item["body"].split("\n\n") if p.strip())
        articles.append(
            {
                "external_id": f"{run}-{item['id']}",
                "headline": item["title"],
                "body_html": body,
                "section": SECTIONS[n % len(SECTIONS)],
            }
        )
    return articles


async def feed(url: str, key: str, articles: list[dict[str, Any]]) -> dict[str, int]:
    """Submit every article, 8 at once; the published ones' ids with their version."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for article in articles:
        queue.put_nowait(article)
    published: dict[str, int] = {}

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            article = queue.get_nowait()
            while True:
                response = await client.post(
                    f"{url}/v1/articles", json=article, headers={"Authorization": f"Bearer {key}"}
                )
                if response.status_code == 202:
                    break
                if response.status_code not in (429, 503):
                    raise SystemExit(f"{response.status_code}: {response.text}")
                await asyncio.sleep(0.2)
            body = response.json()
            if not body.get("duplicate_of"):
                published[body["article_id"]] = body["version"]

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(8)))
    return published


async def read_traffic(url: str, ids: list[str], seconds: float) -> int:
    """Readers and page views over random articles, 16 at once; the number of requests."""
    routes = [
        "/v1/articles/{id}",
        "/v1/pages/{id}",
        "/v1/articles/{id}/related",
        "/v1/articles/{id}/more-like-this",
        "/v1/articles?section={section}",
        "/v1/feeds/rss.xml",
        "/v1/popular?window=1h",
    ]
    done = 0
    deadline = time.monotonic() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal done
        while time.monotonic() < deadline:
            article_id = random.choice(ids)
            if random.random() < 0.3:
                await client.post(
                    f"{url}/v1/views",
                    json={"article_id": article_id, "site": "bench.example", "view_id": unique("v")},
                    headers={"user-agent": "Mozilla/5.0 (bench)"},
                )
            else:
                route = random.choice(routes).format(id=article_id, section=random.choice(SECTIONS))
                (await client.get(f"{url}{route}")).raise_for_status()
            done += 1

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(16)))
    return done


async def wait_ready(services: Services) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        for name in SERVICES:
            deadline = time.monotonic() + 300
            while (await client.get(f"{services.url(name)}/readyz")).status_code != 200:
                if time.monotonic() > deadline:
                    raise SystemExit(f"{name} not ready within 300 s")
                await asyncio.sleep(0.2)


async def related_indexed(prefix: str) -> int:
    redis = Redis.from_url(REDIS)
    try:
        status = await redis.hgetall(f"{prefix}:status")
        return int(status.get(b"articles", 0))
    finally:
        await redis.aclose()


async def clean(services: Services, ids: list[str]) -> None:
    """Drop what the run wrote: its databases, its articles from the shared lists, its keys."""
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO)
    redis = Redis.from_url(REDIS)
    listings = RedisListings(redis)
    for article_id in ids:
        await listings.remove(article_id)
    for prefix in (services.env["NEWSFLOW_RELATED_PREFIX"], services.env["NEWSFLOW_POPULAR_PREFIX"]):
        async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
            await redis.delete(key)
    for variable in ("NEWSFLOW_INGEST_DB", "NEWSFLOW_PUBLICATION_DB"):
        await mongo.drop_database(services.env[variable])
    await redis.aclose()
    await mongo.close()


async def one_run(corpus: Path, read_seconds: float, related_start: str) -> dict[str, dict[str, float]]:
    services = Services.isolated()
    run = services.env["NEWSFLOW_INGEST_DB"].removesuffix("_ingest")
    del services.env["NEWSFLOW_DEDUP_ENABLED"]  # as deployed
    services.env.update(
        NEWSFLOW_RELATED_START=related_start,
        NEWSFLOW_POPULAR_GROUP=f"{run}-popular",
        NEWSFLOW_POPULAR_PREFIX=f"{run}:pop",
        NEWSFLOW_CHANGES_CHANNEL=f"{run}:changes",
    )
    await services.groups_at_end()
    await commit_group_at_end(services.env["NEWSFLOW_POPULAR_GROUP"], [PAGEVIEW_RECORDED.name])
    ids: list[str] = []
    try:
        for name in SERVICES:
            services.start(name)
        sampler = Sampler({name: services.procs[name].pid for name in SERVICES})
        sampler.start()
        await wait_ready(services)
        await asyncio.sleep(3)
        key = services.create_key(unique("bench-cms"))
        sampler.phase = "feed"
        started = time.monotonic()
        published = await feed(services.url("ingest"), key, corpus_articles(corpus, run))
        ids = list(published)
        stored = await wait_for_read_model(services.env["NEWSFLOW_PUBLICATION_DB"], published, timeout_s=600)
        if stored != published:
            raise SystemExit(f"{len(published) - len(stored)} articles never stored")
        fed_s = time.monotonic() - started
        sampler.phase = "read"
        requests = await read_traffic(services.url("publication"), ids, read_seconds)
        indexed = await related_indexed(services.env["NEWSFLOW_RELATED_PREFIX"])
        sampler.phase = "steady"
        await asyncio.sleep(10)
        sampler.stopping.set()
        sampler.join()
        result = {}
        for name in SERVICES:
            hwm = status_kb(services.procs[name].pid)["VmHWM"] / 1024
            result[name] = {
                "idle": sampler.highest(name, "idle"),
                "feed": sampler.highest(name, "feed"),
                "read": sampler.highest(name, "read"),
                "peak": hwm,
                "steady": sampler.last(name),
            }
        print(
            f"run: {len(published)} articles published in {fed_s:.0f} s, "
            f"{requests / read_seconds:.0f} reads and views/s for {read_seconds:g} s, "
            f"Related index {indexed} articles"
        )
        for name, row in result.items():
            print(f"  {name:12} " + ", ".join(f"{phase} {mb:.0f} MB" for phase, mb in row.items()))
        return result
    finally:
        services.stop_all()
        await clean(services, ids)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared/corpus/bbc-news.jsonl")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--read-seconds", type=float, default=20)
    parser.add_argument("--related-start", choices=("start", "end"), default="start")
    args = parser.parse_args()
    runs = [
        asyncio.run(one_run(args.corpus, args.read_seconds, args.related_start)) for _ in range(args.runs)
    ]
    print(f"median of {len(runs)} runs (RSS, MB; peak is VmHWM):")
    for name in SERVICES:
        row = {phase: statistics.median(r[name][phase] for r in runs) for phase in runs[0][name]}
        verdict = "met" if row["peak"] < TARGET_MB[name] else "NOT met"
        print(
            f"  {name:12} idle {row['idle']:.0f}, under feed {row['feed']:.0f}, "
            f"under reads {row['read']:.0f}, "
            f"peak {row['peak']:.0f}, steady {row['steady']:.0f}; target < {TARGET_MB[name]} MB: {verdict}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
