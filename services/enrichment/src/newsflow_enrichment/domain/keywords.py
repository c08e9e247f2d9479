"""Keywords: the article's own words and phrases weighted by TF-IDF against the bundled
corpus statistics. Candidates are runs of content words (no stopword, number or punctuation
between them) of one to three words; plurals fold into their singular when both appear.
The headline counts twice."""

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from newsflow_contracts.events import ArticleContent, Keyword

from .analysis import Analysis, Word, analyse, article_text, english_or_unknown
from .pipeline import Derived, Enricher
from .resources import NOT_NAMES, STOPWORDS, TITLES, TermStats, gazetteer, term_stats

MAX_KEYWORDS = 10
MAX_PHRASE_WORDS = 3
HEADLINE_WEIGHT = 2


@dataclass(frozen=True, slots=True)
class Terms:
    """Per-article term statistics every text-weighing enricher shares."""

    analysis: Analysis
    folded: dict[str, str]
    """Word (lower case) -> its key: a plural maps to its singular when the article has both."""
    weights: dict[str, float]
    """Key -> TF-IDF weight of the single word."""
    phrases: Counter[tuple[str, ...]]
    """Key tuples of one to three content words -> weighted occurrences."""
    in_body: Counter[tuple[str, ...]]
    """Occurrences in the body alone."""
    surfaces: dict[tuple[str, ...], Counter[str]]
    """How each phrase was written, for display."""


def is_content_word(word: Word, stats: TermStats) -> bool:
    lower = word.lower
    return (
        len(lower) > 2
        and lower not in STOPWORDS
        and not any(c.isdigit() for c in lower)
        and not stats.too_common(lower)
        and not stats.is_contraction(lower)
    )


def _runs(analysis: Analysis, stats: TermStats) -> list[tuple[int, list[Word]]]:
    """(weight, words) of every run of adjacent content words."""
    runs: list[tuple[int, list[Word]]] = []
    for sentence in analysis.sentences:
        weight = HEADLINE_WEIGHT if sentence.paragraph == 0 else 1
        run: list[Word] = []
        for word in sentence.words:
            if is_content_word(word, stats):
                if run and not word.joined:
                    runs.append((weight, run))
                    run = []
                run.append(word)
            elif run:
                runs.append((weight, run))
                run = []
        if run:
            runs.append((weight, run))
    return runs


@lru_cache(maxsize=32)
def terms_of(text: str) -> Terms:
    stats = term_stats()
    analysis = analyse(text)
    runs = _runs(analysis, stats)
    seen = {w.lower for _, run in runs for w in run}
    folded = {}
    for lower in seen:
        if lower.endswith("ies") and lower[:-3] + "y" in seen:
            folded[lower] = lower[:-3] + "y"
        elif lower.endswith("s") and not lower.endswith("ss") and lower[:-1] in seen:
            folded[lower] = lower[:-1]
        else:
            folded[lower] = lower
    phrases: Counter[tuple[str, ...]] = Counter()
    in_body: Counter[tuple[str, ...]] = Counter()
    surfaces: dict[tuple[str, ...], Counter[str]] = {}
    for weight, run in runs:
        keys = [folded[w.lower] for w in run]
        proper = [w.capital and not (w.initial and stats.is_common_word(w.lower)) for w in run]
        for size in range(1, MAX_PHRASE_WORDS + 1):
            for i in range(len(run) - size + 1):
                if size > 1 and len(set(proper[i : i + size])) > 1:
                    continue  # 'Melbourne crowd', 'executive Geoff Dixon': not one phrase
                key = tuple(keys[i : i + size])
                phrases[key] += weight
                if weight == 1:
                    in_body[key] += 1
                words = run[i : i + size]
                surface = " ".join(w.text for w in words)
                if not proper[i]:
                    surface = surface.lower()
                surfaces.setdefault(key, Counter())[surface] += 1 if words[0].initial else 2
    unseen = stats.unseen_idf
    weights = {key[0]: n * stats.idf.get(key[0], unseen) for key, n in phrases.items() if len(key) == 1}
    return Terms(analysis, folded, weights, phrases, in_body, surfaces)


def keywords(terms: Terms, limit: int = MAX_KEYWORDS) -> list[Keyword]:
    stats = term_stats()
    first_names = gazetteer().given_names
    scored: list[tuple[float, tuple[str, ...]]] = []
    for key, n in terms.phrases.items():
        body = terms.in_body[key]
        if not body:
            continue  # a headline's words are weighed, but a keyword must be in the text
        if len(key) == 1:
            if key[0] in NOT_NAMES or key[0] in TITLES or key[0].capitalize() in first_names:
                continue  # 'British', 'Councillor', 'Annika': not what the article is about
            surface = terms.surfaces[key].most_common(1)[0][0]
            if surface[0].isupper() and stats.is_common_word(key[0]):
                continue  # 'Bank' of 'Bank of Alexandria', 'Song' of 'Eurovision Song Contest
            penalty = 0.5 if key[0].endswith(("ed", "ly")) else 1.0
            scored.append((terms.weights[key[0]] * penalty, key))
        elif (body >= 2 or n > body) and len(set(key)) == len(key):
            idf = sum(stats.idf.get(k, stats.unseen_idf) for k in key)
            scored.append((n * idf, key))
    scored.sort(key=lambda item: (-item[0], item[1]))
    chosen: list[tuple[float, tuple[str, ...]]] = []
    for score, key in scored:
        overlapping = [c for c in chosen if set(c[1]) & set(key)]
        if not overlapping:
            chosen.append((score, key))
        elif all(set(c[1]) < set(key) for c in overlapping) and terms.phrases[key] * 2 >= max(
            terms.phrases[c[1]] for c in overlapping
        ):
            # a phrase that takes in words already chosen replaces them where it is about as frequent
            chosen = [c for c in chosen if c not in overlapping] + [(overlapping[0][0], key)]
        if len(chosen) >= limit:
            break
    if not chosen:
        return []
    top = max(score for score, _ in chosen)
    return [
        Keyword(term=terms.surfaces[key].most_common(1)[0][0], score=round(score / top, 3))
        for score, key in sorted(chosen, key=lambda item: -item[0])
    ]


def _keywords(content: ArticleContent, derived: Derived) -> Derived:
    if not english_or_unknown(content, derived):
        return {}
    return {"keywords": keywords(terms_of(article_text(content, derived)))}


KEYWORDS = Enricher(name="keywords", version="1", run=_keywords)
