"""Which buckets a Popular window reads, and with what weight (pure)."""

from newsflow_publication.domain.popularity import (
    DAYS,
    HOURS,
    MINUTES_5,
    WINDOWS,
    window_buckets,
    window_reads,
)

NOW_S = 1_772_366_407.0  # 2026-03-01 12:00:07 UTC, 7 s into a 5-minute bucket and an hour
M5_NOW = int(NOW_S // 300)


def test_the_1_hour_window_reads_its_5_minute_buckets_newest_first_with_decay() -> None:
    reads = window_reads(WINDOWS["1h"], NOW_S, folded=M5_NOW - 5)
    assert {g for g, _, _ in reads} == {MINUTES_5}
    assert [b for _, b, _ in reads] == list(range(M5_NOW, M5_NOW - 13, -1))
    weights = [w for _, _, w in reads]
    assert weights[1:-1] == sorted(weights[1:-1], reverse=True)  # older, lighter
    assert weights[-1] < weights[-2]  # the oldest bucket is only partly inside the hour


def test_a_longer_window_reads_its_own_buckets_when_every_closed_5_minute_bucket_is_folded() -> None:
    for name, granularity in (("24h", HOURS), ("7d", DAYS)):
        reads = window_reads(WINDOWS[name], NOW_S, folded=M5_NOW)
        assert [(b, w) for _, b, w in reads] == window_buckets(WINDOWS[name], NOW_S)
        assert {g for g, _, _ in reads} == {granularity}
        assert window_reads(WINDOWS[name], NOW_S, folded=None) == reads  # nothing counted yet


def test_the_5_minute_buckets_not_yet_folded_are_read_with_the_weight_of_their_hour_or_day() -> None:
    for name in ("24h", "7d"):
        window = WINDOWS[name]
        own = dict(window_buckets(window, NOW_S))
        reads = window_reads(window, NOW_S, folded=M5_NOW - 3)
        fine = [(b, w) for g, b, w in reads if g is MINUTES_5]
        assert [b for b, _ in fine] == [M5_NOW - 2, M5_NOW - 1, M5_NOW]
        for bucket, weight in fine:
            assert weight == own[int(bucket * 300 // window.granularity.seconds)]
        # 12:00:07: the 5-minute buckets of 11:50 and 11:55 lie in the hour (or day) before
        # now's and weigh less than now's
        assert fine[0][1] < fine[-1][1] if name == "24h" else fine[0][1] == fine[-1][1]


def test_after_a_long_stop_only_the_unfolded_buckets_inside_the_window_are_read() -> None:
    window = WINDOWS["24h"]
    reads = window_reads(window, NOW_S, folded=M5_NOW - 10_000)  # folded a month ago
    fine = [b for g, b, _ in reads if g is MINUTES_5]
    oldest_hour = min(b for g, b, _ in reads if g is HOURS)
    assert fine[0] == oldest_hour * 12 and fine[-1] == M5_NOW
    assert len(fine) == M5_NOW - oldest_hour * 12 + 1  # 25 hours of them at most, not a month
