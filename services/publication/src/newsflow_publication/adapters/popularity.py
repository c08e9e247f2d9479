"""Page-view counters for Popular, in Redis; every key is rebuilt by replaying the view topic.

Keys, under a configurable prefix (`NEWSFLOW_POPULAR_PREFIX`, default `newsflow:pop`):

- `<prefix>:views:all:<m5|h|d>:<bucket>`: sorted set article id -> views in that 5-minute,
  hour or day bucket (bucket = epoch seconds // bucket length), site-wide. Popular of a
  list (`all`, a section, a subject) is the site-wide one within the list's articles now (the
  listings' sorted set of that list, `list_key`), so a view is written once, not once per
  list, and a retracted or unlisted article takes no place. A 5-minute
  bucket is kept until folded (below), then 2 hours after it ends; hours 26 hours and days
  8 days after they end;
- `<prefix>:visitors:<article id>:<m5|h|d>:<bucket>`: HyperLogLog of the pseudonymous
  visitor ids, same buckets, folding and lifetimes;
- `<prefix>:folded`: the last 5-minute bucket folded into its hour and day. A view counts in
  its 5-minute bucket only; the first batch after that bucket has closed adds it to its hour
  and day (ZINCRBY of each article, PFMERGE of each visitor HyperLogLog), in the same atomic
  script. A view for a bucket already folded (a late one) counts in all three directly. The
  24-hour and 7-day windows read the 5-minute buckets not yet folded beside their hours and
  days, in a transaction that watches this key;
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

Cost: called from a script in a loop, a ZINCRBY took Redis 1.5 µs, a PFADD of five visitors
4 µs and an EXISTS 0.65 µs (a 2-core development machine, append-only file on), so the script
writes per batch and target, not per view or per list. Python groups the batch's views
by (article, 5-minute bucket), a "target"; the script looks the ids up in this period's and
the last period's sets with one SMISMEMBER each per 1,000 views, then, per target, does one
ZINCRBY (with the target's count) and one PFADD (with all of the target's visitors), one SADD
per 1,000 counted ids, and one EXPIREAT per key the batch created (EXISTS tells; the expiry
follows from the bucket: it never moves, except once at the fold). Records that are not views
or are older than every window (target 0) only move their partition's offset."""

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from ..domain.listings import ALL
from ..domain.popularity import GRANULARITIES, MINUTES_5, Granularity, Window, window_reads

DEFAULT_PREFIX = "newsflow:pop"
OLDEST_S = 8 * 86400  # views older than this fall outside every window: only their offset counts
NOT_COUNTED = 0  # the target of a record that only moves its partition's offset

