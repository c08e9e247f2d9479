"""Page-view counters for Popular, in Redis; every key is rebuilt by replaying the view topic.

Keys, under a configurable prefix (`NEWSFLOW_POPULAR_PREFIX`, default `newsflow:pop`):

- `<prefix>:views:<list>:<m5|h|d>:<bucket>`: sorted set article id -> views in that
  5-minute, hour or day bucket (bucket = epoch seconds // bucket length), for the lists
  `all`, `section:<s>` and `subject:<id>`; kept 2 hours, 26 hours and 8 days after the
  bucket ends;
- `<prefix>:visitors:<article id>:<m5|h|d>:<bucket>`: HyperLogLog of the pseudonymous
  visitor ids, same buckets and lifetimes;
- `<prefix>:seen:<view id>`: the view's CloudEvents id, set once (SET NX) for
  `NEWSFLOW_POPULAR_DEDUP_TTL_S`: a view sent twice (same id, another record) counts once;
- `<prefix>:offsets:<group>:<partition>`: the last offset of the view topic counted by the
  consumer group, per partition;
- `<prefix>:top:<window>:<list>`: the window's weighted union, kept `NEWSFLOW_POPULAR_CACHE_S`.

Exactly once: a batch is absorbed by one Lua script, which Redis runs atomically (all of its
writes or none, also in the append-only file). It skips the records at or below the stored
offset of their partition (a batch read again after a crash), drops views whose id it has
seen (a resent view), adds the rest, and stores the batch's last offsets, all at once. The
consumer commits to Kafka after the script; at (re)assignment it seeks to the offsets stored
here, so what Redis holds and what it has counted never disagree, even if Redis lost its
last second of writes."""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import cast

from redis.asyncio import Redis

from ..domain.listings import ALL
from ..domain.popularity import (
    GRANULARITIES,
    Window,
    bucket_of,
    bucket_ttl_s,
    counted_buckets,
    window_buckets,
)

DEFAULT_PREFIX = "newsflow:pop"
OLDEST_S = 8 * 86400  # views older than this fall outside every window: only their offset counts

ABSORB = """
local prefix, group, seen_ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local p = cjson.decode(ARGV[4])
local stored = {}
for part, _ in pairs(p.offsets) do
  local v = redis.call('GET', prefix .. ':offsets:' .. group .. ':' .. part)
  stored[part] = v and tonumber(v) or -1
end
local counts, visitors = {}, {}
local counted, duplicates, replayed = 0, 0, 0
for _, v in ipairs(p.views) do
  if v[2] <= stored[tostring(v[1])] then
    replayed = replayed + 1
  elseif v[4] == 0 then
    -- outside every window (or not a view): only its offset counts
  elseif redis.call('SET', prefix .. ':seen:' .. v[3], '1', 'NX', 'EX', seen_ttl) then
    counted = counted + 1
    local t = v[4]
    counts[t] = (counts[t] or 0) + 1
    if v[5] ~= '' then
      local vs = visitors[t]
      if not vs then vs = {}; visitors[t] = vs end
      vs[#vs + 1] = v[5]
    end
  else
    duplicates = duplicates + 1
  end
end
for t, n in pairs(counts) do
  local target = p.targets[t]
  for _, key in ipairs(target[2]) do redis.call('ZINCRBY', key, n, target[1]) end
  local vs = visitors[t]
  if vs then
    for _, key in ipairs(target[3]) do
      for i = 1, #vs, 1000 do
        redis.call('PFADD', key, unpack(vs, i, math.min(i + 1000 - 1, #vs)))
      end
    end
  end
end
for _, e in ipairs(p.expire) do redis.call('EXPIRE', e[1], e[2]) end
for part, last in pairs(p.offsets) do
  if last > stored[part] then
    redis.call('SET', prefix .. ':offsets:' .. group .. ':' .. part, string.format('%d', last))
  end
end
return {counted, duplicates, replayed}
"""


@dataclass(frozen=True)
class View:
    """One record of the view topic, as the counters need it."""

    partition: int
    offset: int
    view_id: str
    article_id: str
    viewed_at_s: float
    visitor: str | None = None


@dataclass
class Absorbed:
    counted: int = 0
    duplicates: int = 0
    replayed: int = 0


@dataclass
class ArticleViews:
    views: dict[str, int] = field(default_factory=dict)
    visitors: dict[str, int] = field(default_factory=dict)


