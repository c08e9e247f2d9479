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

from __future__ import annotations

import heapq
import math
from array import array
from collections.abc import KeysView, Mapping

from .slots import Slots

NEIGHBOURS = 300
"""Size of a neighbour row. On the BBC corpus (bench/related_eval.py, seed 1), P@5 was 0.956 with
150, 0.960 with 200, 0.961 with 250 and with 300. An index of 2,000 corpus articles, in dicts of
strings, took 58 MB of memory with 150 and 87 MB with 300; in arrays it takes 23 MB with 300,
24 MB once 1,650 of them have been replaced (bench/related_index.py, tracemalloc)."""
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
EMPTY = -1
"""Member slot of a free place in a row."""
POSITION_BITS = 20
"""A term's occurrence in an article is one integer: the article's slot, shifted left by this
many bits, and the term's position among the article's terms (a million terms at most)."""


class _Article:
    """What is kept of one article beside its row (see `RelatedIndex`)."""

    __slots__ = ("holders", "size", "sumsq", "terms", "weakest", "weights")

    def __init__(self, terms: array[int], weights: array[float]) -> None:
        self.terms = terms
        """Term slots."""
        self.weights = weights
        """Signature weight of each term (sublinear term frequency; unit length)."""
        self.size = 0
        """Members in the row."""
        self.sumsq = 0.0
        """Sum of the squares of the row's similarities, kept with the row."""
        self.weakest: int | None = None
        """Place of the full row's weakest member, when known: offers below it cost nothing."""
        self.holders = array("i")
        """The places, in other articles' rows, that hold this one."""


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


