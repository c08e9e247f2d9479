"""Similarity signature for Related: the article's top terms by TF-IDF (single words, plurals
folded, headline counted twice), as a unit-length sparse vector. Two articles' similarity is
the cosine of their vectors, the sum of the weight products over the terms they share, so an
inverted index from term to (article, weight) finds the nearest articles of a new one by
reading only its own terms' lists."""

import math

from newsflow_contracts.events import ArticleContent, Signature, SignatureTerm

from .analysis import article_text
from .keywords import terms_of
from .pipeline import Derived, Enricher

TERMS = 32
SCHEME = f"tfidf-top{TERMS}"


def signature(weights: dict[str, float], size: int = TERMS) -> Signature:
    top = sorted(weights.items(), key=lambda item: (-item[1], item[0]))[:size]
    norm = math.sqrt(sum(w * w for _, w in top)) or 1.0
    return Signature(
        scheme=f"tfidf-top{size}",
        terms=[SignatureTerm(term=t, weight=round(w / norm, 4)) for t, w in top if w > 0],
    )


def similarity(a: Signature, b: Signature) -> float:
    weights = {t.term: t.weight for t in a.terms}
    return sum(weights.get(t.term, 0.0) * t.weight for t in b.terms)


def _signature(content: ArticleContent, derived: Derived) -> Derived:
    terms = terms_of(article_text(content, derived))
    return {"signature": signature(terms.weights)} if terms.weights else {}


SIGNATURE = Enricher(name="signature", version="1", run=_signature)
