"""Related articles: the most similar by content, blended with recency. Pure.

Similarity is second-order. First, two articles are near when their words are: the cosine
of their term vectors, each term weighted by its enrichment signature weight (sublinear
term frequency) times its IDF over the articles indexed here. Each article keeps its
`neighbours` nearest by that measure with their similarity: its neighbour row. Then two
articles are related when their rows are alike, the cosine of the rows: stories that
resemble the same stories are about the same thing even when they share few words. On the
BBC corpus (bench/related_eval.py) the first-order cosine alone ranks as a plain TF-IDF
does; the second-order one is about 3 points of precision better.

`RelatedIndex` holds the articles in memory and answers for one article at a time
(`add`, `remove`, `related_of`) or for all of them (`rebuild`). Adding an article computes
its row exactly and puts it into the rows of its neighbours, but leaves the rows of the
others as they were computed, with the IDF of that moment; `rebuild` recomputes every row
with today's IDF, so the indexer runs it when the collection has grown enough since the
last one (see entrypoints/related_indexer.py)."""

import heapq
import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from operator import itemgetter

NEIGHBOURS = 300
"""Size of a neighbour row. On the BBC corpus (bench/related_eval.py, seed 1), P@5 was 0.956 with
150, 0.960 with 200, 0.961 with 250 and with 300. An index of 2,000 corpus articles took 58 MB
of memory with 150 and 87 MB with 300."""
KEEP = 50
"""Related articles stored per article (a page shows 5 to 10 of them)."""
FIRST_SHARE = 0.5
"""Weight of the first-order cosine beside the second-order one (whose weight is 1 in a
collection of four rows or more, see `second_order_share`): the same precision on the BBC
corpus as the second-order one alone."""
SAME_STORY = 0.8
"""First-order cosine above which two articles are taken for copies of one story."""
RECENCY_HALF_LIFE_DAYS = 30.0
RECENCY_SHARE = 0.2
"""Share of the score that recency can take away from an old article: 0.8 to 1.0 of its
similarity, 0.9 at one half-life of age."""

Row = dict[str, float]


@dataclass
class _Article:
    terms: dict[str, float]
    """Term -> signature weight (sublinear term frequency; the vector has unit length)."""
    vector: dict[str, float] = field(default_factory=dict)
    """Term -> weight times IDF, unit length: the IDF of when it was last computed."""
    row: Row = field(default_factory=dict)
    row_sumsq: float = 0.0
    """Sum of the squares of the row's similarities, kept with the row."""
    weakest: tuple[float, str] | None = None
    """The row's weakest (similarity, member), when known: offers below it cost nothing."""
    same_story: set[str] = field(default_factory=set)


def recency_factor(age_days: float, half_life_days: float = RECENCY_HALF_LIFE_DAYS) -> float:
    return 1.0 - RECENCY_SHARE + RECENCY_SHARE * float(0.5 ** (max(age_days, 0.0) / half_life_days))


def blend(similar: Mapping[str, float], published_ms: Mapping[str, int], now_ms: int) -> list[str]:
    """Similarity times recency, best first; articles without a time (no longer listed)
    are left out."""
    day_ms = 86_400_000
    scored = [
        (score * recency_factor((now_ms - published_ms[article_id]) / day_ms), article_id)
        for article_id, score in similar.items()
        if article_id in published_ms
    ]
    return [article_id for _, article_id in sorted(scored, key=lambda item: (-item[0], item[1]))]


def _top(scores: Mapping[str, float], n: int) -> Row:
    return dict(heapq.nlargest(n, scores.items(), key=lambda item: (item[1], item[0])))