class RelatedIndex:
    """Articles and terms are held as small integers (`Slots`), and what is known of them in
    arrays of those and of floats rather than in dicts of strings: a fraction of the memory.

    The rows lie end to end in two arrays, members and similarities, `neighbours` places an
    article slot. A member keeps its place while it stays in the row, and each article
    lists the places that hold it, so that a row can be read either way."""

    def __init__(self, neighbours: int = NEIGHBOURS, keep: int = KEEP) -> None:
        self.neighbours = neighbours
        self.keep = keep
        self._ids = Slots()
        self._by_slot: list[_Article | None] = []
        self._members: array[int] = array("i")
        self._similarities: array[float] = array("d")
        self._vectors: list[array[float]] = []
        """Article slot -> the weight times IDF of each of its terms, unit length: the IDF of
        when it was last computed. Apart from `_Article` for the first-order loop's sake."""
        self._terms = Slots()
        self._postings: list[array[int]] = []
        """Term slot -> its occurrences (`POSITION_BITS`)."""
        self._copies: dict[int, set[int]] = {}
        """Article slot -> its copies (first-order cosine of `SAME_STORY` or more), if any."""

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, article_id: str) -> bool:
        return article_id in self._ids

    @property
    def articles(self) -> KeysView[str]:
        """The ids of the articles indexed, in the order they were (last) loaded."""
        return self._ids.names()

    def idf(self, term: str) -> float:
        slot = self._terms.get(term)
        return self._idf(0 if slot is None else len(self._postings[slot]))

    def _idf(self, holding: int) -> float:
        return math.log((1 + len(self._ids)) / (1 + holding)) + 1.0

    def _article(self, slot: int) -> _Article:
        article = self._by_slot[slot]
        assert article is not None, f"no article in slot {slot}"
        return article

    def _places(self, slot: int) -> range:
        return range(slot * self.neighbours, (slot + 1) * self.neighbours)

    def _row(self, slot: int) -> list[tuple[int, int, float]]:
        """(place, member, similarity) of the row's members."""
        places = self._places(slot)
        members = self._members[places.start : places.stop]
        similarities = self._similarities[places.start : places.stop]
        return [
            (place, member, similarity)
            for place, member, similarity in zip(places, members, similarities, strict=True)
            if member != EMPTY
        ]

    def row_of(self, article_id: str) -> Row:
        """The article's neighbour row: neighbour id -> first-order cosine."""
        slot = self._ids.get(article_id)
        if slot is None:
            return {}
        return {self._ids.name(member): similarity for _, member, similarity in self._row(slot)}

    def _vectorise(self, slot: int) -> None:
        """The article's unit vector with today's IDF."""
        article = self._article(slot)
        weighted = [
            w * self._idf(len(self._postings[t])) for t, w in zip(article.terms, article.weights, strict=True)
        ]
        norm = math.sqrt(sum(w * w for w in weighted)) or 1.0
        self._vectors[slot] = array("d", [w / norm for w in weighted])

    def _first_order(self, slot: int) -> list[tuple[float, int]]:
        """(cosine, slot) of every other article sharing a term. Each vector carries the IDF
        of when it was computed, so a cosine stays between 0 and 1 while the IDF drifts."""
        dots = [0.0] * self._ids.capacity
        vectors, mask = self._vectors, (1 << POSITION_BITS) - 1
        for term, weight in zip(self._article(slot).terms, vectors[slot], strict=True):
            for occurrence in self._postings[term]:
                other = occurrence >> POSITION_BITS
                dots[other] += weight * vectors[other][occurrence & mask]
        return [(dot, other) for other, dot in enumerate(dots) if dot > 0.0 and other != slot]

    def _top(self, scored: list[tuple[float, int]], n: int) -> list[tuple[float, int]]:
        """The `n` best, ties to the greater article id."""
        name = self._ids.name
        best = heapq.nlargest(n, [(score, name(slot), slot) for score, slot in scored])
        return [(score, slot) for score, _, slot in best]

    def _place(self, slot: int, member: int, similarity: float) -> int:
        """Put a member into a free place of the row; returns the place."""
        places = self._places(slot)
        place = self._members.index(EMPTY, places.start, places.stop)
        self._members[place] = member
        self._similarities[place] = similarity
        self._article(member).holders.append(place)
        article = self._article(slot)
        article.size += 1
        article.sumsq += similarity * similarity
        return place

    def _vacate(self, place: int, *, holders_too: bool = True) -> None:
        """Take the member out of the row's place (and the place out of its holders)."""
        article = self._article(place // self.neighbours)
        if holders_too:
            self._article(self._members[place]).holders.remove(place)
        article.size -= 1
        article.sumsq -= self._similarities[place] ** 2
        if article.weakest == place:
            article.weakest = None
        self._members[place] = EMPTY
        self._similarities[place] = 0.0

    def _set_row(self, slot: int, row: list[tuple[float, int]]) -> None:
        """The row becomes `row`; members that stay keep their places."""
        wanted = {member: similarity for similarity, member in row}
        for place, member, _ in self._row(slot):
            if member in wanted:
                self._similarities[place] = wanted.pop(member)
            else:
                self._vacate(place)
        for member, similarity in wanted.items():
            self._place(slot, member, similarity)
        article = self._article(slot)
        article.sumsq = sum(s * s for _, _, s in self._row(slot))
        article.weakest = None

    def _offer(self, slot: int, candidate: int, similarity: float) -> None:
        """Put `candidate` into the article's row if it is among its nearest."""
        article = self._article(slot)
        if article.size >= self.neighbours:
            if article.weakest is None:
                article.weakest = min(self._places(slot), key=self._similarities.__getitem__)
            if similarity <= self._similarities[article.weakest]:
                return
            self._vacate(article.weakest)
        place = self._place(slot, candidate, similarity)
        if article.weakest is not None and similarity < self._similarities[article.weakest]:
            article.weakest = place

    def _index_row(self, slot: int) -> None:
        first = self._first_order(slot)
        copies = {other for similarity, other in first if similarity >= SAME_STORY}
        if copies:
            self._copies[slot] = copies
        else:
            self._copies.pop(slot, None)
        self._set_row(slot, self._top(first, self.neighbours))

    def add(self, article_id: str, terms: Mapping[str, float]) -> None:
        """Index an article (again, if its text changed): its row, and its place in its
        neighbours' rows."""
        slot = self._load(article_id, terms)
        self._index_row(slot)
        for _, other, similarity in self._row(slot):
            self._offer(other, slot, similarity)
            if similarity >= SAME_STORY:
                self._copies.setdefault(other, set()).add(slot)

    def load(self, article_id: str, terms: Mapping[str, float]) -> None:
        """Take an article's vector without computing any row: for loading many articles
        before a `rebuild`."""
        self._load(article_id, terms)

    def _load(self, article_id: str, terms: Mapping[str, float]) -> int:
        self.remove(article_id)
        slot = self._ids.take(article_id)
        term_slots = array("i", [self._terms.take(term) for term in terms])
        for position, term in enumerate(term_slots):
            if term == len(self._postings):
                self._postings.append(array("q"))
            self._postings[term].append(slot << POSITION_BITS | position)  # counted in its own IDF
        article = _Article(term_slots, array("d", terms.values()))
        if slot == len(self._by_slot):
            self._by_slot.append(article)
            self._vectors.append(array("d"))
            self._members.extend([EMPTY] * self.neighbours)
            self._similarities.extend([0.0] * self.neighbours)
        else:
            self._by_slot[slot] = article
        self._vectorise(slot)
        return slot

    def remove(self, article_id: str) -> set[str]:
        """Forget an article; returns the articles whose rows lost it."""
        if article_id not in self._ids:
            return set()
        slot = self._ids.release(article_id)
        article = self._article(slot)
        for position, term in enumerate(article.terms):
            self._postings[term].remove(slot << POSITION_BITS | position)
            if not self._postings[term]:
                self._terms.release(self._terms.name(term))
        for place, _, _ in self._row(slot):
            self._vacate(place)
        touched = {self._ids.name(place // self.neighbours) for place in article.holders}
        for place in article.holders:
            self._vacate(place, holders_too=False)
        self._by_slot[slot] = None
        self._vectors[slot] = array("d")
        # every mention of the slot goes, as a new article will take it
        self._copies.pop(slot, None)
        for copies in self._copies.values():
            copies.discard(slot)
        return touched

    def refresh_vectors(self) -> None:
        """Every vector with today's IDF: the first step of a rebuild."""
        for slot, article in enumerate(self._by_slot):
            if article is not None:
                self._vectorise(slot)

    def reindex(self, article_id: str) -> None:
        """The article's row again with today's IDF: the second step of a rebuild, for every
        article (one at a time, so that a caller can pause between them)."""
        slot = self._ids.get(article_id)
        if slot is not None:
            self._index_row(slot)

    def rebuild(self) -> None:
        self.refresh_vectors()
        for article_id in list(self.articles):
            self.reindex(article_id)

    def second_order_share(self) -> float:
        """0 while rows hold most of the collection (they are then alike for every article
        and say nothing), rising to 1 once the collection is four rows big."""
        return min(1.0, max(0.0, (len(self) - self.neighbours) / (3 * self.neighbours)))

    def related_of(self, article_id: str) -> Row:
        """The `keep` most related articles by second-order similarity (with a share of the
        first-order one), copies of the same story left out."""
        slot = self._ids.get(article_id)
        row = [] if slot is None else self._row(slot)
        if slot is None or not row:
            return {}
        dots = [0.0] * self._ids.capacity
        similarities, neighbours = self._similarities, self.neighbours
        for _, member, weight in row:
            for place in self._article(member).holders:
                dots[place // neighbours] += weight * similarities[place]
        left_out = {slot} | self._copies.get(slot, set())
        first = {member: similarity for _, member, similarity in row}
        own = math.sqrt(self._article(slot).sumsq)
        second_share = self.second_order_share()
        scores = [
            (
                (
                    second_share * dot / (own * math.sqrt(self._article(other).sumsq) or 1.0)
                    + FIRST_SHARE * first.get(other, 0.0)
                )
                / (second_share + FIRST_SHARE),
                other,
            )
            for other, dot in enumerate(dots)
            if dot > 0.0 and other not in left_out
        ]
        return {self._ids.name(other): score for score, other in self._top(scores, self.keep)}
