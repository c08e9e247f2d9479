"""Evaluate ingest's duplicate detection on a corpus of news articles. Pure: no servers.

    .venv/bin/python bench/dedup_eval.py --corpus /work/shared/corpus/bbc-news.jsonl

The corpus is JSON lines with `id`, `title` and `body` (paragraphs separated by a blank line).
Each body goes through ingest's own `normalise` as `<p>` paragraphs, then through the
fingerprinting of `newsflow_ingest.domain.dedup`; an in-memory index plays the fingerprint
store. It reports:

(a) exact: every body seen before (spacing aside) must be an exact duplicate of its first
    occurrence;
(b) near: N distinct articles, each lightly edited (new headline, a few sentences reworded
    with synonyms or reordered clauses, one sentence dropped or added), must be found as
    near duplicates of their original (recall);
(c) false positives: distinct articles flagged as near duplicates of an earlier one, with
    the pairs and their true Jaccard similarity, to inspect;
and a threshold sweep of (b) and (c), the parameters and the time per article.
"""

import argparse
import html
import json
import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from newsflow_contracts.events import ArticleSubmitted, Duplicate
from newsflow_ingest.domain.articles import normalise
from newsflow_ingest.domain.dedup import (
    DEFAULT_NEAR_THRESHOLD,
    DEFAULT_SCHEME,
    Fingerprint,
    MinHashScheme,
    band_keys,
    body_words,
    fingerprint,
    judge,
    shingles,
    similarity,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SYNONYMS = {
    "said": "stated",
    "says": "states",
    "told": "informed",
    "added": "continued",
    "company": "firm",
    "firm": "company",
    "government": "administration",
    "increase": "rise",
    "rise": "increase",
    "big": "large",
    "large": "big",
    "biggest": "largest",
    "show": "reveal",
    "shows": "reveals",
    "people": "individuals",
    "expected": "anticipated",
    "help": "assist",
    "buy": "purchase",
    "new": "fresh",
    "start": "begin",
    "started": "began",
    "however": "but",
    "also": "too",
    "about": "around",
    "many": "numerous",
    "plans": "proposals",
    "believe": "think",
    "important": "significant",
    "chance": "opportunity",
    "quickly": "rapidly",
    "cut": "reduce",
    "fall": "drop",
    "rose": "climbed",
    "world": "global",
    "number": "figure",
    "major": "key",
    "top": "leading",
    "year": "twelve months",
    "now": "currently",
    "would": "could",
}
EXTRA_SENTENCES = [
    "The story was first reported by a partner news agency.",
    "More details are expected later in the day.",
    "Officials declined to comment further when contacted.",
    "Additional reporting by staff correspondents.",
]
HEADLINE_FORMS = ["{} - latest", "Update: {}", "{}, reports say", "Analysis: {}"]
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"”'’]))\s+(?=[\"“'A-Z0-9])")


# --- light edits -------------------------------------------------------------------------


def _sentences(body: str) -> list[list[str]]:
    return [_SENTENCE_END.split(p.strip()) for p in body.split("\n\n") if p.strip()]


def _reword(sentence: str, rng: random.Random) -> tuple[str, str]:
    tokens = sentence.split(" ")
    swappable = [i for i, t in enumerate(tokens) if t.strip(",.;:\"'").lower() in SYNONYMS]
    if swappable:
        for i in rng.sample(swappable, min(2, len(swappable))):
            core = tokens[i].strip(",.;:\"'")
            new = SYNONYMS[core.lower()]
            tokens[i] = tokens[i].replace(core, new.capitalize() if core[0].isupper() else new)
        return " ".join(tokens), "synonyms"
    reordered = _reorder_clauses(sentence)
    if reordered != sentence:
        return reordered, "clauses"
    if len(tokens) > 3:
        i = rng.randrange(1, len(tokens) - 2)
        tokens[i], tokens[i + 1] = tokens[i + 1], tokens[i]
    return " ".join(tokens), "word order"


def _reorder_clauses(sentence: str) -> str:
    """'A, B.' -> 'B, a.' : the two clauses around the first comma swapped."""
    if ", " not in sentence or not sentence.endswith("."):
        return sentence
    first, second = sentence[:-1].split(", ", 1)
    if len(first.split()) < 3 or len(second.split()) < 3:
        return sentence
    return f"{second[0].upper()}{second[1:]}, {first[0].lower()}{first[1:]}."


