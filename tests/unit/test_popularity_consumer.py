"""How the page-view consumer reads a batch (no Kafka or Redis needed): which records are
views and what is kept of them, and why each of the others goes to the dead-letter topic; and
how the counting script's argument groups the views (one target per article and 5-minute
bucket)."""

import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from newsflow_publication.adapters.popularity import NOT_COUNTED, View, _ScriptBatch
from newsflow_publication.entrypoints.popularity_consumer import VALIDATED_AT_ONCE, _decode
from pydantic import ValidationError

VIEWED_AT = datetime(2026, 3, 1, 12, 0, 7, tzinfo=UTC)
NOW_S = VIEWED_AT.timestamp() + 60


def record(
    offset: int,
    value: bytes | None = None,
    *,
    view_id: bytes | None = b"v",
    event_type: bytes | None = b"news.pageview.recorded.v1",
    partition: int = 0,
) -> Any:
    headers = [("ce_source", b"/site"), ("ce_time", b"\xff not utf-8, and not read")]
    if view_id is not None:
        headers.append(("ce_id", view_id))
    if event_type is not None:
        headers.append(("ce_type", event_type))
    if value is None:
        value = json.dumps(
            {"article_id": f"a{offset}", "site": "s", "viewed_at": VIEWED_AT.isoformat(), "visitor": "h1"}
        ).encode()
    return SimpleNamespace(
        topic="news.pageview.recorded.v1", partition=partition, offset=offset, headers=headers, value=value
    )


def test_a_batch_of_views_keeps_what_the_counters_need() -> None:
    views, invalid = _decode((record(1, view_id=b"v1"), record(2, view_id=b"v2", partition=3)))
    assert invalid == []
    assert views == [
        View(0, 1, "v1", "a1", VIEWED_AT.timestamp(), "h1"),
        View(3, 2, "v2", "a2", VIEWED_AT.timestamp(), "h1"),
    ]


def test_each_record_that_is_not_a_view_is_set_apart_with_its_reason_and_the_rest_still_count() -> None:
    batch = (
        record(1, view_id=b"ok-1"),
        record(2, view_id=None),
        record(3, event_type=b"news.article.published.v1"),
        record(4, event_type=None),
        record(5, view_id=b"\xff\xfe"),
        record(6, view_id=b"x" * 201),
        record(7, b"{not json"),
        record(8, b'{"article_id": "a8", "site": ""}'),
        record(9, None, view_id=b"ok-9"),
        SimpleNamespace(topic="t", partition=0, offset=10, headers=None, value=b"{}"),
    )
    batch[8].value = None  # a null value: no body at all
    views, invalid = _decode(batch)
    assert [v.offset for v in views] == [1]
    reasons = {r.offset: e for r, e in invalid}
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert str(reasons[2]) == "no ce_id header"
    assert "news.article.published.v1" in str(reasons[3]) and "None" in str(reasons[4])
    assert isinstance(reasons[5], UnicodeDecodeError)
    assert str(reasons[6]) == "ce_id longer than 200 characters"
    assert all(isinstance(reasons[o], ValidationError) for o in (7, 8, 9))
    assert "json_invalid" in str(reasons[7]) and "site" in str(reasons[8])
    assert str(reasons[10]) == "no ce_id header"


def test_a_batch_larger_than_a_validation_chunk_keeps_every_view_in_order() -> None:
    size = 2 * VALIDATED_AT_ONCE + 7
    bad = VALIDATED_AT_ONCE + 3  # in the second chunk
    batch = tuple(record(n, b"[]" if n == bad else None, view_id=f"v{n}".encode()) for n in range(size))
    views, invalid = _decode(batch)
    assert [r.offset for r, _ in invalid] == [bad]
    assert [v.offset for v in views] == [n for n in range(size) if n != bad]
    assert all(v.view_id == f"v{v.offset}" and v.article_id == f"a{v.offset}" for v in views)


def test_the_scripts_argument_has_one_target_per_article_and_5_minute_bucket() -> None:
    batch = _ScriptBatch(NOW_S)
    at = VIEWED_AT.timestamp()
    for view in (
        View(0, 5, "v1", "a", at, "h1"),
        View(0, 6, "v2", "a", at + 1, None),  # same target
        View(1, 2, "v3", "b", at),
        View(1, 3, "v4", "a", at - 300),  # the 5-minute bucket before
        View(0, 7, "invalid:0:7", "", 0.0),  # outside every window: only its offset
        View(1, 1, "v5", "a", NOW_S + 3600),  # from the future: counted now
    ):
        batch.add(view)
    payload = json.loads(batch.to_json())
    m5 = int(at // 300)
    assert payload["partitions"] == [[0, 7], [1, 3]]
    assert payload["offset"] == [5, 6, 2, 3, 7, 1]
    assert payload["id"] == ["v1", "v2", "v3", "v4", "invalid:0:7", "v5"]
    assert payload["target"] == [1, 1, 2, 3, NOT_COUNTED, 1]
    assert payload["visitor"] == ["h1", "", "", "", "", ""]
    assert payload["targets"] == [["a", m5], ["b", m5], ["a", m5 - 1]]
