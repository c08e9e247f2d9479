"""Relevance of Related on a labelled corpus, beside a plain TF-IDF cosine. No servers.

    .venv/bin/python bench/related_eval.py --corpus ../shared/corpus/bbc-news.jsonl

Every article goes through enrichment's own pipeline without its category; the signatures
are added one by one, in a shuffled order (`--seed`), to publication's RelatedIndex as the
related indexer does live, and each article's Related list, computed from the index at the
end (as the indexer's refreshes leave it), is judged by category: precision at 5 and 10;
then again after a rebuild of every row with the final IDF (what the indexer does when the
collection has doubled). Exact duplicate bodies are left out, as ingest's
deduplication keeps them off the site. The baseline is a plain TF-IDF cosine over the
same articles (words of 2+ letters, enrichment's stopwords removed, sublinear term
frequency, smooth IDF, unit length), computed in the same run."""

import argparse
import math
import random
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from newsflow_enrichment.domain import build_enrichers
from newsflow_enrichment.domain.pipeline import enrich
from newsflow_enrichment.domain.resources import STOPWORDS
from newsflow_publication.domain.related import RelatedIndex

sys.path.insert(0, str(Path(__file__).parent))
from enrichment import load

WORD = re.compile(r"(?u)\b\w\w+\b")


def precision(ranked: dict[str, list[str]], category: dict[str, str], k: int) -> float:
    return sum(sum(category[b] == category[a] for b in ranked[a][:k]) / k for a in ranked) / len(ranked)


def tfidf_baseline(texts: dict[str, str], k: int = 10) -> dict[str, list[str]]:
    counts = {a: Counter(w for w in WORD.findall(t.lower()) if w not in STOPWORDS) for a, t in texts.items()}
    df = Counter(w for c in counts.values() for w in c)
    n = len(counts)
    vectors = {}
    for a, c in counts.items():
        v = {w: (1 + math.log(x)) * (math.log((1 + n) / (1 + df[w])) + 1) for w, x in c.items()}
        norm = math.sqrt(sum(x * x for x in v.values()))
        vectors[a] = {w: x / norm for w, x in v.items()}
    postings: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for a, v in vectors.items():
        for w, x in v.items():
            postings[w].append((a, x))
    ranked = {}
    for a, v in vectors.items():
        dots: dict[str, float] = defaultdict(float)
        for w, x in v.items():
            for b, y in postings[w]:
                dots[b] += x * y
        dots.pop(a, None)
        ranked[a] = sorted(dots, key=lambda b: -dots[b])[:k]
    return ranked


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    seen, docs = set(), []
    for doc, content in load(args.corpus):
        body = " ".join(doc["body"].split())
        if body not in seen:
            seen.add(body)
            docs.append((doc, content))
    category = {d["id"]: d["category"] for d, _ in docs}
    enrichers = build_enrichers()
    signatures = {}
    for doc, content in docs:
        result = enrich(content, enrichers)
        enrichment = getattr(result, "enrichment", result)
        signatures[doc["id"]] = {t.term: t.weight for t in enrichment.signature.terms}
    order = list(signatures)
    random.Random(args.seed).shuffle(order)
    index = RelatedIndex()
    started = time.perf_counter()
    for article_id in order:
        index.add(article_id, signatures[article_id])
    add_ms = (time.perf_counter() - started) / len(order) * 1000
    started = time.perf_counter()
    related = {a: sorted(index.related_of(a).items(), key=lambda x: (-x[1], x[0])) for a in order}
    query_ms = (time.perf_counter() - started) / len(order) * 1000
    ranked = {a: [b for b, _ in r] for a, r in related.items()}
    started = time.perf_counter()
    index.rebuild()
    rebuild_s = time.perf_counter() - started
    rebuilt = {
        a: [b for b, _ in sorted(index.related_of(a).items(), key=lambda x: (-x[1], x[0]))] for a in order
    }
    baseline = tfidf_baseline({d["id"]: f"{d['title']}\n{d['body']}" for d, _ in docs})
    print(f"articles {len(docs)} (exact duplicate bodies left out), seed {args.seed}")
    for name, lists in (
        ("related, added one by one", ranked),
        ("related, after a rebuild ", rebuilt),
        ("plain TF-IDF cosine      ", baseline),
    ):
        print(f"{name}  P@5 {precision(lists, category, 5):.3f}   P@10 {precision(lists, category, 10):.3f}")
    print(
        f"index: {add_ms:.1f} ms to add an article, {query_ms:.1f} ms to compute one list, "
        f"{rebuild_s:.1f} s to rebuild every row (in memory)"
    )


if __name__ == "__main__":
    main()
