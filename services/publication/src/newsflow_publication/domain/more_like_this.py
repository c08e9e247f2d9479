"""More like this: fresh articles of the same section, ranked by the subjects they share
with the article, how new they are and how much they are read. Pure.

The candidates are the newest articles of the article's section (an article without a
section: of its first subjects), from the lists of domain/listings.py; each scores

    SHARED * shared subjects / the article's subjects
  + FRESH * 0.5 ** (age / FRESH_HALF_LIFE)
  + READ * its share of the most-read candidate's views (Popular, 24 hours)

so a story on the same subjects wins over a merely recent one, and among similar ones the
newer and more read come first."""

from collections.abc import Mapping, Sequence
from datetime import datetime

from .listings import Teaser

SHARED, FRESH, READ = 0.5, 0.3, 0.2
FRESH_HALF_LIFE_HOURS = 24.0
SUBJECT_LISTS = 3
"""The first subjects whose lists give the candidates of an article without a section."""
CANDIDATES_PER_LIST = 100


def candidate_lists(article: Teaser) -> list[str]:
    if article.section:
        return [f"section:{article.section}"]
    return [f"subject:{s}" for s in article.subjects[:SUBJECT_LISTS]]


def rank(
    article: Teaser, candidates: Sequence[Teaser], views: Mapping[str, float], now: datetime
) -> list[Teaser]:
    subjects = set(article.subjects)
    most_read = max((views.get(c.article_id, 0.0) for c in candidates), default=0.0) or 1.0
    seen = {article.article_id}
    scored: list[tuple[float, str, Teaser]] = []
    for candidate in candidates:
        if candidate.article_id in seen:
            continue
        seen.add(candidate.article_id)
        if article.section and candidate.section != article.section:
            continue
        shared = len(subjects & set(candidate.subjects)) / len(subjects) if subjects else 0.0
        age_h = (
            max((now - (candidate.first_published_at or candidate.published_at)).total_seconds(), 0) / 3600
        )
        score = (
            SHARED * shared
            + FRESH * 0.5 ** (age_h / FRESH_HALF_LIFE_HOURS)
            + READ * views.get(candidate.article_id, 0.0) / most_read
        )
        scored.append((score, candidate.article_id, candidate))
    return [t for _, _, t in sorted(scored, key=lambda item: (-item[0], item[1]))]
