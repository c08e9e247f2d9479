"""Popular: which articles are read most, over 1 hour, 24 hours and 7 days. Pure.

Views are counted in time buckets, one sorted set (article -> views) per bucket: 5-minute
buckets make the 1-hour window, hourly ones the 24-hour window and daily ones the 7-day
window. A view is counted in its 5-minute bucket; once that bucket has closed it is folded
into its hour and its day, and until then those windows read it beside them. A window is read
as the weighted sum of its buckets:

- a bucket only partly inside the window counts for the part inside (views are taken as
  spread evenly over the bucket), so the window slides instead of jumping;
- recency decay: each bucket is weighted by 0.5 ** (age / half-life), with the age taken at
  the bucket's middle and a half-life of a quarter of the window, so of two articles with
  the same views the one read more recently ranks first.

Unique visitors are HyperLogLogs per article and bucket; a visitor is a keyed hash (see
`visitor_id`), never an address."""

import hashlib
import math
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Granularity:
    name: str
    seconds: int
    keep_s: int  # how long a bucket is kept after its end


@dataclass(frozen=True)
class Window:
    name: str
    seconds: int
    granularity: Granularity

    @property
    def half_life_s(self) -> float:
        return self.seconds / 4


MINUTES_5 = Granularity("m5", 300, 2 * 3600)
HOURS = Granularity("h", 3600, 26 * 3600)
DAYS = Granularity("d", 86400, 8 * 86400)
GRANULARITIES = (MINUTES_5, HOURS, DAYS)

WINDOWS = {
    "1h": Window("1h", 3600, MINUTES_5),
    "24h": Window("24h", 86400, HOURS),
    "7d": Window("7d", 7 * 86400, DAYS),
}


def bucket_of(epoch_s: float, granularity: Granularity) -> int:
    return int(epoch_s // granularity.seconds)


def window_buckets(window: Window, now_s: float) -> list[tuple[int, float]]:
    """The buckets of the window ending now, newest first, each with its weight: the share
    of the bucket inside the window times the recency decay."""
    size = window.granularity.seconds
    start = now_s - window.seconds
    weights = []
    for bucket in range(bucket_of(now_s, window.granularity), bucket_of(start, window.granularity) - 1, -1):
        low, high = bucket * size, (bucket + 1) * size
        inside = 1.0 if low >= start else max(0.0, (high - start) / size)
        if inside <= 0:
            continue
        middle = (max(low, start) + min(high, now_s)) / 2
        age = max(0.0, now_s - middle)
        weights.append((bucket, inside * math.pow(0.5, age / window.half_life_s)))
    return weights


def window_reads(window: Window, now_s: float, folded: int | None) -> list[tuple[Granularity, int, float]]:
    """The buckets to read for the window, each with its weight: the window's own buckets,
    and for the 24-hour and 7-day windows the 5-minute buckets not yet folded into their hour
    and day (those after `folded`, the last folded one), each weighted as its hour or day."""
    weighted = window_buckets(window, now_s)
    reads = [(window.granularity, bucket, weight) for bucket, weight in weighted]
    if window.granularity is MINUTES_5 or folded is None or not weighted:
        return reads
    weights = dict(weighted)
    oldest = bucket_of(min(weights) * window.granularity.seconds, MINUTES_5)
    for fine in range(max(folded + 1, oldest), bucket_of(now_s, MINUTES_5) + 1):
        coarse = bucket_of(fine * MINUTES_5.seconds, window.granularity)
        if coarse in weights:
            reads.append((MINUTES_5, fine, weights[coarse]))
    return reads


def visitor_id(
    secret: bytes,
    *,
    given: str | None = None,
    cookie: str | None = None,
    address: str | None = None,
    user_agent: str | None = None,
    day: date,
) -> str | None:
    """A pseudonymous visitor id: a keyed BLAKE2b hash (32 hex characters) of the site's
    visitor id, else of the first-party cookie, else of the address and user agent together
    with the day (so it changes daily and cannot be followed across days). The inputs are
    never stored or sent anywhere; without the key the hash cannot be turned back into them."""
    if given:
        material = f"visitor:{given}"
    elif cookie:
        material = f"cookie:{cookie}"
    elif address:
        material = f"address:{day.isoformat()}:{address}:{user_agent or ''}"
    else:
        return None
    return hashlib.blake2b(material.encode(), key=secret[:64], digest_size=16).hexdigest()
