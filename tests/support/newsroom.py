"""A newsroom that keeps a ledger: what it submitted, and what ingest accepted."""

import asyncio
import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = [json.loads(line) for line in (ROOT / "samples/articles.jsonl").read_text().splitlines() if line]
RETRYABLE = {429, 500, 502, 503, 504}


@dataclass
class Ledger:
    accepted: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    """Article id -> every version ingest accepted for it, in order."""
    retries: int = 0

    def record(self, body: dict[str, Any]) -> None:
        versions = self.accepted[body["article_id"]]
        if body["version"] not in versions:
            versions.append(body["version"])

    @property
    def latest(self) -> dict[str, int]:
        return {article_id: max(versions) for article_id, versions in self.accepted.items()}

    @property
    def pairs(self) -> set[tuple[str, int]]:
        return {(a, v) for a, versions in self.accepted.items() for v in versions}


def article(run: str, number: int, version: int) -> dict[str, Any]:
    """Article `number` of a run at a given version: a sample with a distinct id and text."""
    sample = SAMPLES[number % len(SAMPLES)]
    return {
        **sample,
        "external_id": f"{run}-{number}",
        "headline": f"{sample['headline']} ({number})",
        "body_html": sample["body_html"] + (f"<p>Update {version}.</p>" if version > 1 else ""),
    }


async def submit(
    client: httpx.AsyncClient,
    url: str,
    key: str,
    body: dict[str, Any],
    ledger: Ledger,
    *,
    patience_s: float = 120,
) -> dict[str, Any]:
    """POST until accepted, as a CMS with a retry queue would: outages (5xx, 429, a refused
    connection) are retried with backoff; any other answer is a test failure."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience_s
    delay = 0.1
    while True:
        try:
            response = await client.post(url, json=body, headers={"Authorization": f"Bearer {key}"})
            if response.status_code == 202:
                accepted: dict[str, Any] = response.json()
                ledger.record(accepted)
                return accepted
            if response.status_code not in RETRYABLE:
                raise AssertionError(f"{body['external_id']}: {response.status_code} {response.text}")
        except httpx.TransportError:
            pass
        if loop.time() > deadline:
            raise AssertionError(f"{body['external_id']} not accepted within {patience_s}s")
        ledger.retries += 1
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)


async def publish_run(
    ingest_url: str,
    key: str,
    run: str,
    *,
    articles: int,
    ledger: Ledger,
    rng: random.Random,
    workers: int = 12,
    pause_s: float = 0.0,
) -> None:
    """Submit `articles` articles, some of them in two or three versions; one article's
    versions go in order, different articles concurrently; each worker pauses `pause_s`
    between submissions, to spread a run over time."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for number in range(articles):
        queue.put_nowait(number)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            number = queue.get_nowait()
            versions = rng.choices((1, 2, 3), weights=(6, 3, 1))[0]
            for version in range(1, versions + 1):
                await submit(client, f"{ingest_url}/v1/articles", key, article(run, number, version), ledger)
                await asyncio.sleep(pause_s)

    async with httpx.AsyncClient(timeout=15) as client:
        await asyncio.gather(*(worker(client) for _ in range(workers)))
