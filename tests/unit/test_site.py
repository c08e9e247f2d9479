"""The reader site's pure parts: pages rendered from a fake read API, error pages,
conditional GET, the safety of the body, and the simulated readership."""

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from newsflow_site.app import create_app
from newsflow_site.domain.pages import NotFound, Page, Retracted, Teaser, Unavailable, safe_html
from newsflow_site.domain.readership import Readership, View
from newsflow_site.entrypoints import readers
from newsflow_site.settings import Settings

WHEN = "2027-03-12T14:05:00+00:00"


def teaser(n: int, section: str = "politics") -> dict[str, Any]:
    return {
        "article_id": f"a{n}",
        "slug": f"story-{n}",
        "headline": f"Headline {n}",
        "teaser": f"Teaser {n}.",
        "section": section,
        "published_at": WHEN,
        "version": 1,
    }


def article(n: int, body: str = "<p>The body.</p>", **ninjs: Any) -> dict[str, Any]:
    return {
        "article_id": f"a{n}",
        "slug": f"story-{n}",
        "version": 1,
        "section": "politics",
        "published_at": WHEN,
        "article": {
            "headlines": [{"role": "main", "value": f"Headline {n}"}],
            "bodies": [{"role": "html", "value": body}],
            "by": "By Amira Castell",
            "language": "en",
            **ninjs,
        },
    }


class FakeReadApi:
    def __init__(self) -> None:
        self.pages: dict[str, dict[str, Any]] = {}
        self.slugs: dict[str, str] = {}
        self.retracted: set[str] = set()
        self.latest_items = [Teaser.model_validate(teaser(n)) for n in range(1, 4)]
        self.popular_items = [Teaser.model_validate(teaser(3))]
        self.down = False
        self.views: list[View] = []

    def add(self, data: dict[str, Any], **lists: list[dict[str, Any]]) -> None:
        self.pages[data["article_id"]] = {"article": data, **lists}
        self.slugs[data["slug"]] = data["article_id"]

    async def latest(self, section: str | None, *, limit: int) -> list[Teaser]:
        if self.down:
            raise Unavailable("down")
        return [t for t in self.latest_items if section in (None, t.section)][:limit]

    async def popular(self, section: str | None, *, limit: int) -> list[Teaser]:
        return self.popular_items[:limit]

    async def page(self, article_id: str) -> Page:
        if self.down:
            raise Unavailable("down")
        if article_id in self.retracted:
            raise Retracted(article_id)
        if article_id not in self.pages:
            raise NotFound(article_id)
        return Page.of(self.pages[article_id])

    async def article_id_of(self, slug: str) -> str:
        if slug not in self.slugs:
            raise NotFound(slug)
        return self.slugs[slug]

    async def record_view(self, view: View, *, site: str) -> None:
        self.views.append(view)

    async def check(self) -> str | None:
        return "fake"


@pytest.fixture
def api() -> FakeReadApi:
    fake = FakeReadApi()
    fake.add(
        article(
            1, body='<p>Hello <strong>readers</strong></p><script>alert(1)</script><p onclick="x()">x</p>'
        ),
        popular=[teaser(3)],
        more_like_this=[teaser(2)],
        related=[teaser(4, "science")],
    )
    return fake