class RelatedIndex:
    def __init__(self, neighbours: int = NEIGHBOURS, keep: int = KEEP) -> None:
        self.neighbours = neighbours
        self.keep = keep
        self.articles: dict[str, _Article] = {}
        self.postings: dict[str, dict[str, float]] = defaultdict(dict)
        """Term -> the articles that have it, with its weight in their vectors."""
        self.holders: dict[str, dict[str, float]] = defaultdict(dict)
        """Article -> the articles whose row has it, with its similarity there."""

    def __len__(self) -> int:
        return len(self.articles)

    def __contains__(self, article_id: str) -> bool:
        return article_id in self.articles

    def idf(self, term: str) -> float:
        n = len(self.articles)
        return math.log((1 + n) / (1 + len(self.postings.get(term, ())))) + 1.0

    def _vectorise(self, article_id: str) -> None:
        """The article's unit vector with today's IDF, into the postings too."""
        article = self.articles[article_id]
        weighted = {term: weight * self.idf(term) for term, weight in article.terms.items()}
        norm = math.sqrt(sum(w * w for w in weighted.values())) or 1.0
        article.vector = {term: w / norm for term, w in weighted.items()}
        for term, w in article.vector.items():
            self.postings[term][article_id] = w

    def _first_order(self, article_id: str) -> Row:
        """Cosine with every article sharing a term. Each vector carries the IDF of when it
        was computed, so a cosine stays between 0 and 1 while the IDF drifts."""
        dots: dict[str, float] = defaultdict(float)
        for term, weight in self.articles[article_id].vector.items():
            for other, other_weight in self.postings[term].items():
                dots[other] += weight * other_weight
        dots.pop(article_id, None)
        return dots

    def _set_row(self, article_id: str, row: Row) -> None:
        article = self.articles[article_id]
        for gone in article.row.keys() - row.keys():
            self.holders[gone].pop(article_id, None)
        for member, similarity in row.items():
            self.holders[member][article_id] = similarity
        article.row = row
        article.row_sumsq = sum(s * s for s in row.values())
        article.weakest = None

    def _offer(self, article_id: str, candidate: str, similarity: float) -> None:
        """Put `candidate` into the article's row if it is among its nearest."""
        row = self.articles[article_id].row
        article = self.articles[article_id]
        row = article.row
        if len(row) >= self.neighbours:
            if article.weakest is None or row.get(article.weakest[1]) != article.weakest[0]:
                member, weakest = min(row.items(), key=itemgetter(1))
                article.weakest = (weakest, member)
            if similarity <= article.weakest[0]:
                return
            article.row_sumsq -= row.pop(article.weakest[1]) ** 2
            self.holders[article.weakest[1]].pop(article_id, None)
            article.weakest = None
        row[candidate] = similarity
        article.row_sumsq += similarity * similarity
        if article.weakest is not None and similarity < article.weakest[0]:
            article.weakest = (similarity, candidate)
        self.holders[candidate][article_id] = similarity

    def _index_row(self, article_id: str) -> None:
        first = self._first_order(article_id)
        article = self.articles[article_id]
        article.same_story = {other for other, s in first.items() if s >= SAME_STORY}
        self._set_row(article_id, _top(first, self.neighbours))

    def add(self, article_id: str, terms: Mapping[str, float]) -> None:
        """Index an article (again, if its text changed): its row, and its place in its
        neighbours' rows."""
        self.load(article_id, terms)
        self._index_row(article_id)
        for other, similarity in self.articles[article_id].row.items():
            self._offer(other, article_id, similarity)
            if similarity >= SAME_STORY:
                self.articles[other].same_story.add(article_id)

    def load(self, article_id: str, terms: Mapping[str, float]) -> None:
        """Take an article's vector without computing any row: for loading many articles
        before a `rebuild`."""
        if article_id in self.articles:
            self.remove(article_id)
        self.articles[article_id] = _Article(dict(terms))
        for term in terms:
            self.postings[term][article_id] = 0.0  # counted in the IDF of its own vector
        self._vectorise(article_id)

    def remove(self, article_id: str) -> set[str]:
        """Forget an article; returns the articles whose rows lost it."""
        article = self.articles.pop(article_id, None)
        if article is None:
            return set()
        for term in article.terms:
            self.postings[term].pop(article_id, None)
            if not self.postings[term]:
                del self.postings[term]
        for member in article.row:
            self.holders[member].pop(article_id, None)
        touched = self.holders.pop(article_id, {}).keys()
        for other in list(touched):
            holder = self.articles[other]
            holder.row_sumsq -= holder.row.pop(article_id, 0.0) ** 2
            holder.same_story.discard(article_id)
        return set(touched)

    def refresh_vectors(self) -> None:
        """Every vector with today's IDF: the first step of a rebuild."""
        for article_id in self.articles:
            self._vectorise(article_id)

    def reindex(self, article_id: str) -> None:
        """The article's row again with today's IDF: the second step of a rebuild, for every
        article (one at a time, so that a caller can pause between them)."""
        if article_id in self.articles:
            self._index_row(article_id)

    def rebuild(self) -> None:
        self.refresh_vectors()
        for article_id in list(self.articles):
            self.reindex(article_id)

    def second_order_share(self) -> float:
        """0 while rows hold most of the collection (they are then alike for every article
        and say nothing), rising to 1 once the collection is four rows big."""
        return min(1.0, max(0.0, (len(self.articles) - self.neighbours) / (3 * self.neighbours)))

    def related_of(self, article_id: str) -> Row:
        """The `keep` most related articles by second-order similarity (with a share of the
        first-order one), copies of the same story left out."""
        article = self.articles.get(article_id)
        if article is None or not article.row:
            return {}
        dots: dict[str, float] = defaultdict(float)
        for member, weight in article.row.items():
            for holder, holder_weight in self.holders.get(member, {}).items():
                dots[holder] += weight * holder_weight
        dots.pop(article_id, None)
        for copy in article.same_story:
            dots.pop(copy, None)
        own = math.sqrt(article.row_sumsq)
        second_share = self.second_order_share()
        scores = {
            other: (
                second_share * dot / (own * math.sqrt(self.articles[other].row_sumsq) or 1.0)
                + FIRST_SHARE * article.row.get(other, 0.0)
            )
            / (second_share + FIRST_SHARE)
            for other, dot in dots.items()
        }
        return _top(scores, self.keep)
