"""Related and More like this, the pure parts."""

import math
from datetime import UTC, datetime, timedelta

import pytest
from newsflow_contracts.events import ListCuration
from newsflow_publication.domain import more_like_this, related
from newsflow_publication.domain.curation import curate
from newsflow_publication.domain.listings import Teaser
from newsflow_publication.domain.related import RelatedIndex
from newsflow_publication.domain.slots import Slots

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
    assert all("ferry-2" not in built.row_of(a) for a in built.articles)
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
        assert one_by_one.row_of(article_id) == pytest.approx(at_once.row_of(article_id))
        assert one_by_one.related_of(article_id) == pytest.approx(at_once.related_of(article_id))


def test_an_article_taking_a_removed_ones_slot_inherits_nothing_from_it() -> None:
    built = index()
    built.add("ferry-1-copy", {**STORIES["ferry-1"]})
    built.remove("ferry-1-copy")
    built.add("ferry-4", unit(ferry=2, shipyard=1, harbour=2, strike=2))  # close, but no copy
    assert "ferry-4" in built.related_of("ferry-1")  # not left out as the copy was
    built.remove("seal-2")
    built.add("seal-3", unit(seal=2, colony=2, ranger=2))
    assert "seal-3" not in built.row_of("ferry-1")
    assert "seal-3" not in built.related_of("ferry-1")
    assert "seal-2" not in built and "seal-2" not in built.row_of("seal-1")
    assert built.row_of("seal-3").keys() >= {"seal-1"}


def test_rows_and_lists_hold_only_articles_indexed_through_removals_and_readditions() -> None:
    built = index(neighbours=3)
    built.remove("budget-1")
    built.add("ferry-2", unit(ferry=1, apprentice=3, college=2))  # its text changed
    built.remove("novel-1")
    built.add("budget-1", STORIES["budget-1"])
    built.add("novel-2", unit(novel=2, author=2, festival=1))
    built.remove("ferry-3")
    for article_id in built.articles:
        assert set(built.row_of(article_id)) <= set(built.articles) - {article_id}
        assert set(built.related_of(article_id)) <= set(built.articles) - {article_id}
        assert len(built.row_of(article_id)) <= 3
    assert len(built) == len(list(built.articles)) == 7


def test_after_removals_and_readditions_a_rebuild_equals_a_fresh_build_of_what_is_left() -> None:
    texts = {**STORIES, "harbour-1": unit(harbour=3, ferry=1, council=1), "ferry-3": unit(ferry=3, subsidy=2)}
    churned = index(neighbours=3)
    for gone in ("ferry-2", "budget-1", "seal-1"):
        churned.remove(gone)
    for article_id in ("ferry-2", "harbour-1", "ferry-3"):  # ferry-3's text changed
        churned.add(article_id, texts[article_id])
    churned.rebuild()
    fresh = RelatedIndex(neighbours=3, keep=5)
    for article_id in churned.articles:
        fresh.load(article_id, texts[article_id])
    fresh.rebuild()
    assert list(churned.articles) == list(fresh.articles)
    for article_id in fresh.articles:
        assert churned.row_of(article_id) == pytest.approx(fresh.row_of(article_id))
        assert churned.related_of(article_id) == pytest.approx(fresh.related_of(article_id))
        assert churned.idf(next(iter(texts[article_id]))) == fresh.idf(next(iter(texts[article_id])))


def test_a_term_no_article_has_any_more_counts_as_unseen() -> None:
    built = index()
    assert built.idf("novel") < built.idf("unheard")
    built.remove("novel-1")
    assert built.idf("novel") == built.idf("unheard")


def test_replacing_articles_reuses_their_slots_and_those_of_their_words() -> None:
    built = index()
    held = (built._ids.capacity, built._terms.capacity)
    for n in range(2, 22):
        built.remove(f"novel-{n - 1}")
        built.add(f"novel-{n}", {f"word-{n}": 1.0})
    assert "novel-21" in built and len(built) == len(STORIES)
    assert (built._ids.capacity, built._terms.capacity) == held


def test_slots_go_to_new_names_once_released() -> None:
    slots = Slots()
    assert [slots.take(name) for name in ("a", "b", "c", "b")] == [0, 1, 2, 1]
    assert slots.release("b") == 1
    assert "b" not in slots and slots.get("b") is None
    assert slots.take("d") == 1 and slots.name(1) == "d"
    assert list(slots.names()) == ["a", "c", "d"]
    assert (len(slots), slots.capacity) == (3, 3)


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
