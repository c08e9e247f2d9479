"""Page-view counters for Popular, in Redis; every key is rebuilt by replaying the view topic.

Keys, under a configurable prefix (`NEWSFLOW_POPULAR_PREFIX`, default `newsflow:pop`):

- `<prefix>:views:<list>:<m5|h|d>:<bucket>`: sorted set article id -> views in that
  5-minute, hour or day bucket (bucket = epoch seconds // bucket length), for the lists
  `all`, `section:<s>` and `subject:<id>`; kept 2 hours, 26 hours and 8 days after the
  bucket ends;
- `<prefix>:visitors:<article id>:<m5|h|d>:<bucket>`: HyperLogLog of the pseudonymous
  visitor ids, same buckets and lifetimes;
- `<prefix>:seen-ids:<period>`: set of the CloudEvents ids of the views counted during one
  dedup period (`NEWSFLOW_POPULAR_DEDUP_TTL_S` long; period = epoch seconds // that length).
  A view is looked up in the current period's set and the one before, so a view sent twice
  (same id, another record) within the TTL counts once (within up to twice the TTL, it
  still does); a set is dropped (UNLINK, freed in the background) once no batch reads it;
- `<prefix>:offsets:<group>:<partition>`: the last offset of the view topic counted by the
  consumer group, per partition;
- `<prefix>:top:<window>:<list>`: the window's weighted union, kept `NEWSFLOW_POPULAR_CACHE_S`.

Exactly once: a batch is absorbed by one Lua script, which Redis runs atomically (all of its
writes or none, also in the append-only file). It skips the records at or below the stored
offset of their partition (a batch read again after a crash), drops views whose id it has
seen (a resent view), adds the rest, and stores the batch's last offsets, all at once. The
consumer commits to Kafka after the script; at (re)assignment it seeks to the offsets stored
here, so what Redis holds and what it has counted never disagree, even if Redis lost its
last second of writes.

Cost: a write command called from a script takes Redis about 3 µs whatever it does (measured
on a 2-core development machine, append-only file on), a read a fraction of that, so the
script writes per batch, not per view. Python groups the batch's views by (article, 5-minute
bucket), a "target", and sends each key name once; the script looks the ids up in this
period's and the last period's sets with one SMISMEMBER each per 1,000 views, then, per
target, does one ZINCRBY per list and bucket (with the target's count) and one PFADD per
visitor HyperLogLog (with all of the target's visitors), one SADD per 1,000 counted ids, and
one EXPIRE per key the batch created (EXISTS tells; a bucket's expiry, its end plus its keep
time, never moves). Records that are not views or are older than every window (target 0) only
move their partition's offset."""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, cast

from redis.asyncio import Redis

from ..domain.listings import ALL
from ..domain.popularity import (
    GRANULARITIES,
    MINUTES_5,
    Window,
    bucket_of,
    bucket_ttl_s,
    counted_buckets,
    window_buckets,
)

DEFAULT_PREFIX = "newsflow:pop"
OLDEST_S = 8 * 86400  # views older than this fall outside every window: only their offset counts
NOT_COUNTED = 0  # the target of a record that only moves its partition's offset