def light_edit(title: str, body: str, rng: random.Random, reword: int = 3) -> tuple[str, str, list[str]]:
    """A new headline; `reword` sentences reworded; maybe two clauses reordered; one sentence
    dropped (a short one, never the first) or added. Returns headline, body, what was done."""
    paragraphs = _sentences(body)
    places = [(p, s) for p, sentences in enumerate(paragraphs) for s in range(len(sentences))]
    done = []
    for p, s in rng.sample(places, min(reword, len(places))):
        paragraphs[p][s], how = _reword(paragraphs[p][s], rng)
        done.append(how)
    if rng.random() < 0.5:
        p, s = rng.choice(places)
        reordered = _reorder_clauses(paragraphs[p][s])
        if reordered != paragraphs[p][s]:
            paragraphs[p][s] = reordered
            done.append("clauses")
    droppable = [(p, s) for p, s in places[1:] if 4 <= len(paragraphs[p][s].split()) <= 30]
    if droppable and rng.random() < 0.5:
        p, s = rng.choice(droppable)
        del paragraphs[p][s]
        done.append("dropped")
    else:
        p = rng.randrange(len(paragraphs))
        paragraphs[p].insert(rng.randrange(len(paragraphs[p]) + 1), rng.choice(EXTRA_SENTENCES))
        done.append("added")
    headline = rng.choice(HEADLINE_FORMS).format(title)
    return headline, "\n\n".join(" ".join(s) for s in paragraphs if s), done


# --- the pipeline, as ingest runs it ------------------------------------------------------


def to_html(body: str) -> str:
    return "".join(f"<p>{html.escape(p.strip())}</p>" for p in body.split("\n\n") if p.strip())


def ingest_fingerprint(article_id: str, title: str, body: str, scheme: MinHashScheme) -> Fingerprint:
    submission = ArticleSubmitted(external_id=article_id, headline=title, body_html=to_html(body))
    return fingerprint(normalise(submission, now=NOW).body_html, scheme)


@dataclass
class Index:
    """What the fingerprint store holds, in memory."""

    scheme: MinHashScheme
    exact: dict[str, str] = field(default_factory=dict)
    buckets: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    signatures: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def candidates(self, fp: Fingerprint) -> dict[str, tuple[int, ...]]:
        found = {a for key in band_keys(fp.signature, self.scheme) for a in self.buckets.get(key, ())}
        return {a: self.signatures[a] for a in found}

    def find(self, fp: Fingerprint, threshold: float) -> Duplicate | None:
        return judge(
            fp.signature,
            exact_of=self.exact.get(fp.exact),
            candidates=self.candidates(fp),
            threshold=threshold,
        )

    def add(self, article_id: str, fp: Fingerprint) -> None:
        self.exact.setdefault(fp.exact, article_id)
        self.signatures[article_id] = fp.signature
        for key in band_keys(fp.signature, self.scheme):
            self.buckets[key].append(article_id)

    def best(self, fp: Fingerprint, exclude: str | None = None) -> tuple[float, str | None]:
        """Best estimated similarity among LSH candidates (0 when none is a candidate)."""
        scored = [(similarity(fp.signature, s), a) for a, s in self.candidates(fp).items() if a != exclude]
        return max(scored, default=(0.0, None))


def jaccard(a: str, b: str, size: int) -> float:
    x, y = shingles(body_words(to_html(a)), size), shingles(body_words(to_html(b)), size)
    return len(x & y) / len(x | y)


def quantiles(values: Sequence[float]) -> str:
    ordered = sorted(values)
    pick = [ordered[int(q * (len(ordered) - 1))] for q in (0, 0.01, 0.05, 0.5)]
    return "min {:.3f}, 1% {:.3f}, 5% {:.3f}, median {:.3f}".format(*pick)


