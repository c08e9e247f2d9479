"""The replay's pure parts: generation names, the order records are applied in, the progress bar,
the garbage collection."""

import gc
import io
from collections import deque
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition
from newsflow_publication.adapters.generations import generation, parse_name
from newsflow_publication.entrypoints.replay import Progress, next_in_order
from newsflow_publication.entrypoints.replay_gc import ReplayGarbageCollection
from newsflow_publication.settings import Settings

ENRICHED, RETRACTED = TopicPartition("enriched", 3), TopicPartition("retracted", 3)


def records(*timestamps: int) -> deque[Any]:
    return deque(SimpleNamespace(timestamp=t) for t in timestamps)


def test_a_generation_names_its_database_keys_and_group() -> None:
    settings = Settings(publication_db="pub", publication_group="grp")
    legacy, third = generation(settings, 0), generation(settings, 3)
    assert (legacy.database, legacy.redis_prefix, legacy.group) == ("pub", "newsflow:pub", "grp")
    assert (third.name, third.database, third.redis_prefix, third.group) == (
        "g3",
        "pub_g3",
        "newsflow:pub:pub_g3",
        "grp.g3",
    )
    assert parse_name("g3") == 3 and parse_name("g0") == 0
    for wrong in ("3", "g", "g03", "g-1", "G3"):
        with pytest.raises(ValueError):
            parse_name(wrong)


def test_records_of_one_partition_number_are_applied_by_record_time() -> None:
    pending = {ENRICHED: records(10, 30), RETRACTED: records(20)}
    order = []
    while (tp := next_in_order([ENRICHED, RETRACTED], pending, caught_up=set())) is not None:
        order.append((tp.topic, pending[tp].popleft().timestamp))
    assert order == [("enriched", 10), ("retracted", 20)]  # the enriched 30 waits for what follows 20
    order.clear()
    while (tp := next_in_order([ENRICHED, RETRACTED], pending, caught_up={RETRACTED})) is not None:
        order.append((tp.topic, pending[tp].popleft().timestamp))
    assert order == [("enriched", 30)]


def test_a_topic_with_nothing_fetched_holds_the_other_back_until_it_is_at_its_end() -> None:
    pending = {ENRICHED: records(10), RETRACTED: records()}
    assert next_in_order([ENRICHED, RETRACTED], pending, caught_up=set()) is None
    assert next_in_order([ENRICHED, RETRACTED], pending, caught_up={RETRACTED}) is ENRICHED
    assert (
        next_in_order([ENRICHED, RETRACTED], {ENRICHED: records(), RETRACTED: records()}, {ENRICHED}) is None
    )


def test_ties_go_to_the_first_topic() -> None:
    pending = {ENRICHED: records(10), RETRACTED: records(10)}
    assert next_in_order([ENRICHED, RETRACTED], pending, caught_up=set()) is ENRICHED


def test_the_progress_bar_shows_done_total_rate_and_time_left() -> None:
    out = io.StringIO()
    bar = Progress("g2", out, tty=False, every_s=0)
    assert bar.line(500, 2000, elapsed=2.0) == (
        f"g2 [{'#' * 7}{'.' * 23}] 500/2,000 records  25%  250/s  ETA 00:00:06"
    )
    bar.show(2000, 2000, final=True)
    assert out.getvalue().startswith(f"g2 [{'#' * 30}] 2,000/2,000 records 100%")
    tty = io.StringIO()
    Progress("g2", tty, tty=True).show(1, 2, final=False)
    assert tty.getvalue().startswith("\rg2 [")


def test_a_replay_collects_garbage_every_so_many_records_and_restores_the_collector() -> None:
    assert gc.isenabled()
    collections: list[int] = []

    def count(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    gc.callbacks.append(count)
    try:
        with ReplayGarbageCollection(every=1000) as collection:
            assert not gc.isenabled() and gc.get_freeze_count() > 0
            collection.applied(600)
            assert collections == []
            collection.applied(600)
            assert collections == [2]  # a full collection
            collection.applied(600)
            assert collections == [2]
        assert gc.isenabled() and gc.get_freeze_count() == 0
        gc.disable()
        try:
            with ReplayGarbageCollection():
                pass
            assert not gc.isenabled()  # left as it was found
        finally:
            gc.enable()
    finally:
        gc.callbacks.remove(count)
