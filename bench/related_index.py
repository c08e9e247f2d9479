"""Memory and speed of publication's Related index under replacement. No servers.

    .venv/bin/python bench/related_index.py --corpus ../shared/corpus/bbc-news.jsonl
        [--articles 2000] [--replace 1650] [--neighbours 300] [--runs 3] [--seed 1]

The corpus goes through enrichment's own pipeline once (exact duplicate bodies left out,
as in bench/related_eval.py) and each signature is kept as the JSON the related indexer
reads, so that the index is handed freshly parsed terms and owns every string it keeps.
The corpus, shuffled (`--seed`), is cycled with new ids (`<id>~<pass>`) when more articles
are needed than it holds: an index of 2,000 then holds some copies of 348 stories.

Each run is a process of its own (so that its RSS says something) and does this once
timed, and the first run once more under tracemalloc (which slows Python down, so that pass
times nothing; its figures are the same in every run):

1. build: `--articles` articles loaded and a `rebuild` of every row, as the indexer does at
   its start (timed: the rebuild);
2. replace: `--replace` times, the oldest article removed and the next one of the stream
   added (timed: each `add`), as the indexer does once it holds its maximum;
3. lists: `related_of` for 200 articles (timed).

Memory is tracemalloc's current (and peak) allocation above what was there before the
index, after the build and after the replacements, and the RSS growth of the timed pass.
Prints each run, then the medians (tracemalloc's from the first run)."""

import argparse
import gc
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from newsflow_enrichment.domain import build_enrichers
from newsflow_enrichment.domain.pipeline import enrich
from newsflow_publication.domain.related import RelatedIndex

sys.path.insert(0, str(Path(__file__).parent))
from enrichment import load, pct, rss_mb

MB = 1024 * 1024
LISTS = 200


def signatures(corpus: Path, seed: int) -> list[tuple[str, str]]:
    """(article id, signature terms as JSON) of every distinct corpus body, shuffled."""
    seen, found = set(), []
    enrichers = build_enrichers()
    for doc, content in load(corpus):
        body = " ".join(doc["body"].split())
        if body in seen:
            continue
        seen.add(body)
        result = enrich(content, enrichers)
        enrichment = getattr(result, "enrichment", result)
        found.append((doc["id"], json.dumps([[t.term, t.weight] for t in enrichment.signature.terms])))
    random.Random(seed).shuffle(found)
    return found


def stream(corpus: list[tuple[str, str]], count: int) -> list[tuple[str, str]]:
    """`count` articles: the corpus, then the corpus again under new ids, and so on."""
    articles = []
    for n in range(count):
        article_id, terms = corpus[n % len(corpus)]
        cycle = n // len(corpus)
        articles.append((f"{article_id}~{cycle}" if cycle else article_id, terms))
    return articles


def one_pass(articles: list[tuple[str, str]], size: int, neighbours: int, *, traced: bool) -> dict[str, Any]:
    def memory() -> float:
        gc.collect()
        return (tracemalloc.get_traced_memory()[0] if traced else rss_mb() * MB) / MB

    gc.collect()
    if traced:
        tracemalloc.start()
    before = memory()
    index = RelatedIndex(neighbours=neighbours)
    for article_id, terms in articles[:size]:
        index.load(article_id, dict(json.loads(terms)))
    started = time.perf_counter()
    index.rebuild()
    rebuild_s = time.perf_counter() - started
    figures: dict[str, Any] = {"built_mb": memory() - before}
    if traced:
        figures["built_peak_mb"] = tracemalloc.get_traced_memory()[1] / MB - before
    add_ms = []
    for n, (article_id, terms) in enumerate(articles[size:]):
        index.remove(articles[n][0])
        parsed = dict(json.loads(terms))
        started = time.perf_counter()
        index.add(article_id, parsed)
        add_ms.append((time.perf_counter() - started) * 1000)
    figures["replaced_mb"] = memory() - before
    list_ms = []
    for article_id, _ in articles[-LISTS:]:
        started = time.perf_counter()
        index.related_of(article_id)
        list_ms.append((time.perf_counter() - started) * 1000)
    if traced:
        figures["replaced_peak_mb"] = tracemalloc.get_traced_memory()[1] / MB - before
        tracemalloc.stop()
    else:
        figures |= {
            "rebuild_s": rebuild_s,
            "add_ms_p50": statistics.median(add_ms),
            "add_ms_p99": pct(add_ms, 0.99),
            "list_ms_p50": statistics.median(list_ms),
        }
    return figures


def run(path: Path, size: int, neighbours: int, *, traced: bool) -> None:
    """One run, in this process: prints its figures as one line of JSON."""
    articles = [tuple(pair) for pair in json.loads(path.read_text())]
    figures = {
        f"rss_{k}" if k.endswith("mb") else k: v
        for k, v in one_pass(articles, size, neighbours, traced=False).items()
    }
    if traced:
        figures |= one_pass(articles, size, neighbours, traced=True)
    print(json.dumps(figures))


LINES = [
    ("tracemalloc, after the build (MB)", "built_mb"),
    ("  peak during the build", "built_peak_mb"),
    ("tracemalloc, after the replacements", "replaced_mb"),
    ("  peak until then", "replaced_peak_mb"),
    ("RSS growth, after the build (MB)", "rss_built_mb"),
    ("RSS growth, after the replacements", "rss_replaced_mb"),
    ("rebuild (s)", "rebuild_s"),
    ("add, median (ms)", "add_ms_p50"),
    ("add, p99 (ms)", "add_ms_p99"),
    ("related_of, median (ms)", "list_ms_p50"),
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--replace", type=int, default=1650)
    parser.add_argument("--neighbours", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--run", type=Path, help=argparse.SUPPRESS)  # one run, in a child process
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run(args.run, args.articles, args.neighbours, traced=args.traced)
        return
    if args.corpus is None:
        parser.error("--corpus is required")
    articles = stream(signatures(args.corpus, args.seed), args.articles + args.replace)
    results = []
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump(articles, file)
        file.flush()
        for n in range(args.runs):
            child = [sys.executable, __file__, "--run", file.name]
            child += ["--articles", str(args.articles), "--neighbours", str(args.neighbours)]
            child += ["--traced"] if n == 0 else []
            done = subprocess.run(child, check=True, capture_output=True, text=True)
            results.append(json.loads(done.stdout))
            print(f"run {n + 1}: " + ", ".join(f"{k} {v:.2f}" for k, v in results[-1].items()), flush=True)
    print(
        f"\n{args.articles} articles, NEIGHBOURS {args.neighbours}, {args.replace} replaced; "
        f"medians of {args.runs} runs"
    )
    for label, key in LINES:
        print(f"{label:<40}{statistics.median(r[key] for r in results if key in r):>8.2f}")


if __name__ == "__main__":
    main()
