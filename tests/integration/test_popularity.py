"""Popular's pieces against the real Redis and Kafka: the counting script (exactly once by
offset and by view id), the windows with decay and the teaser filter, and the beacon through
a running publication process to the counters."""

import asyncio
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
from tests.support.stack import REDIS, commit_group_at_end, unique

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.fixture
async def store() -> AsyncIterator[tuple[RedisPopularity, RedisListings, str]]:
    redis = Redis.from_url(REDIS)
    run = unique("pop")
    yield RedisPopularity(redis, prefix=f"newsflow:test:{run}", cache_s=0.001), RedisListings(redis), run
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
    first = await popularity.absorb("g", batch, {}, now_s=now)
    assert (first.counted, first.duplicates, first.replayed) == (4, 0, 0)
    again = await popularity.absorb("g", batch, {}, now_s=now)  # a crash before the Kafka commit
    assert (again.counted, again.duplicates, again.replayed) == (0, 0, 4)
    resent = await popularity.absorb(
        "g", [View(0, 12, f"{run}-v1", a, now), View(0, 13, f"{run}-v5", b, now)], {}, now_s=now
    )
    assert (resent.counted, resent.duplicates, resent.replayed) == (1, 1, 0)
    assert await popularity.offsets("g", [0, 1, 2]) == {0: 13, 1: 8}
    counts = await popularity.article_views(a, WINDOWS.values(), now_s=now)
    assert counts.views == {"1h": 3, "24h": 3, "7d": 3}
    assert counts.visitors == {"1h": 2, "24h": 2, "7d": 2}
    assert (await popularity.article_views(b, [WINDOWS["7d"]], now_s=now)).views == {"7d": 2}


async def test_popular_ranks_recent_reading_first_and_shows_only_listed_articles(store) -> None:  # type: ignore[no-untyped-def]
    popularity, listings, run = store
    now = time.time()
    fresh, older, hidden, other = (f"{run}-{n}" for n in ("fresh", "older", "hidden", "other"))
    section = f"s{run[-6:]}"
    for article, sec in ((fresh, section), (older, section), (other, "elsewhere")):
        await listings.put(teaser(article, sec), ["all"])
    lists = {a: ["all", f"section:{section}"] for a in (fresh, older, hidden)}
    lists[other] = ["all", "section:elsewhere"]
    views = [View(0, i, f"{run}-o{i}", older, now - 5 * 3600) for i in range(10)]  # 5 hours ago
    views += [View(0, 10 + i, f"{run}-f{i}", fresh, now) for i in range(6)]
    views += [View(0, 20 + i, f"{run}-h{i}", hidden, now) for i in range(50)]  # never listed
    views += [View(0, 80 + i, f"{run}-x{i}", other, now) for i in range(3)]
    await popularity.absorb(f"g-{run}", views, lists, now_s=now)

    async def ranked(window: str, sec: str | None) -> list[str]:
        lst = f"section:{sec}" if sec else "all"
        found = await popular_teasers(popularity, listings, window, lst, section=sec, limit=5)
        return [t.article_id for t in found if run in t.article_id]

    assert await ranked("24h", section) == [fresh, older]  # 6 now outweigh 10 five hours ago
    assert await ranked("7d", section) == [older, fresh]  # a week's half-life is long
    assert await ranked("1h", section) == [fresh]
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