class RedisPopularity:
    def __init__(
        self, redis: Redis, *, prefix: str = DEFAULT_PREFIX, dedup_ttl_s: int = 3600, cache_s: float = 2.0
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.dedup_ttl_s = dedup_ttl_s
        self.cache_s = cache_s
        self._absorb = redis.register_script(ABSORB)

    def views_key(self, lst: str, granularity: str, bucket: int) -> str:
        return f"{self.prefix}:views:{lst}:{granularity}:{bucket}"

    def visitors_key(self, article_id: str, granularity: str, bucket: int) -> str:
        return f"{self.prefix}:visitors:{article_id}:{granularity}:{bucket}"

    def offsets_key(self, group: str, partition: int) -> str:
        return f"{self.prefix}:offsets:{group}:{partition}"

    async def absorb(
        self, group: str, views: Sequence[View], lists: dict[str, list[str]], *, now_s: float
    ) -> Absorbed:
        """Count a batch of views exactly once (see the module). `lists` gives each article's
        lists (an article missing there counts site-wide only)."""
        if not views:
            return Absorbed()
        offsets: dict[str, int] = {}
        targets: list[list[object]] = []
        target_of: dict[tuple[str, float], int] = {}
        expire: dict[str, int] = {}
        rows: list[list[object]] = []
        for view in views:
            part = str(view.partition)
            offsets[part] = max(offsets.get(part, -1), view.offset)
            at = min(view.viewed_at_s, now_s)
            index = 0
            if at >= now_s - OLDEST_S:
                buckets = tuple(bucket_of(at, g) for g in GRANULARITIES)
                slot = (view.article_id, buckets[0])  # the 5-minute bucket fixes the others
                index = target_of.get(slot, 0)
                if not index:
                    zkeys, hkeys = [], []
                    for granularity, bucket in zip(GRANULARITIES, buckets, strict=True):
                        ttl = bucket_ttl_s(bucket, granularity, now_s)
                        for lst in lists.get(view.article_id) or [ALL]:
                            zkeys.append(key := self.views_key(lst, granularity.name, bucket))
                            expire[key] = ttl
                        hkeys.append(key := self.visitors_key(view.article_id, granularity.name, bucket))
                        expire[key] = ttl
                    targets.append([view.article_id, zkeys, hkeys])
                    index = target_of[slot] = len(targets)
            rows.append([view.partition, view.offset, view.view_id, index, view.visitor or ""])
        payload = json.dumps(
            {"offsets": offsets, "views": rows, "targets": targets, "expire": list(expire.items())},
            separators=(",", ":"),
        )
        counted, duplicates, replayed = await self._absorb(
            args=[self.prefix, group, self.dedup_ttl_s, payload]
        )
        return Absorbed(int(counted), int(duplicates), int(replayed))

    async def offsets(self, group: str, partitions: Iterable[int]) -> dict[int, int]:
        """The last counted offset of each partition that has one."""
        parts = list(partitions)
        if not parts:
            return {}
        values = await self.redis.mget([self.offsets_key(group, p) for p in parts])
        return {p: int(v) for p, v in zip(parts, values, strict=True) if v is not None}

    async def top(self, window: Window, lst: str, *, count: int, now_s: float) -> list[tuple[str, float]]:
        """The `count` most read articles of the list over the window, with their decayed
        scores; the union is kept `cache_s` so that readers share it."""
        dest = f"{self.prefix}:top:{window.name}:{lst}"
        rows = await self.redis.zrevrange(dest, 0, count - 1, withscores=True)
        if not rows:
            weights = {
                self.views_key(lst, window.granularity.name, bucket): weight
                for bucket, weight in window_buckets(window, now_s)
            }
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zunionstore(dest, weights)
                pipe.pexpire(dest, max(1, int(self.cache_s * 1000)))
                pipe.zrevrange(dest, 0, count - 1, withscores=True)
                rows = (await pipe.execute())[-1]
        return [
            (m.decode() if isinstance(m, bytes) else m, float(s))
            for m, s in cast(list[tuple[bytes | str, float]], rows)
        ]

    async def article_views(
        self, article_id: str, windows: Iterable[Window], *, now_s: float
    ) -> ArticleViews:
        """Views (undecayed, every bucket touching the window) and unique visitors (estimated,
        about 0.8% standard error) of one article."""
        chosen = list(windows)
        async with self.redis.pipeline(transaction=False) as pipe:
            for window in chosen:
                buckets = counted_buckets(window, now_s)
                for bucket in buckets:
                    pipe.zscore(self.views_key(ALL, window.granularity.name, bucket), article_id)
                pipe.pfcount(*(self.visitors_key(article_id, window.granularity.name, b) for b in buckets))
            results = await pipe.execute()
        out = ArticleViews()
        position = 0
        for window in chosen:
            n = len(counted_buckets(window, now_s))
            out.views[window.name] = int(sum(float(s or 0) for s in results[position : position + n]))
            out.visitors[window.name] = int(results[position + n])
            position += n + 1
        return out