ABSORB = """
local prefix, group = ARGV[1], ARGV[2]
local period_s = tonumber(ARGV[3])
local period = math.floor(tonumber(ARGV[4]) / period_s)
local batch = cjson.decode(ARGV[5])
local CHUNK = 1000  -- arguments per variadic call (unpack's stack is limited)

local function offsets_key(part) return prefix .. ':offsets:' .. group .. ':' .. string.format('%d', part) end
local function seen_key(p) return prefix .. ':seen-ids:' .. string.format('%d', p) end

-- partition -> last offset counted (-1: none yet)
local function stored_offsets()
  local stored = {}
  for _, last in ipairs(batch.partitions) do
    local v = redis.call('GET', offsets_key(last[1]))
    stored[last[1]] = v and tonumber(v) or -1
  end
  return stored
end

-- the positions of the views read for the first time (above the stored offset) that count
local function first_reads(stored)
  local fresh, replayed = {}, 0
  local partition, offset, target = batch.partition, batch.offset, batch.target
  for i = 1, #offset do
    if offset[i] <= stored[partition[i]] then
      replayed = replayed + 1
    elseif target[i] ~= 0 then
      fresh[#fresh + 1] = i
    end
  end
  return fresh, replayed
end

-- of those, the ones whose id was not counted in this period or the last, nor earlier in the batch
local function unseen(fresh)
  local ids, counted, taken, duplicates = batch.id, {}, {}, 0
  for from = 1, #fresh, CHUNK do
    local chunk = {}
    for j = from, math.min(from + CHUNK - 1, #fresh) do chunk[#chunk + 1] = ids[fresh[j]] end
    local in_this = redis.call('SMISMEMBER', seen_key(period), unpack(chunk))
    local in_last = redis.call('SMISMEMBER', seen_key(period - 1), unpack(chunk))
    for j, id in ipairs(chunk) do
      if in_this[j] == 1 or in_last[j] == 1 or taken[id] then
        duplicates = duplicates + 1
      else
        taken[id] = true
        counted[#counted + 1] = fresh[from + j - 1]
      end
    end
  end
  return counted, duplicates
end

local function remember(counted)
  local ids, key = batch.id, seen_key(period)
  for from = 1, #counted, CHUNK do
    local chunk = {}
    for j = from, math.min(from + CHUNK - 1, #counted) do chunk[#chunk + 1] = ids[counted[j]] end
    redis.call('SADD', key, unpack(chunk))
  end
  if #counted > 0 then redis.call('EXPIREAT', key, (period + 2) * period_s) end
  redis.call('UNLINK', seen_key(period - 2))  -- no batch reads it any more
end

-- target -> views, and target -> its visitors
local function tally(counted)
  local counts, visitors = {}, {}
  local target, visitor = batch.target, batch.visitor
  for _, i in ipairs(counted) do
    local t = target[i]
    counts[t] = (counts[t] or 0) + 1
    if visitor[i] ~= '' then
      local vs = visitors[t]
      if not vs then vs = {}; visitors[t] = vs end
      vs[#vs + 1] = visitor[i]
    end
  end
  return counts, visitors
end

local keys, checked, created = batch.keys, {}, {}
local function writing(k)  -- the key's name; notes whether this batch creates it
  if not checked[k] then
    checked[k] = true
    if redis.call('EXISTS', keys[k][1]) == 0 then created[#created + 1] = k end
  end
  return keys[k][1]
end

local function add(counts, visitors)
  for t, n in pairs(counts) do
    local article, views_keys, visitors_keys = unpack(batch.targets[t])
    for _, k in ipairs(views_keys) do redis.call('ZINCRBY', writing(k), n, article) end
    local vs = visitors[t]
    if vs then
      for _, k in ipairs(visitors_keys) do
        local key = writing(k)
        for from = 1, #vs, CHUNK do
          redis.call('PFADD', key, unpack(vs, from, math.min(from + CHUNK - 1, #vs)))
        end
      end
    end
  end
  for _, k in ipairs(created) do redis.call('EXPIRE', keys[k][1], keys[k][2]) end
end

local function store_offsets(stored)
  for _, last in ipairs(batch.partitions) do
    if last[2] > stored[last[1]] then
      redis.call('SET', offsets_key(last[1]), string.format('%d', last[2]))
    end
  end
end

local stored = stored_offsets()
local fresh, replayed = first_reads(stored)
local counted, duplicates = unseen(fresh)
remember(counted)
add(tally(counted))
store_offsets(stored)
return {#counted, duplicates, replayed}
"""


class View(NamedTuple):
    """One record of the view topic, as the counters need it (a tuple: a batch makes thousands)."""

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


