"""Time enrichment's pipeline on a corpus of news articles, one core, no servers.

    .venv/bin/python bench/enrichment.py --corpus /work/shared/corpus/bbc-news.jsonl
    .venv/bin/python bench/enrichment.py --corpus ... --show 20        # what it found, to judge
    .venv/bin/python bench/enrichment.py --corpus ... --service-rss    # + RSS of a running service

The corpus is JSON lines with `id`, `category`, `title` and `body` (paragraphs separated by a
blank line); each body becomes `<p>` paragraphs, as a newsroom would send it. It reports the
time per article of each enricher and of the whole pipeline (median, p99; the enrichers share
one analysis of the text, paid by the first that needs it: the teaser), the same for articles
of 280-380 words, articles a second on this core, the resident memory of this process once
the models and gazetteers are loaded, and how well the signatures find Related articles
(precision at 10: the share of an article's ten nearest that have its category, which the
pipeline never sees).
"""

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from newsflow_contracts.events import ArticleContent, Enrichment
from newsflow_enrichment.domain import build_enrichers
from newsflow_enrichment.domain.pipeline import enrich, pipeline_version

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def load(corpus: Path) -> list[tuple[dict[str, str], ArticleContent]]:
    articles = []
    for line in corpus.read_text().splitlines():
        doc = json.loads(line)
        body = "".join(f"<p>{p.strip()}</p>" for p in doc["body"].split("\n\n") if p.strip())
        content = ArticleContent(headline=doc["title"], body_html=body, first_created=NOW, updated=NOW)
        articles.append((doc, content))
    return articles


def service_rss() -> float:
    """Start `newsflow-enrichment serve` (it connects to Kafka), wait until it listens, read its
    VmRSS after it has enriched nothing, stop it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "NEWSFLOW_ENRICHMENT_PORT": str(port),
        "NEWSFLOW_ENRICHMENT_GROUP": f"bench-rss-{os.getpid()}",
    }
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/newsflow-enrichment"), "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"newsflow-enrichment exited with {proc.returncode}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    time.sleep(2)
                    return rss_mb(proc.pid)
            time.sleep(0.2)
        raise TimeoutError("newsflow-enrichment did not listen")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def related_precision(results: list[tuple[str, Enrichment]], k: int = 10) -> float:
    """Nearest articles by signature cosine through an inverted index, as Related would."""
    index: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for i, (_, enrichment) in enumerate(results):
        for term in enrichment.signature.terms if enrichment.signature else []:
            index[term.term].append((i, term.weight))
    hits = 0
    for i, (category, enrichment) in enumerate(results):
        scores: dict[int, float] = defaultdict(float)
        for term in enrichment.signature.terms if enrichment.signature else []:
            for j, weight in index[term.term]:
                if j != i:
                    scores[j] += weight * term.weight
        nearest = sorted(scores, key=lambda j: -scores[j])[:k]
        hits += sum(results[j][0] == category for j in nearest)
    return hits / (k * len(results))


def show(articles: list[tuple[dict[str, str], ArticleContent]], count: int, seed: int) -> None:
    enrichers = build_enrichers()
    for doc, content in random.Random(seed).sample(articles, count):
        result = enrich(content, enrichers)
        print(f"## {doc['title']}  [{doc['category']}, {result.word_count} words, {result.language}]")
        print(f"   teaser:   {result.teaser}")
        print(f"   keywords: {', '.join(k.term for k in result.keywords or [])}")
        entities = "; ".join(f"{e.name} ({e.kind}, {e.count})" for e in result.entities or [])
        print(f"   entities: {entities}")
        ids = " ".join(s.id.removeprefix("urn:newsflow:subject:") for s in result.subjects or [])
        print(f"   subjects: {ids}")
        print()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--show", type=int, default=0, help="print what N random articles got, and stop")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--service-rss", action="store_true", help="also measure a running service")
    args = parser.parse_args()

    rss_start = rss_mb()
    articles = load(args.corpus)
    if args.show:
        show(articles, args.show, args.seed)
        return
    started = time.perf_counter()
    enrichers = build_enrichers()
    for _, content in articles[:20]:  # the first articles load the statistics and gazetteers
        enrich(content, enrichers)
    load_s = time.perf_counter() - started
    rss_loaded = rss_mb()

    per_enricher: dict[str, list[float]] = defaultdict(list)
    totals: list[float] = []
    words: list[int] = []
    results: list[tuple[str, Enrichment]] = []
    errors = 0
    for doc, content in articles:
        started = time.perf_counter()
        enrichment = enrich(content, enrichers)
        totals.append((time.perf_counter() - started) * 1000)
        words.append(enrichment.word_count or 0)
        results.append((doc["category"], enrichment))
        for run in enrichment.runs:
            per_enricher[run.enricher].append(run.duration_ms)
            errors += run.error is not None
    rss_after = rss_mb()

    typical = [t for t, w in zip(totals, words, strict=True) if 280 <= w <= 380]
    print(f"pipeline {pipeline_version(enrichers)}")
    print(f"corpus   {len(articles)} articles, median {statistics.median(words):.0f} words")
    print(f"errors   {errors} enricher runs failed")
    print(f"load     {load_s * 1000:.0f} ms to build the pipeline and enrich 20 articles")
    print()
    print(f"{'enricher':<12}{'median ms':>11}{'p99 ms':>9}")
    for name, times in per_enricher.items():
        print(f"{name:<12}{statistics.median(times):>11.3f}{pct(times, 0.99):>9.3f}")
    print(f"{'total':<12}{statistics.median(totals):>11.3f}{pct(totals, 0.99):>9.3f}")
    print(f"{'280-380 w':<12}{statistics.median(typical):>11.3f}{pct(typical, 0.99):>9.3f}", end="")
    print(f"  ({len(typical)} articles of 280-380 words, whole pipeline)")
    print()
    mean = statistics.mean(totals)
    print(f"throughput  {1000 / mean:.0f} articles/s on one core (mean {mean:.2f} ms)")
    print(
        f"memory      RSS {rss_start:.0f} MB at start, {rss_loaded:.0f} MB with models and gazetteers loaded,"
    )
    print(f"            {rss_after:.0f} MB after {len(articles)} articles (and their results) in memory")
    print(f"related     precision@10 by category {related_precision(results):.3f} (signature cosine)")
    if args.service_rss:
        print(f"service     newsflow-enrichment serve: RSS {service_rss():.0f} MB once started")


if __name__ == "__main__":
    main()
