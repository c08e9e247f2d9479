"""Derive enrichment's corpus statistics from a JSON-lines news corpus (`title`, `body`):

- `terms.tsv.gz`: for every word in at least two documents, its document frequency (for IDF)
  and how often it is capitalised when it is not the first word of a sentence (for telling
  names from common words);
- `given_names.mined.txt`: first names seen in front of a surname that the same article also
  calls "Mr X", "Mrs X", "Ms X" or "Dr X", in at least two articles.

    .venv/bin/python services/enrichment/scripts/build_term_stats.py ../shared/corpus/bbc-news.jsonl
"""

import argparse
import gzip
import json
from collections import Counter
from pathlib import Path

from newsflow_enrichment.domain.analysis import analyse

DATA = Path(__file__).resolve().parents[1] / "src/newsflow_enrichment/domain/data"
TITLES = {"mr", "mrs", "ms", "miss", "dr"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--min-df", type=int, default=2)
    args = parser.parse_args()
    df: Counter[str] = Counter()
    inner: Counter[str] = Counter()
    capital: Counter[str] = Counter()
    first_names: Counter[str] = Counter()
    documents = 0
    with args.corpus.open() as lines:
        for line in lines:
            doc = json.loads(line)
            documents += 1
            analysis = analyse(f"{doc['title']}\n\n{doc['body']}")
            df.update({w.lower for w in analysis.words})
            surnames: set[str] = set()
            pairs: set[tuple[str, str]] = set()
            for sentence in analysis.sentences:
                words = sentence.words
                for i, word in enumerate(words):
                    if not word.initial:
                        inner[word.lower] += 1
                        capital[word.lower] += word.capital
                    if i and word.joined and word.capital and words[i - 1].capital:
                        if words[i - 1].lower in TITLES:
                            surnames.add(word.text)
                        else:
                            pairs.add((words[i - 1].text, word.text))
            first_names.update({first for first, last in pairs if last in surnames})
    kept = sorted(t for t, n in df.items() if n >= args.min_df)
    rows = [f"#documents\t{documents}"]
    for term in kept:
        share = round(100 * capital[term] / inner[term]) if inner[term] else -1
        rows.append(f"{term}\t{df[term]}\t{share}")
    data = "\n".join(rows).encode() + b"\n"
    (DATA / "terms.tsv.gz").write_bytes(gzip.compress(data, compresslevel=9, mtime=0))  # reproducible
    names = sorted(
        name
        for name, n in first_names.items()
        if n >= 2 and inner[name.lower()] and capital[name.lower()] / inner[name.lower()] >= 0.9
    )
    (DATA / "given_names.mined.txt").write_text("\n".join(names) + "\n")
    print(f"{documents} documents, {len(kept)} terms, {len(names)} mined first names")


if __name__ == "__main__":
    main()
