"""A simulated readership for demos: who reads what, skewed like real readers (Zipf), with
the favourite stories changing now and then so that Popular moves. Pure: no I/O."""

import random
from dataclasses import dataclass

BROWSERS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
)


@dataclass(frozen=True, slots=True)
class View:
    article_id: str
    visitor_id: str
    user_agent: str


class Readership:
    """Views drawn from a Zipf law (exponent `skew`) over a ranking of the articles; every
    `trend_every` views a story from further down becomes the most read."""

    def __init__(
        self, rng: random.Random, *, visitors: int = 2000, skew: float = 1.1, trend_every: int = 300
    ) -> None:
        self.rng = rng
        self.visitors = [f"reader-{rng.getrandbits(64):016x}" for _ in range(visitors)]
        self.skew = skew
        self.trend_every = trend_every
        self.ranking: list[str] = []
        self.weights: list[float] = []
        self.drawn = 0

    def articles(self, article_ids: list[str]) -> None:
        """The articles there are now: the known ones keep their rank, new ones join at random."""
        known = [a for a in self.ranking if a in set(article_ids)]
        for new in (a for a in article_ids if a not in set(known)):
            known.insert(self.rng.randint(0, len(known)), new)
        self.ranking = known
        self.weights = [1 / (rank**self.skew) for rank in range(1, len(known) + 1)]

    def trend(self) -> None:
        if len(self.ranking) > 1:
            rising = self.ranking.pop(self.rng.randrange(len(self.ranking) // 2, len(self.ranking)))
            self.ranking.insert(0, rising)

    def draw(self, count: int) -> list[View]:
        views = []
        for _ in range(count if self.ranking else 0):
            self.drawn += 1
            if self.drawn % self.trend_every == 0:
                self.trend()
            [article_id] = self.rng.choices(self.ranking, weights=self.weights)
            views.append(View(article_id, self.rng.choice(self.visitors), self.rng.choice(BROWSERS)))
        return views
