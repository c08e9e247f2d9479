"""Duplicate detection, pure: exact fingerprints, MinHash, LSH bands and the decision."""

import json
import os
import subprocess
import sys
from itertools import combinations
from pathlib import Path

import pytest
from newsflow_ingest.domain.dedup import (
    DEFAULT_NEAR_THRESHOLD,
    DEFAULT_SCHEME,
    MinHashScheme,
    band_keys,
    body_words,
    fingerprint,
    judge,
    similarity,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = {
    a["external_id"]: a for a in map(json.loads, (ROOT / "samples/articles.jsonl").read_text().splitlines())
}
COPIES = [json.loads(line) for line in (ROOT / "tests/fixtures/dedup/copies.jsonl").read_text().splitlines()]
THRESHOLD = DEFAULT_NEAR_THRESHOLD


def test_normalised_words_ignore_markup_case_entities_and_punctuation() -> None:
    assert body_words("<p>The <strong>Mayor</strong> said: &ldquo;Yes&rdquo;.</p><p>Done</p>") == [
        "the",
        "mayor",
        "said",
        "yes",
        "done",
    ]


@pytest.mark.parametrize("copy", [c for c in COPIES if c["kind"] == "exact"], ids=lambda c: c["external_id"])
def test_the_same_body_under_another_headline_is_an_exact_duplicate(copy: dict[str, str]) -> None:
    original = fingerprint(SAMPLES[copy["of"]]["body_html"])
    again = fingerprint(copy["body_html"])
    assert again.exact == original.exact
    found = judge(again.signature, exact_of="first", candidates={}, threshold=THRESHOLD)
    assert found is not None and (found.of_article_id, found.kind, found.similarity) == (
        "first",
        "exact",
        1.0,
    )


@pytest.mark.parametrize("copy", [c for c in COPIES if c["kind"] == "near"], ids=lambda c: c["external_id"])
def test_a_lightly_edited_copy_is_a_near_duplicate_of_its_original(copy: dict[str, str]) -> None:
    edited = fingerprint(copy["body_html"])
    assert edited.exact != fingerprint(SAMPLES[copy["of"]]["body_html"]).exact
    every_sample = {key: fingerprint(a["body_html"]) for key, a in SAMPLES.items()}
    # LSH: the original is among the candidates, found through a shared band
    sharing = {
        key
        for key, fp in every_sample.items()
        if set(band_keys(fp.signature)) & set(band_keys(edited.signature))
    }
    assert copy["of"] in sharing
    found = judge(
        edited.signature,
        exact_of=None,
        candidates={key: every_sample[key].signature for key in sharing},
        threshold=THRESHOLD,
    )
    assert found is not None and (found.of_article_id, found.kind) == (copy["of"], "near")
    assert THRESHOLD <= found.similarity < 1


def test_distinct_articles_are_not_duplicates_even_on_the_same_story() -> None:
    # the samples include follow-ups on one story (the budget row, then the vote) by design
    prints = {key: fingerprint(a["body_html"]) for key, a in SAMPLES.items()}
    assert len({fp.exact for fp in prints.values()}) == len(prints)
    closest = max(similarity(a.signature, b.signature) for a, b in combinations(prints.values(), 2))
    assert closest < THRESHOLD
    for key, fp in prints.items():
        others = {k: p.signature for k, p in prints.items() if k != key}
        assert judge(fp.signature, exact_of=None, candidates=others, threshold=THRESHOLD) is None


def test_the_most_similar_candidate_wins_and_exact_beats_near() -> None:
    a, b = (1, 2, 3, 4), (1, 2, 3, 9)
    found = judge(a, exact_of=None, candidates={"b": b, "a": a, "z": a}, threshold=0.5)
    assert found is not None and (found.of_article_id, found.similarity) == ("a", 1.0)
    assert judge(a, exact_of=None, candidates={"b": b}, threshold=0.8) is None
    exact = judge(a, exact_of="x", candidates={"a": a}, threshold=0.5)
    assert exact is not None and (exact.of_article_id, exact.kind) == ("x", "exact")


def test_banding_math_puts_the_candidate_curve_below_the_threshold() -> None:
    scheme = DEFAULT_SCHEME
    assert scheme.bands * scheme.rows == scheme.permutations == len(fingerprint("<p>a b c</p>").signature)
    assert scheme.lsh_threshold() < THRESHOLD
    assert scheme.candidate_probability(THRESHOLD) > 0.98
    assert scheme.candidate_probability(0.1) < 0.01
    with pytest.raises(ValueError):
        MinHashScheme(permutations=128, bands=30)


def test_an_empty_or_short_body_still_has_a_fingerprint() -> None:
    assert fingerprint("<p></p>").words == 0
    short = fingerprint("<p>Two words</p>")
    assert short.words == 2 and similarity(short.signature, fingerprint("<p>two WORDS.</p>").signature) == 1


def test_fingerprints_are_the_same_in_another_process() -> None:
    """Stored fingerprints are compared across processes and restarts: no salted hash()."""
    body = SAMPLES["demo-001"]["body_html"]
    here = fingerprint(body)
    script = (
        "import json, sys; from newsflow_ingest.domain.dedup import band_keys, fingerprint;"
        "fp = fingerprint(sys.stdin.read());"
        "print(json.dumps([fp.exact, list(fp.signature), band_keys(fp.signature)]))"
    )
    for seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", script],
            input=body,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        assert json.loads(out) == [here.exact, list(here.signature), band_keys(here.signature)]
