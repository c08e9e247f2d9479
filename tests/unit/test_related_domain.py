"""Related and More like this, the pure parts."""

import math
from datetime import UTC, datetime, timedelta

import pytest
from newsflow_contracts.events import ListCuration
from newsflow_publication.domain import more_like_this, related
from newsflow_publication.domain.curation import curate
from newsflow_publication.domain.listings import Teaser
from newsflow_publication.domain.related import RelatedIndex

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def unit(**counts: float) -> dict[str, float]:
    norm = math.sqrt(sum(v * v for v in counts.values()))
    return {term: value / norm for term, value in counts.items()}


STORIES = {
    "ferry-1": unit(ferry=3, shipyard=2, contract=1, harbour=1),
    "ferry-2": unit(ferry=2, shipyard=2, apprentice=2, harbour=1),
    "ferry-3": unit(ferry=2, harbour=2, subsidy=1, council=1),
    "budget-1": unit(council=3, budget=3, vote=1, subsidy=1),
    "budget-2": unit(council=2, budget=2, deal=1, vote=1),
    "seal-1": unit(seal=3, colony=2, tracker=1),
    "seal-2": unit(seal=2, pup=2, colony=1, ranger=1),
    "novel-1": unit(novel=3, prize=2, author=1),
}


def index(neighbours: int = 4) -> RelatedIndex:
    built = RelatedIndex(neighbours=neighbours, keep=5)
    for article_id, terms in STORIES.items():
        built.add(article_id, terms)
    return built


def test_related_ranks_the_same_topic_first_and_never_the_article_itself() -> None:
    found = index().related_of("ferry-1")
    assert "ferry-1" not in found
    assert max(found, key=lambda a: found[a]) in {"ferry-2", "ferry-3"}
    assert "novel-1" not in found  # shares no word


def test_scores_are_symmetric() -> None:
    built = index()
    assert built.related_of("ferry-1")["seal-1" if False else "ferry-2"] == pytest.approx(
        built.related_of("ferry-2")["ferry-1"]
    )


def test_a_copy_of_the_story_is_never_related() -> None:
    built = index()
    built.add("ferry-1-copy", {**STORIES["ferry-1"]})
    assert "ferry-1-copy" not in built.related_of("ferry-1")
    assert "ferry-1" not in built.related_of("ferry-1-copy")
    assert "ferry-2" in built.related_of("ferry-1-copy")


def test_a_removed_article_leaves_every_row_and_list() -> None:
    built = index()
    touched = built.remove("ferry-2")
    assert "ferry-1" in touched
    assert all("ferry-2" not in a.row for a in built.articles.values())
    assert all("ferry-2" not in built.related_of(a) for a in built.articles)
    assert "ferry-2" not in built


def test_incremental_rows_after_a_rebuild_equal_a_fresh_build() -> None:
    one_by_one = index(neighbours=3)
    one_by_one.rebuild()
    at_once = RelatedIndex(neighbours=3, keep=5)
    for article_id, terms in STORIES.items():
        at_once.load(article_id, terms)
    at_once.rebuild()
    for article_id in STORIES:
        assert one_by_one.articles[article_id].row == pytest.approx(at_once.articles[article_id].row)
        assert one_by_one.related_of(article_id) == pytest.approx(at_once.related_of(article_id))


def test_second_order_counts_only_once_rows_are_a_small_part_of_the_collection() -> None:
    small = RelatedIndex(neighbours=300)
    small.load("a", {"x": 1.0})
    assert small.second_order_share() == 0.0
    big = RelatedIndex(neighbours=2)
    for n in range(8):
        big.load(str(n), {"x": 1.0})
    assert big.second_order_share() == 1.0


def test_recency_breaks_ties_and_unlisted_articles_drop_out() -> None:
    now_ms = int(NOW.timestamp() * 1000)
    day = 86_400_000
    ranked = related.blend(
        {"old": 0.5, "new": 0.5, "gone": 0.9, "much-closer-but-old": 0.8},
        {"old": now_ms - 60 * day, "new": now_ms, "much-closer-but-old": now_ms - 60 * day},
        now_ms,
    )
    assert ranked == ["much-closer-but-old", "new", "old"]


def teaser(article_id: str, section: str | None, subjects: list[str], hours_old: float) -> Teaser:
    return Teaser(
        article_id=article_id,
        slug=article_id,
        headline=article_id,
        teaser="…",
        section=section,
        subjects=subjects,
        published_at=NOW - timedelta(hours=hours_old),
        version=1,
    )


def test_more_like_this_keeps_to_the_section_and_ranks_shared_subjects_over_freshness() -> None:
    own = teaser("own", "science", ["seals", "colony"], 2)
    ranked = more_like_this.rank(
        own,
        [
            own,
            teaser("fresh-other-topic", "science", ["telescope"], 0),
            teaser("same-subjects", "science", ["seals", "colony"], 30),
            teaser("other-section", "sport", ["seals", "colony"], 0),
        ],
        {},
        NOW,
    )
    assert [t.article_id for t in ranked] == ["same-subjects", "fresh-other-topic"]
    assert more_like_this.candidate_lists(own) == ["section:science"]


def test_more_like_this_prefers_the_more_read_of_two_equals() -> None:
    own = teaser("own", "sport", ["rovers"], 1)
    a, b = teaser("a", "sport", ["rovers"], 5), teaser("b", "sport", ["rovers"], 5)
    assert [t.article_id for t in more_like_this.rank(own, [a, b], {"b": 40.0, "a": 2.0}, NOW)] == ["b", "a"]


def test_pins_come_first_in_the_editors_order_and_win_over_exclusions() -> None:
    curation = ListCuration(pinned=["p2", "gone", "p1", "own"], excluded=["x", "p1"])
    shown = curate(
        ["a", "x", "p1", "b", "c"], curation, listed={"a", "x", "p1", "p2", "b", "c"}, own_id="own", limit=4
    )
    assert shown == ["p2", "p1", "a", "b"]
    assert curate(["own", "a"], None, listed={"a"}, own_id="own", limit=5) == ["a"]
