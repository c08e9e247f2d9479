"""Popular's pieces against the real Redis and Kafka: the counting script (exactly once by
offset and by view id), the windows with decay and the teaser filter, and, through a running
publication process, the beacon to the counters and the dead-lettering of records that are not
page views."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from newsflow_contracts.topics import PAGEVIEW_RECORDED
from newsflow_publication.adapters.listings import RedisListings
from newsflow_publication.adapters.popularity import RedisPopularity, View
from newsflow_publication.domain.listings import Teaser
from newsflow_publication.domain.popularity import WINDOWS
from newsflow_publication.entrypoints.views import popular_teasers
from redis.asyncio import Redis

from tests.support.processes import Services
from tests.support.stack import REDIS, commit_group_at_end, end_offsets, produce, records_since, unique

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.fixture
async def store() -> AsyncIterator[tuple[RedisPopularity, RedisListings, str]]:
    redis = Redis.from_url(REDIS)
    run = unique("pop")
    listings = RedisListings(redis)
    popularity = RedisPopularity(
        redis, prefix=f"newsflow:test:{run}", cache_s=0.001, list_key=listings.list_key
    )
    yield popularity, listings, run
    for member in await redis.zrange(listings.list_key("all"), 0, -1):
        if run.encode() in member:
            await listings.remove(member.decode())
    keys = [k async for k in redis.scan_iter(match=f"*{run}*", count=10_000)]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


def teaser(article_id: str, section: str) -> Teaser:
    now = datetime.now(UTC)
    return Teaser(
        article_id=article_id,
        slug=article_id,
        headline=article_id,
        teaser="…",
        section=section,
        published_at=now,
        version=1,
    )


async def test_a_batch_read_again_or_a_view_resent_counts_once(store) -> None:  # type: ignore[no-untyped-def]
    popularity, _, run = store
    now = time.time()
    a, b = f"{run}-a", f"{run}-b"
    batch = [
        View(0, 10, f"{run}-v1", a, now, "x"),
        View(0, 11, f"{run}-v2", a, now, "y"),
        View(1, 7, f"{run}-v3", a, now, "x"),
        View(1, 8, f"{run}-v4", b, now, None),
    ]
    first = await popularity.absorb("g", batch, now_s=now)
    assert (first.counted, first.duplicates, first.replayed) == (4, 0, 0)
    again = await popularity.absorb("g", batch, now_s=now)  # a crash before the Kafka commit
    assert (again.counted, again.duplicates, again.replayed) == (0, 0, 4)
    resent = await popularity.absorb(
        "g", [View(0, 12, f"{run}-v1", a, now), View(0, 13, f"{run}-v5", b, now)], now_s=now
    )
    assert (resent.counted, resent.duplicates, resent.replayed) == (1, 1, 0)
    assert await popularity.offsets("g", [0, 1, 2]) == {0: 13, 1: 8}
    counts = await popularity.article_views(a, WINDOWS.values(), now_s=now)
    assert counts.views == {"1h": 3, "24h": 3, "7d": 3}
    assert counts.visitors == {"1h": 2, "24h": 2, "7d": 2}
    assert (await popularity.article_views(b, [WINDOWS["7d"]], now_s=now)).views == {"7d": 2}


async def test_a_resent_view_counts_once_within_the_dedup_ttl_and_ids_are_kept_in_period_sets(store) -> None:  # type: ignore[no-untyped-def]
    popularity, _, run = store
    popularity.dedup_ttl_s = 100
    t0 = (time.time() // 100) * 100 + 50  # halfway through a dedup period
    a = f"{run}-a"

    async def absorb(offset: int, view_id: str, now: float) -> tuple[int, int, int]:
        done = await popularity.absorb("g", [View(0, offset, view_id, a, now, "x")], now_s=now)
        return done.counted, done.duplicates, done.replayed

    assert await absorb(1, f"{run}-v", t0) == (1, 0, 0)
    assert await absorb(2, f"{run}-v", t0 + 99) == (0, 1, 0)  # the next period still knows it
    period = int(t0 // 100)
    seen = f"{popularity.prefix}:seen-ids:{period}"
    assert await popularity.redis.smembers(seen) == {f"{run}-v".encode()}
    assert await popularity.redis.expiretime(seen) == (period + 2) * 100
    assert await absorb(3, f"{run}-w", t0 + 150) == (1, 0, 0)  # two periods on
    assert not await popularity.redis.exists(seen)  # no batch reads it any more: dropped
    assert await absorb(4, f"{run}-v", t0 + 150) == (1, 0, 0)  # resent after 2 periods: counted again


async def test_an_id_twice_in_a_batch_counts_once_and_stale_records_move_only_offsets(store) -> None:  # type: ignore[no-untyped-def]
    popularity, _, run = store
    now = time.time()
    a = f"{run}-a"
    batch = [
        View(2, 5, f"{run}-v1", a, now, "x"),
        View(2, 6, f"{run}-v1", a, now, "y"),  # the same view, sent twice in a row
        View(2, 7, "invalid:2:7", "", 0.0),  # dead-lettered: only its offset
        View(3, 9, f"{run}-v2", a, now - 9 * 86400, "z"),  # older than every window
    ]
    done = await popularity.absorb("g", batch, now_s=now)
    assert (done.counted, done.duplicates, done.replayed) == (1, 1, 0)
    assert await popularity.offsets("g", [2, 3]) == {2: 7, 3: 9}
    assert (await popularity.article_views(a, [WINDOWS["1h"]], now_s=now)).visitors == {"1h": 1}


async def test_every_key_the_counting_script_writes_expires_and_keeps_its_expiry(store) -> None:  # type: ignore[no-untyped-def]
    popularity, _, run = store
    now = (time.time() // 300) * 300 + 100  # now and now + 1 in one 5-minute bucket: no fold between
    views = [
        View(0, i, f"{run}-v{i}", f"{run}-a" if i % 2 else f"{run}-b", now - i * 150, f"h{i}")
        for i in range(40)
    ]
    await popularity.absorb("g", views[:20], now_s=now)
    keys = [k async for k in popularity.redis.scan_iter(match=f"{popularity.prefix}:*", count=10_000)]
    counters = [k for k in keys if b":offsets:" not in k and not k.endswith(b":folded")]
    assert len(counters) > 30
    first = {k: await popularity.redis.expiretime(k) for k in counters}
    assert all(at > now for at in first.values()), [k for k, at in first.items() if at <= now]
    await popularity.absorb("g", views[20:], now_s=now + 1)
    for key, at in first.items():
        assert await popularity.redis.expiretime(key) == at  # fixed by its bucket, not moved
    keys = [k async for k in popularity.redis.scan_iter(match=f"{popularity.prefix}:*", count=10_000)]
    lifetimes = [
        await popularity.redis.ttl(k) for k in keys if b":offsets:" not in k and not k.endswith(b":folded")
    ]
    assert len(lifetimes) > len(counters) and all(ttl > 0 for ttl in lifetimes)


async def test_a_closed_5_minute_bucket_is_folded_into_its_hour_and_day_without_counting_twice(store) -> None:  # type: ignore[no-untyped-def]
    popularity, listings, run = store
    t0 = (time.time() // 300) * 300 + 100  # within a 5-minute bucket
    b0 = int(t0 // 300)
    a = f"{run}-a"
    await listings.put(teaser(a, "news"), ["all"])
    redis = popularity.redis

    def views(first: int, n: int, at: float) -> list[View]:
        return [View(0, first + i, f"{run}-v{first + i}", a, at, f"visitor{i % 3}") for i in range(n)]

    async def counts(now: float) -> tuple[dict[str, int], dict[str, int]]:
        found = await popularity.article_views(a, WINDOWS.values(), now_s=now)
        return found.views, found.visitors

    await popularity.absorb("g", views(0, 2, t0), now_s=t0)
    assert await redis.get(popularity.folded_key) == str(b0 - 1).encode()  # a new prefix
    assert await redis.zscore(popularity.views_key("d", int(t0 // 86400)), a) is None  # not folded yet
    assert await counts(t0) == ({"1h": 2, "24h": 2, "7d": 2}, {"1h": 2, "24h": 2, "7d": 2})
    await popularity.absorb("g", views(10, 4, t0 + 300), now_s=t0 + 300)  # folds b0; b0 + 1 is open
    hour = popularity.views_key("h", int((t0 + 300) // 3600))
    assert await redis.zscore(hour, a) == (2.0 if int(t0 // 3600) == int((t0 + 300) // 3600) else None)
    assert await counts(t0 + 300) == ({"1h": 6, "24h": 6, "7d": 6}, {"1h": 3, "24h": 3, "7d": 3})

    await popularity.absorb("g", views(20, 1, t0 + 600), now_s=t0 + 600)  # closes and folds b0 + 1
    assert await redis.get(popularity.folded_key) == str(b0 + 1).encode()
    assert await redis.zscore(popularity.views_key("d", int((t0 + 300) // 86400)), a) == (
        6.0 if int(t0 // 86400) == int((t0 + 300) // 86400) else 4.0
    )
    assert await counts(t0 + 600) == ({"1h": 7, "24h": 7, "7d": 7}, {"1h": 3, "24h": 3, "7d": 3})
    folded_m5 = popularity.views_key("m5", b0 + 1)
    assert (
        await redis.expiretime(folded_m5) == (b0 + 2) * 300 + 2 * 3600
    )  # now kept for the 1-hour window only

    await popularity.absorb("g", views(30, 1, t0 + 300), now_s=t0 + 610)  # a late view for the folded bucket
    assert await counts(t0 + 610) == ({"1h": 8, "24h": 8, "7d": 8}, {"1h": 3, "24h": 3, "7d": 3})
    await popularity.absorb("g", views(30, 1, t0 + 300), now_s=t0 + 900)  # read again, and b0 + 2 folded
    assert await counts(t0 + 900) == ({"1h": 8, "24h": 8, "7d": 8}, {"1h": 3, "24h": 3, "7d": 3})
    ranked = await popularity.top(WINDOWS["24h"], "all", count=5, now_s=t0 + 900)
    assert [article for article, _ in ranked] == [a]


async def test_popular_ranks_recent_reading_first_and_shows_only_listed_articles(store) -> None:  # type: ignore[no-untyped-def]
    popularity, listings, run = store
    now = time.time()
    fresh, older, hidden, other = (f"{run}-{n}" for n in ("fresh", "older", "hidden", "other"))
    section = f"s{run[-6:]}"
    for article, sec in ((fresh, section), (older, section), (other, "elsewhere")):
        await listings.put(teaser(article, sec), ["all", f"section:{sec}"])
    views = [View(0, i, f"{run}-o{i}", older, now - 5 * 3600) for i in range(10)]  # 5 hours ago
    views += [View(0, 10 + i, f"{run}-f{i}", fresh, now) for i in range(6)]
    views += [View(0, 20 + i, f"{run}-h{i}", hidden, now) for i in range(50)]  # never listed
    views += [View(0, 80 + i, f"{run}-x{i}", other, now) for i in range(3)]
    await popularity.absorb(f"g-{run}", views, now_s=now)

    async def ranked(window: str, sec: str | None) -> list[str]:
        lst = f"section:{sec}" if sec else "all"
        found = await popular_teasers(popularity, listings, window, lst, section=sec, limit=5)
        return [t.article_id for t in found if run in t.article_id]

    assert await ranked("24h", section) == [fresh, older]  # 6 now outweigh 10 five hours ago
    assert await ranked("7d", section) == [older, fresh]  # a week's half-life is long
    assert await ranked("1h", section) == [fresh]
    site_wide = await popularity.top(WINDOWS["1h"], "all", count=10, now_s=now)
    assert [a for a, _ in site_wide] == [fresh, other]  # the most read, never listed, takes no place
    assert await ranked("24h", "elsewhere") == [other]
    await listings.remove(fresh)  # retracted: gone from Popular at once
    assert await ranked("24h", section) == [older]


async def test_the_beacon_counts_browsers_once_per_view_id_and_not_crawlers() -> None:
    run = unique("beacon")
    services = Services.isolated()
    prefix, group = f"newsflow:test:{run}", f"{run}-popular"
    services.env.update(
        {
            "NEWSFLOW_POPULAR_PREFIX": prefix,
            "NEWSFLOW_POPULAR_GROUP": group,
            "NEWSFLOW_WEBHOOKS_ENABLED": "false",
            "NEWSFLOW_VIEWS_ALLOWED_ORIGINS": "https://site.example",
        }
    )
    await commit_group_at_end(group, [PAGEVIEW_RECORDED.name])
    article = f"{run}-article"
    redis = Redis.from_url(REDIS)
    try:
        services.start("publication")
        async with httpx.AsyncClient(base_url=services.url("publication"), timeout=10) as http:
            preflight = await http.options(
                "/v1/views",
                headers={"Origin": "https://site.example", "Access-Control-Request-Method": "POST"},
            )
            assert preflight.status_code == 204
            assert preflight.headers["access-control-allow-origin"] == "https://site.example"
            assert "POST" in preflight.headers["access-control-allow-methods"]
            site = {"Origin": "https://site.example", "User-Agent": BROWSER}
            ok = await http.post(
                "/v1/views", json={"article_id": article, "view_id": f"{run}-1"}, headers=site
            )
            assert ok.status_code == 202 and ok.json() == {"view_id": f"{run}-1", "counted": True}
            assert ok.headers["access-control-allow-origin"] == "https://site.example"
            again = await http.post(
                "/v1/views", json={"article_id": article, "view_id": f"{run}-1"}, headers=site
            )
            assert again.status_code == 202  # the site retried: the same view
            beacon = await http.post(  # navigator.sendBeacon: text/plain JSON
                "/v1/views",
                content=f'{{"article_id": "{article}"}}',
                headers={**site, "content-type": "text/plain"},
            )
            assert beacon.status_code == 202
            query = await http.post(
                f"/v1/views?article_id={article}", headers={**site, "Cookie": "nf_vid=abc"}
            )
            assert query.status_code == 202
            bot = await http.post(
                "/v1/views", json={"article_id": article}, headers={**site, "User-Agent": GOOGLEBOT}
            )
            assert bot.status_code == 202 and bot.json()["counted"] is False
            foreign = await http.post(
                "/v1/views",
                json={"article_id": article},
                headers={"Origin": "https://evil.example", "User-Agent": BROWSER},
            )
            assert foreign.status_code == 403
            bad = await http.post("/v1/views", json={"article_id": "no spaces"}, headers=site)
            assert bad.status_code == 422
            deadline = time.monotonic() + 20
            counts: dict[str, object] = {}
            while time.monotonic() < deadline:
                counts = (await http.get(f"/v1/views/{article}")).json()
                if counts["views"]["1h"] >= 3:  # type: ignore[index]
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(1)  # nothing more may arrive
            counts = (await http.get(f"/v1/views/{article}")).json()
            assert counts["views"] == {"1h": 3, "24h": 3, "7d": 3}
            assert counts["visitors"]["24h"] == 2  # one address and browser, and one cookie
            assert (await http.get("/v1/popular?window=bad")).status_code == 422
            assert (await http.get("/v1/popular?window=1h")).json()["window"] == "1h"
    finally:
        services.stop_all()
        keys = [k async for k in redis.scan_iter(match=f"{prefix}:*", count=10_000)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


async def test_records_that_are_not_page_views_are_dead_lettered_with_why_and_the_rest_counted() -> None:
    run = unique("pvdlq")
    services = Services.isolated()
    prefix, group = f"newsflow:test:{run}", f"{run}-popular"
    services.env.update(
        {
            "NEWSFLOW_POPULAR_PREFIX": prefix,
            "NEWSFLOW_POPULAR_GROUP": group,
            "NEWSFLOW_WEBHOOKS_ENABLED": "false",
        }
    )
    await commit_group_at_end(group, [PAGEVIEW_RECORDED.name])
    await services.groups_at_end()
    dlq_start = await end_offsets(PAGEVIEW_RECORDED.name + ".dlq")
    article = f"{run}-article"
    view = {"article_id": article, "site": "test", "viewed_at": datetime.now(UTC).isoformat()}
    good = json.dumps(view).encode()
    ce = {"ce_type": PAGEVIEW_RECORDED.event_type, "ce_source": "/tests", "ce_specversion": "1.0"}
    key = article.encode()
    sent = [
        (key, good, {**ce, "ce_id": f"{run}-1"}),
        (key, b"{not json", {**ce, "ce_id": f"{run}-2"}),
        (key, json.dumps({"article_id": article}).encode(), {**ce, "ce_id": f"{run}-3"}),
        (key, good, ce),  # no ce_id
        (key, good, {**ce, "ce_type": "news.article.published.v1", "ce_id": f"{run}-5"}),
        (key, good, {**ce, "ce_id": f"{run}-6"}),
    ]
    positions = await produce(PAGEVIEW_RECORDED.name, sent)
    redis = Redis.from_url(REDIS)
    try:
        services.start("publication")

        def ours(found: list[object]) -> list[dict[str, str]]:
            headers = [{k: v.decode() for k, v in r.headers} for r in found]  # type: ignore[attr-defined]
            return [h for h in headers if h.get("dlq_consumer_group") == group]

        dead = ours(await records_since(dlq_start, until=lambda found: len(ours(found)) >= 4, timeout_s=30))
        assert sorted(int(h["dlq_source_offset"]) for h in dead) == [o for _, o in positions[1:5]]
        reasons = {int(h["dlq_source_offset"]): h["dlq_error_message"] for h in dead}
        assert "json_invalid" in reasons[positions[1][1]] and "site" in reasons[positions[2][1]]
        assert reasons[positions[3][1]] == "no ce_id header"
        assert "news.article.published.v1" in reasons[positions[4][1]]
        popularity = RedisPopularity(redis, prefix=prefix)
        partition, last = positions[-1]
        deadline = time.monotonic() + 20
        while (await popularity.offsets(group, [partition])).get(partition, -1) < last:
            assert time.monotonic() < deadline, "the batch was not counted"
            await asyncio.sleep(0.1)
        counts = await popularity.article_views(article, [WINDOWS["1h"]], now_s=time.time())
        assert counts.views == {"1h": 2}
    finally:
        services.stop_all()
        keys = [k async for k in redis.scan_iter(match=f"{prefix}:*", count=10_000)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