@pytest.fixture
async def client(api: FakeReadApi) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        site_api_url="http://api.test", site_beacon_url="https://api.example", site_name="Herald"
    )
    transport = httpx.ASGITransport(app=create_app(settings, api=api))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_the_article_page_has_the_article_its_three_lists_share_links_and_the_beacon(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/articles/a1")
    assert response.status_code == 200
    html = response.text
    assert '<html lang="en">' in html and 'name="viewport"' in html
    assert "<h1>Headline 1</h1>" in html and "By Amira Castell" in html
    assert '<time datetime="2027-03-12T14:05:00+00:00">12 March 2027, 14:05 UTC</time>' in html
    assert "<strong>readers</strong>" in html
    for heading, linked in (("Popular", "a3"), ("More like this", "a2"), ("Related", "a4")):
        assert f">{heading}</h2>" in html and f'href="/articles/{linked}"' in html
    assert "mailto:?subject=Headline%201" in html and "https://www.facebook.com/sharer" in html
    assert 'data-beacon="https://api.example/v1/views"' in html and 'data-article="a1"' in html
    assert "connect-src https://api.example" in response.headers["content-security-policy"]
    assert '<a class="skip" href="#main">' in html and '<main id="main"' in html
    assert '<a href="/sections/politics">Politics</a>' in html


async def test_the_body_is_cleaned_again_nothing_executable_reaches_the_page(
    client: httpx.AsyncClient,
) -> None:
    html = (await client.get("/articles/a1")).text
    assert "<script>alert" not in html and "onclick" not in html
    assert safe_html('<a href="javascript:x()">x</a><img src=x onerror=y()>') == (
        '<a rel="noopener noreferrer nofollow">x</a><img src="x">'
    )


async def test_text_fields_are_escaped(api: FakeReadApi, client: httpx.AsyncClient) -> None:
    api.add(article(5) | {"slug": "s5"}, popular=[teaser(6) | {"headline": "<b>bold</b>"}])
    html = (await client.get("/articles/a5")).text
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html


async def test_an_article_by_slug_is_the_same_page(client: httpx.AsyncClient) -> None:
    by_slug = await client.get("/news/story-1")
    assert by_slug.status_code == 200
    assert '<link rel="canonical" href="http://testserver/articles/a1">' in by_slug.text


async def test_fronts_show_latest_and_popular_and_the_sections(client: httpx.AsyncClient) -> None:
    home = await client.get("/")
    assert home.status_code == 200
    assert "<h1>Latest news</h1>" in home.text and ">Popular</h2>" in home.text
    assert 'href="/sections/politics"' in home.text
    section = await client.get("/sections/politics")
    assert section.status_code == 200 and "<h1>Politics</h1>" in section.text
    assert (await client.get("/sections/nowhere")).status_code == 404
    assert (await client.get("/sections/Bad%20Name")).status_code == 404


async def test_a_retracted_article_is_410_with_a_polite_page_and_a_missing_one_404(
    api: FakeReadApi, client: httpx.AsyncClient
) -> None:
    api.retracted.add("a1")
    gone = await client.get("/articles/a1")
    assert gone.status_code == 410 and "This article has been withdrawn" in gone.text
    assert "Headline 1" not in gone.text and "beacon" not in gone.text
    missing = await client.get("/articles/nope")
    assert missing.status_code == 404 and "Page not found" in missing.text
    assert (await client.get("/no/such/route")).status_code == 404


async def test_the_read_api_down_is_a_503_page(api: FakeReadApi, client: httpx.AsyncClient) -> None:
    api.down = True
    response = await client.get("/articles/a1")
    assert response.status_code == 503 and response.headers["retry-after"] == "10"
    assert response.headers["cache-control"] == "no-store"


async def test_an_unchanged_page_is_a_304(client: httpx.AsyncClient) -> None:
    first = await client.get("/articles/a1")
    assert first.headers["cache-control"].startswith("public, max-age=")
    again = await client.get("/articles/a1", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


async def test_health_and_static_files(client: httpx.AsyncClient) -> None:
    assert (await client.get("/livez")).status_code == 200
    assert (await client.get("/readyz")).status_code == 200
    script = await client.get("/static/beacon.js")
    assert script.status_code == 200 and "sendBeacon" in script.text
    assert (await client.get("/docs")).status_code == 404


def test_the_readership_is_skewed_and_its_favourite_changes() -> None:
    readers = Readership(random.Random(7), trend_every=1000)
    readers.articles([f"a{n}" for n in range(20)])
    first = Counter(v.article_id for v in readers.draw(999))
    top, top_views = first.most_common(1)[0]
    assert top_views > 999 / 20 * 3, "the most read gets far more than its share"
    assert top == readers.ranking[0]
    readers.draw(1)  # the 1000th view: a story rises to the top
    assert readers.ranking[0] != top
    views = readers.draw(200)
    assert len({v.visitor_id for v in views}) > 150
    assert all("Mozilla/5.0" in v.user_agent for v in views)


def test_the_readership_keeps_ranks_when_articles_come_and_go() -> None:
    readers = Readership(random.Random(1))
    readers.articles(["a", "b", "c"])
    kept = [a for a in readers.ranking if a != "b"]
    readers.articles(["a", "c", "d"])
    assert [a for a in readers.ranking if a != "d"] == kept and "d" in readers.ranking
    assert Readership(random.Random(1)).draw(5) == []


def test_dates_are_shown_in_their_zone() -> None:
    page = Page.of({"article": article(1), "popular": [teaser(2)]})
    assert page.article.published_at == datetime(2027, 3, 12, 14, 5, tzinfo=UTC)
    assert [t.article_id for t in page.popular] == ["a2"]


async def test_the_simulated_readers_post_views_at_their_rate_to_the_beacon(
    api: FakeReadApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "TICK_S", 0.01)
    with contextlib.suppress(TimeoutError):  # 6,000 a minute: one view a (shortened) tick
        await asyncio.wait_for(readers.run(api, per_minute=6000, site="demo", rng=random.Random(3)), 0.3)
    assert 10 <= len(api.views) <= 31
    assert {v.article_id for v in api.views} <= {t.article_id for t in api.latest_items}