# --- the evaluation -----------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument(
        "--threshold", type=float, default=DEFAULT_NEAR_THRESHOLD, help="near-duplicate threshold"
    )
    parser.add_argument("--shingle", type=int, default=DEFAULT_SCHEME.shingle_words)
    parser.add_argument("--permutations", type=int, default=DEFAULT_SCHEME.permutations)
    parser.add_argument("--bands", type=int, default=DEFAULT_SCHEME.bands)
    parser.add_argument("--near", type=int, default=500, help="how many edited copies to make")
    parser.add_argument("--reword", type=int, default=3, help="sentences reworded per edited copy")
    parser.add_argument("--seed", type=int, default=20260101)
    args = parser.parse_args()
    scheme = MinHashScheme(shingle_words=args.shingle, permutations=args.permutations, bands=args.bands)
    rows = [json.loads(line) for line in args.corpus.read_text().splitlines() if line.strip()]

    print(f"corpus {args.corpus}: {len(rows)} articles")
    curve = ", ".join(f"{s}: {scheme.candidate_probability(s):.3f}" for s in (0.4, 0.5, 0.6, 0.7, 0.8))
    print(
        f"scheme: {scheme.shingle_words}-word shingles, {scheme.permutations} permutations, "
        f"{scheme.bands} bands x {scheme.rows} rows (LSH threshold {scheme.lsh_threshold():.2f}; "
        f"P(candidate) {curve}); "
        f"near threshold {args.threshold}"
    )

    started = time.perf_counter()
    prints = {r["id"]: ingest_fingerprint(r["id"], r["title"], r["body"], scheme) for r in rows}
    for fp in prints.values():
        band_keys(fp.signature, scheme)
    per_article_ms = (time.perf_counter() - started) / len(rows) * 1000
    print(f"time: {per_article_ms:.1f} ms per article (sanitise, normalise, fingerprint, band keys)")

    # (a) exact, and (c) false positives, in corpus order as articles would arrive
    index = Index(scheme)
    first_of: dict[str, str] = {}
    repeats, caught_exact, other_exact = 0, 0, []
    distinct: list[dict[str, str]] = []
    flagged: list[tuple[dict[str, str], Duplicate]] = []
    best_earlier: list[float] = []
    for row in rows:
        fp, truth = prints[row["id"]], " ".join(row["body"].split())
        found = index.find(fp, args.threshold)
        if truth in first_of:
            repeats += 1
            if found and found.kind == "exact" and found.of_article_id == first_of[truth]:
                caught_exact += 1
            continue
        first_of[truth] = row["id"]
        distinct.append(row)
        best_earlier.append(index.best(fp)[0])
        if found and found.kind == "exact":
            other_exact.append((row["id"], found.of_article_id))
        elif found:
            flagged.append((row, found))
        index.add(row["id"], fp)

    counts = Counter(" ".join(r["body"].split()) for r in rows)
    groups = sum(n > 1 for n in counts.values())
    print(f"\n(a) exact: {groups} bodies appear more than once; {caught_exact}/{repeats} later copies caught")
    print(f"    as exact duplicates of their first occurrence; other exact findings: {len(other_exact)}")
    by_id = {r["id"]: r for r in rows}
    print(
        f"\n(c) false positives: {len(flagged)}/{len(distinct)} distinct articles "
        f"({len(flagged) / len(distinct):.2%}) flagged as near duplicates of an earlier one:"
    )
    for row, dup in flagged:
        other = by_id[dup.of_article_id]
        print(
            f"    {row['id']} ~ {other['id']}: estimated {dup.similarity:.3f}, "
            f"true Jaccard {jaccard(row['body'], other['body'], scheme.shingle_words):.3f}"
        )

    # (b) near: edited copies of distinct articles against the index of every distinct article
    rng = random.Random(args.seed)
    picked = rng.sample(distinct, min(args.near, len(distinct)))
    true_j: list[float] = []
    best_copy: list[float] = []
    missed: list[tuple[str, float, Duplicate | None]] = []
    ops: Counter[str] = Counter()
    caught_near = 0
    for row in picked:
        headline, body, done = light_edit(row["title"], row["body"], rng, args.reword)
        for op in done:
            ops[op] += 1
        copy_id = f"copy-of-{row['id']}"
        fp = ingest_fingerprint(copy_id, headline, body, scheme)
        true_j.append(jaccard(row["body"], body, scheme.shingle_words))
        found = index.find(fp, args.threshold)
        score, best_id = index.best(fp)
        best_copy.append(score if best_id == row["id"] else 0.0)
        if found and found.of_article_id == row["id"]:
            caught_near += 1
        else:
            missed.append((row["id"], true_j[-1], found))
    print(
        f"\n(b) near: {caught_near}/{len(picked)} lightly edited copies caught "
        f"({caught_near / len(picked):.1%}); edits made: {dict(sorted(ops.items()))}"
    )
    print(f"    true Jaccard of copy vs original: {quantiles(true_j)}")
    for article_id, j, found in missed:
        print(f"    missed {article_id}: true Jaccard {j:.3f}, found {found}")

    top = sorted(best_earlier, reverse=True)[:6]
    print(f"\nhighest estimated similarity of a distinct article to an earlier one: {top}")
    print("threshold sweep (same copies and index): threshold, near recall, false-positive rate")
    for t in (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9):
        recall = sum(s >= t for s in best_copy) / len(best_copy)
        fp_rate = sum(s >= t for s in best_earlier) / len(best_earlier)
        print(f"    {t:.2f}  {recall:7.1%}  {fp_rate:6.2%}")


if __name__ == "__main__":
    main()