ABSORB = """
local prefix, group = ARGV[1], ARGV[2]
local period_s = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local period = math.floor(now / period_s)
local batch = cjson.decode(ARGV[5])
local granularities = cjson.decode(ARGV[6])  -- {name, seconds, keep}, the 5-minute one first
local FINE, COARSE = granularities[1], {granularities[2], granularities[3]}
local LONGEST_KEEP = granularities[3][3]
local CHUNK = 1000  -- arguments per variadic call (unpack's stack is limited)

local function offsets_key(part) return prefix .. ':offsets:' .. group .. ':' .. string.format('%d', part) end
local function seen_key(p) return prefix .. ':seen-ids:' .. string.format('%d', p) end
local function views_key(g, b) return prefix .. ':views:all:' .. g[1] .. ':' .. string.format('%d', b) end
local function visitors_key(article, g, b)
  return prefix .. ':visitors:' .. article .. ':' .. g[1] .. ':' .. string.format('%d', b)
end
local function coarse_of(g, fine) return math.floor(fine * FINE[2] / g[2]) end
local function kept_until(g, b) return (b + 1) * g[2] + g[3] end

-- a closed 5-minute bucket added into its hour and its day, visitors too; from then on it is
-- kept only as long as the 1-hour window needs it
local function fold(b)
  local from = views_key(FINE, b)
  local rows = redis.call('ZRANGE', from, 0, -1, 'WITHSCORES')
  if #rows == 0 then return end
  for _, g in ipairs(COARSE) do
    local into = views_key(g, coarse_of(g, b))
    for i = 1, #rows, 2 do redis.call('ZINCRBY', into, rows[i + 1], rows[i]) end
    redis.call('EXPIREAT', into, kept_until(g, coarse_of(g, b)))
  end
  redis.call('EXPIREAT', from, kept_until(FINE, b))
  for i = 1, #rows, 2 do
    local visitors = visitors_key(rows[i], FINE, b)
    if redis.call('EXISTS', visitors) == 1 then
      for _, g in ipairs(COARSE) do
        local into = visitors_key(rows[i], g, coarse_of(g, b))
        redis.call('PFMERGE', into, visitors)
        redis.call('EXPIREAT', into, kept_until(g, coarse_of(g, b)))
      end
      redis.call('EXPIREAT', visitors, kept_until(FINE, b))
    end
  end
end

-- the last 5-minute bucket folded, after folding every closed one; a new prefix starts at the
-- bucket before the current one
local function folded_so_far()
  local current = math.floor(now / FINE[2])
  local folded = tonumber(redis.call('GET', prefix .. ':folded') or '')
  if folded and folded >= current - 1 then return folded end
  if folded then
    for b = folded + 1, current - 1 do fold(b) end
  end
  redis.call('SET', prefix .. ':folded', string.format('%d', current - 1))
  return current - 1
end

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

-- key -> the expiry to give it after the batch's writes, if the batch creates it
local created = {}
local function writing(key, expires_at)
  if created[key] == nil then
    created[key] = redis.call('EXISTS', key) == 0 and expires_at or false
  end
  return key
end

-- the buckets a view of 5-minute bucket b counts in: that bucket alone while it is open (the
-- fold adds it to its hour and day), or all three once it has been folded (a late view)
local function buckets_of(b, folded)
  if b > folded then
    -- kept until folded; a bucket never folded is of no window's concern after the longest keep
    return {{FINE, b, (b + 1) * FINE[2] + LONGEST_KEEP}}
  end
  local found = {{FINE, b, kept_until(FINE, b)}}
  for _, g in ipairs(COARSE) do
    local cb = coarse_of(g, b)
    found[#found + 1] = {g, cb, kept_until(g, cb)}
  end
  return found
end

local function add(counts, visitors, folded)
  for t, n in pairs(counts) do
    local article, b = batch.targets[t][1], batch.targets[t][2]
    local vs = visitors[t]
    for _, gb in ipairs(buckets_of(b, folded)) do
      local g, bucket, expires_at = gb[1], gb[2], gb[3]
      redis.call('ZINCRBY', writing(views_key(g, bucket), expires_at), n, article)
      if vs then
        local key = writing(visitors_key(article, g, bucket), expires_at)
        for from = 1, #vs, CHUNK do
          redis.call('PFADD', key, unpack(vs, from, math.min(from + CHUNK - 1, #vs)))
        end
      end
    end
  end
  for key, expires_at in pairs(created) do
    if expires_at then redis.call('EXPIREAT', key, expires_at) end
  end
end

local function store_offsets(stored)
  for _, last in ipairs(batch.partitions) do
    if last[2] > stored[last[1]] then
      redis.call('SET', offsets_key(last[1]), string.format('%d', last[2]))
    end
  end
end

local folded = folded_so_far()
local stored = stored_offsets()
local fresh, replayed = first_reads(stored)
local counted, duplicates = unseen(fresh)
remember(counted)
local counts, visitors = tally(counted)
add(counts, visitors, folded)
store_offsets(stored)
return {#counted, duplicates, replayed}
"""
GRANULARITIES_JSON = json.dumps([[g.name, g.seconds, g.keep_s] for g in GRANULARITIES])


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
    target, visitor), the last offset of each partition, and the targets, (article, 5-minute
    bucket) pairs. Indexes are 1-based, as Lua's."""

    def __init__(self, now_s: float) -> None:
        self.now_s = now_s
        self.oldest_s = now_s - OLDEST_S
        self.partition: list[int] = []
        self.offset: list[int] = []
        self.id: list[str] = []
        self.target: list[int] = []
        self.visitor: list[str] = []
        self.last_offsets: dict[int, int] = {}
        self.targets: list[tuple[str, int]] = []
        self._target_index: dict[tuple[str, int], int] = {}

    def add(self, view: View) -> None:
        if view.offset > self.last_offsets.get(view.partition, -1):
            self.last_offsets[view.partition] = view.offset
        at = min(view.viewed_at_s, self.now_s)
        if at >= self.oldest_s:
            pair = (view.article_id, int(at // MINUTES_5.seconds))
            target = self._target_index.get(pair)
            if target is None:
                self.targets.append(pair)
                target = self._target_index[pair] = len(self.targets)
        else:
            target = NOT_COUNTED
        self.partition.append(view.partition)
        self.offset.append(view.offset)
        self.id.append(view.view_id)
        self.target.append(target)
        self.visitor.append(view.visitor or "")

    def to_json(self) -> str:
        return json.dumps(
            {
                "partition": self.partition,
                "offset": self.offset,
                "id": self.id,
                "target": self.target,
                "visitor": self.visitor,
                "partitions": list(self.last_offsets.items()),
                "targets": self.targets,
            },
            separators=(",", ":"),
        )


class RedisPopularity:
    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        dedup_ttl_s: int = 3600,
        cache_s: float = 2.0,
        list_key: Callable[[str], str] | None = None,
    ) -> None:
        """`list_key` names the sorted set of a list's articles (the listings'), which Popular
        of that list is the site-wide Popular within."""
        self.redis = redis
        self.prefix = prefix
        self.dedup_ttl_s = dedup_ttl_s
        self.cache_s = cache_s
        self.list_key = list_key
        self._absorb = redis.register_script(ABSORB)

    def views_key(self, granularity: str, bucket: int) -> str:
        return f"{self.prefix}:views:{ALL}:{granularity}:{bucket}"

    def visitors_key(self, article_id: str, granularity: str, bucket: int) -> str:
        return f"{self.prefix}:visitors:{article_id}:{granularity}:{bucket}"

    def offsets_key(self, group: str, partition: int) -> str:
        return f"{self.prefix}:offsets:{group}:{partition}"

    @property
    def folded_key(self) -> str:
        return f"{self.prefix}:folded"

    async def absorb(self, group: str, views: Sequence[View], *, now_s: float) -> Absorbed:
        """Count a batch of views exactly once (see the module)."""
        if not views:
            return Absorbed()
        batch = _ScriptBatch(now_s)
        for view in views:
            batch.add(view)
        counted, duplicates, replayed = await self._absorb(
            args=[self.prefix, group, self.dedup_ttl_s, now_s, batch.to_json(), GRANULARITIES_JSON]
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
        scores: the site-wide ones that are in the list now (so an article retracted or never
        listed takes no place, however read). The result is kept `cache_s` so that readers
        share it. Without `list_key`, only the site-wide list, unfiltered."""
        dest = f"{self.prefix}:top:{window.name}:{lst}"
        rows = await self.redis.zrevrange(dest, 0, count - 1, withscores=True)
        if not rows:
            within = self._list_key(lst)

            def queue(pipe: Pipeline, folded: int | None) -> None:
                weights = {self.views_key(g.name, b): w for g, b, w in window_reads(window, now_s, folded)}
                pipe.zunionstore(dest, weights)
                if within is not None:
                    pipe.zinterstore(dest, {dest: 1, within: 0})
                pipe.pexpire(dest, max(1, int(self.cache_s * 1000)))
                pipe.zrevrange(dest, 0, count - 1, withscores=True)

            rows = (await self._read_folded(queue))[-1]
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
        reads: dict[str, list[tuple[Granularity, int, float]]] = {}

        def queue(pipe: Pipeline, folded: int | None) -> None:
            for window in chosen:
                reads[window.name] = buckets = window_reads(window, now_s, folded)
                for g, b, _ in buckets:
                    pipe.zscore(self.views_key(g.name, b), article_id)
                pipe.pfcount(*(self.visitors_key(article_id, g.name, b) for g, b, _ in buckets))

        results = await self._read_folded(queue)
        out = ArticleViews()
        position = 0
        for window in chosen:
            n = len(reads[window.name])
            out.views[window.name] = int(sum(float(s or 0) for s in results[position : position + n]))
            out.visitors[window.name] = int(results[position + n])
            position += n + 1
        return out

    async def _read_folded(self, queue: Callable[[Pipeline, int | None], None]) -> list[Any]:
        """Run the reads `queue` puts in a transaction, given the last folded 5-minute bucket;
        again if a batch folds another meanwhile (which would count that bucket twice)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(self.folded_key)
                    value = await pipe.get(self.folded_key)
                    pipe.multi()  # type: ignore[no-untyped-call]
                    queue(pipe, int(value) if value is not None else None)
                    return await pipe.execute()
                except WatchError:
                    continue

    def _list_key(self, lst: str) -> str | None:
        if self.list_key is not None:
            return self.list_key(lst)
        if lst == ALL:
            return None
        raise ValueError(f"Popular of {lst!r} needs the listings' keys (list_key)")
