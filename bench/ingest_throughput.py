"""Sustained ingest rate through the HTTP API into Kafka, beside the raw Kafka producer rate
for records of the same size, measured in the same run against the local stack.

    .venv/bin/python bench/ingest_throughput.py [--articles 600] [--concurrency 16] [--runs 3]
                                               [--corpus ../shared/corpus/bbc-news.jsonl]

Starts its own ingest process (free port, its own database); needs `make up`. Prints each
run and the medians: accepted articles/s, p50/p99 accept latency (POST to 202, which means
stored and acknowledged by all in-sync Kafka replicas), the raw producer's records/s with
the same concurrency, acks=all and idempotence, and the ratio of the two."""

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from newsflow_chassis.kafka import ensure_topics
from newsflow_contracts.topics import Topic

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
KAFKA = os.environ.get("NEWSFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:9092")


def load_articles(corpus: Path | None, count: int, run: str, skip: int = 0) -> list[dict[str, Any]]:
    """`count` articles; from a corpus, the ones after the first `skip`, so that each run
    sends bodies no earlier run sent (deduplication would otherwise shortcut them)."""
    if corpus is None:
        lines = (ROOT / "samples" / "articles.jsonl").read_text().splitlines()
        samples = [json.loads(line) for line in lines if line]
        return [
            {
                **samples[n % len(samples)],
                "external_id": f"{run}-{n}",
                "headline": f"{samples[n % len(samples)]['headline']} {n}",
            }
            for n in range(count)
        ]
    articles = []
    for n, line in enumerate(corpus.read_text().splitlines()[skip:]):
        if n >= count:
            break
        item = json.loads(line)
        body = "".join(f"<p>{p.strip()}</p>" for p in item["body"].split("\n\n") if p.strip())
        articles.append({"external_id": f"{run}-{item['id']}", "headline": item["title"], "body_html": body})
    return articles


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_ingest(env: dict[str, str], port: int, workers: int) -> subprocess.Popen[bytes]:
    log = open(ROOT / ".run" / "logs" / f"bench-ingest-{port}.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [str(BIN / "newsflow-ingest"), "serve", "--workers", str(workers)],
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        if proc.poll() is not None:
            raise SystemExit(f"ingest exited; see {log.name}")
        time.sleep(0.1)
    raise SystemExit("ingest did not start")


def create_key(env: dict[str, str]) -> str:
    out = subprocess.run(
        [str(BIN / "newsflow-ingest"), "keys", "create", "--source", "bench"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return next(line.split()[1] for line in out.splitlines() if line.startswith("key:"))


async def through_ingest(
    url: str, key: str, articles: list[dict[str, Any]], concurrency: int
) -> tuple[float, list[float]]:
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for article in articles:
        queue.put_nowait(article)
    latencies: list[float] = []

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            article = queue.get_nowait()
            started = time.perf_counter()
            response = await client.post(
                f"{url}/v1/articles", json=article, headers={"Authorization": f"Bearer {key}"}
            )
            if response.status_code != 202:
                raise SystemExit(f"{response.status_code}: {response.text}")
            latencies.append(time.perf_counter() - started)

    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=concurrency)) as client:
        began = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return time.perf_counter() - began, latencies


async def raw_producer(topic: str, values: list[bytes], concurrency: int) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True)
    await producer.start()
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for value in values:
        queue.put_nowait(value)

    async def worker() -> None:
        while not queue.empty():
            value = queue.get_nowait()
            await producer.send_and_wait(topic, value=value, key=uuid.uuid4().bytes)

    try:
        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - began
    finally:
        await producer.stop()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="ingest worker processes")
    parser.add_argument(
        "--corpus", type=Path, default=None, help="a corpus JSON-lines file (default: samples)"
    )
    args = parser.parse_args()

    run = uuid.uuid4().hex[:8]
    port = free_port()
    env = {
        **os.environ,
        "NEWSFLOW_INGEST_PORT": str(port),
        "NEWSFLOW_INGEST_DB": f"bench_{run}_ingest",
        "NEWSFLOW_SUBMISSIONS_GROUP": f"bench-{run}",
        "NEWSFLOW_RATE_LIMIT_PER_SECOND": "1000000",
        "NEWSFLOW_FEEDS_ENABLED": "false",
    }
    raw_topic = Topic(f"bench.raw-producer-{run}.v1", partitions=6, retention_ms=3600 * 1000, consumed=False)
    await ensure_topics(KAFKA, [raw_topic])
    proc = start_ingest(env, port, args.workers)
    rows = []
    try:
        key = create_key(env)
        url = f"http://127.0.0.1:{port}"
        for number in range(args.runs):
            articles = load_articles(
                args.corpus, args.articles, f"{run}-{number}", skip=number * args.articles
            )
            seconds, latencies = await through_ingest(url, key, articles, args.concurrency)
            # the ingested event is the submission plus ids and times: the same size within a few %
            values = [json.dumps({"content": a, "article_id": str(uuid.uuid4())}).encode() for a in articles]
            raw_seconds = await raw_producer(raw_topic.name, values, args.concurrency)
            row = {
                "ingest_per_s": len(articles) / seconds,
                "p50_ms": percentile(latencies, 50) * 1000,
                "p99_ms": percentile(latencies, 99) * 1000,
                "raw_per_s": len(values) / raw_seconds,
                "bytes": statistics.mean(map(len, values)),
            }
            row["ratio"] = row["ingest_per_s"] / row["raw_per_s"]
            rows.append(row)
            ingest = f"ingest {row['ingest_per_s']:.0f} articles/s"
            latency = f"p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms"
            raw = f"raw producer {row['raw_per_s']:.0f} records/s"
            print(f"run {number + 1}: {ingest} ({latency}); {raw}; ratio {row['ratio']:.3f}")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    median = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    ingest = f"ingest {median['ingest_per_s']:.0f} articles/s"
    latency = f"p50 {median['p50_ms']:.1f} ms, p99 {median['p99_ms']:.1f} ms"
    raw = f"raw producer {median['raw_per_s']:.0f} records/s"
    size = f"{args.articles} articles of {median['bytes']:.0f} B a run"
    setup = f"{size}, concurrency {args.concurrency}, {args.workers} worker(s)"
    print(f"median of {len(rows)}: {ingest}, {latency}; {raw}; ingest/raw {median['ratio']:.3f} ({setup})")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
