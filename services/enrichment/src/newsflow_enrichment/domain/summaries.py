"""Teaser: the opening words as a site shows them under a headline. Summary: the body's most
representative sentences (TF-IDF weight of their words, a bonus for coming early, a penalty
for quotations), in their order."""

import math

from newsflow_contracts.events import ArticleContent

from .analysis import Analysis, Sentence, analyse, article_text
from .keywords import Terms, is_content_word, terms_of
from .pipeline import Derived, Enricher
from .resources import STOPWORDS, term_stats

TEASER_MAX = 200
TEASER_MIN = 100
ELLIPSIS = "…"
SUMMARY_SENTENCES = 3
_QUOTES = "\"'“‘"


def _body(analysis: Analysis) -> list[Sentence]:
    return [s for s in analysis.sentences if s.paragraph > 0]


def teaser(sentences: list[str], limit: int = TEASER_MAX, enough: int = TEASER_MIN) -> str | None:
    """Whole sentences up to `limit` characters if they make at least `enough`; otherwise the
    words that fit, without a dangling 'the' or comma, and an ellipsis."""
    taken = ""
    for sentence in sentences:
        joined = f"{taken} {sentence}" if taken else sentence
        if len(joined) <= limit:
            taken = joined
            continue
        if len(taken) >= enough:
            return taken
        words = joined[: limit - len(ELLIPSIS) + 1].split(" ")[:-1]
        while words and (
            words[-1].lower().strip(",;:-–—\"'“”‘’(") in STOPWORDS or not words[-1].strip("-–—")
        ):
            words.pop()
        cut = " ".join(words).rstrip(",;:-–—(\"'“‘ ")
        if not cut:  # one word longer than the limit
            cut = joined[: limit - len(ELLIPSIS)]
        return cut + ELLIPSIS
    return taken or None


def summary(terms: Terms, sentences: int = SUMMARY_SENTENCES) -> str | None:
    stats = term_stats()
    body = _body(terms.analysis)
    if not body:
        return None
    scored: list[tuple[float, int]] = []
    for index, sentence in enumerate(body):
        content = {terms.folded.get(w.lower, w.lower) for w in sentence.words if is_content_word(w, stats)}
        if len(sentence.words) < 6 or len(sentence.words) > 60 or not content:
            continue
        weight = sum(terms.weights.get(k, 0.0) for k in content) / math.sqrt(len(sentence.words))
        weight *= 1.0 + 1.0 / (1 + index)
        if sentence.text.lstrip()[:1] in _QUOTES:
            weight *= 0.6
        scored.append((weight, index))
    chosen = sorted(index for _, index in sorted(scored, reverse=True)[:sentences])
    if not chosen:
        chosen = [0]
    return " ".join(body[i].text for i in chosen)


def _teaser(content: ArticleContent, derived: Derived) -> Derived:
    found = teaser([s.text for s in _body(analyse(article_text(content, derived)))])
    return {"teaser": found} if found else {}


def _summary(content: ArticleContent, derived: Derived) -> Derived:
    found = summary(terms_of(article_text(content, derived)))
    return {"summary": found} if found else {}


TEASER = Enricher(name="teaser", version="1", run=_teaser)
SUMMARY = Enricher(name="summary", version="1", run=_summary)