class _ScriptBatch:
    """The script's argument for one batch: the views as columns (partition, offset, id,
    target, visitor), every key once with its lifetime, and the targets, (article, 5-minute
    bucket) pairs, each with the keys its views count in. Indexes are 1-based, as Lua's."""

    def __init__(self, names: "RedisPopularity", lists: dict[str, list[str]], now_s: float) -> None:
        self.names = names
        self.lists = lists
        self.now_s = now_s
        self.columns: dict[str, list[object]] = {
            "partition": [],
            "offset": [],
            "id": [],
            "target": [],
            "visitor": [],
        }
        self.last_offsets: dict[int, int] = {}
        self.keys: list[tuple[str, int]] = []
        self.targets: list[tuple[str, list[int], list[int]]] = []
        self._key_index: dict[str, int] = {}
        self._target_index: dict[tuple[str, int], int] = {}
        self._buckets: dict[int, list[tuple[str, int, int]]] = {}
        self._views_keys: dict[tuple[str, int], list[int]] = {}

    def add(self, view: View) -> None:
        if view.offset > self.last_offsets.get(view.partition, -1):
            self.last_offsets[view.partition] = view.offset
        at = min(view.viewed_at_s, self.now_s)
        target = (
            self._target(view.article_id, bucket_of(at, MINUTES_5))
            if at >= self.now_s - OLDEST_S
            else NOT_COUNTED
        )
        columns = self.columns
        columns["partition"].append(view.partition)
        columns["offset"].append(view.offset)
        columns["id"].append(view.view_id)
        columns["target"].append(target)
        columns["visitor"].append(view.visitor or "")

    def to_json(self) -> str:
        return json.dumps(
            {
                **self.columns,
                "partitions": list(self.last_offsets.items()),
                "keys": self.keys,
                "targets": self.targets,
            },
            separators=(",", ":"),
        )

    def _target(self, article_id: str, minutes_5: int) -> int:
        index = self._target_index.get((article_id, minutes_5))
        if index is None:
            views_keys: list[int] = []
            for lst in self.lists.get(article_id) or [ALL]:
                views_keys += self._list_keys(lst, minutes_5)
            visitors_keys = [
                self._key(self.names.visitors_key(article_id, granularity, bucket), ttl)
                for granularity, bucket, ttl in self._buckets_of(minutes_5)
            ]
            self.targets.append((article_id, views_keys, visitors_keys))
            index = self._target_index[(article_id, minutes_5)] = len(self.targets)
        return index

    def _list_keys(self, lst: str, minutes_5: int) -> list[int]:
        """The list's views keys (5-minute, hour, day) for a 5-minute bucket."""
        found = self._views_keys.get((lst, minutes_5))
        if found is None:
            found = self._views_keys[(lst, minutes_5)] = [
                self._key(self.names.views_key(lst, granularity, bucket), ttl)
                for granularity, bucket, ttl in self._buckets_of(minutes_5)
            ]
        return found

    def _buckets_of(self, minutes_5: int) -> list[tuple[str, int, int]]:
        """(granularity name, bucket, seconds to keep it) of the buckets holding a 5-minute one."""
        found = self._buckets.get(minutes_5)
        if found is None:
            at = minutes_5 * MINUTES_5.seconds
            found = self._buckets[minutes_5] = [
                (g.name, bucket_of(at, g), bucket_ttl_s(bucket_of(at, g), g, self.now_s))
                for g in GRANULARITIES
            ]
        return found

    def _key(self, name: str, ttl: int) -> int:
        index = self._key_index.get(name)
        if index is None:
            self.keys.append((name, ttl))
            index = self._key_index[name] = len(self.keys)
        return index


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
        batch = _ScriptBatch(self, lists, now_s)
        for view in views:
            batch.add(view)
        counted, duplicates, replayed = await self._absorb(
            args=[self.prefix, group, self.dedup_ttl_s, now_s, batch.to_json()]
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
