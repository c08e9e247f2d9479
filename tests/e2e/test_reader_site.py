"""The reader site in headless Chromium, against the services as processes: an article page
with its three lists filled from real articles, a Related link followed, the beacon's view
counted, the page without JavaScript, on a phone, and its accessibility basics; a retracted
article's polite 410. Screenshots go to .run/artifacts/reader-site/ (git-ignored; CI keeps it).

Chromium is Debian's (`make browser`); without it these tests fail, they never skip."""

import asyncio
import json
import os
import shutil
import time
from collections.abc import AsyncIterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
from newsflow_contracts.topics import PAGEVIEW_RECORDED
from playwright.async_api import Browser, Page, async_playwright

from tests.support.processes import Services, running_services
from tests.support.stack import commit_group_at_end, unique

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".run" / "artifacts" / "reader-site"
SAMPLES = {
    d["external_id"]: d
    for d in (json.loads(line) for line in (ROOT / "samples/articles.jsonl").read_text().splitlines() if line)
}
PUBLISHED = ("demo-001", "demo-002", "demo-003", "demo-005", "demo-006", "demo-007", "demo-020", "demo-021")
BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
)


def chromium_path() -> str:
    found = (
        os.environ.get("NEWSFLOW_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if not found:
        pytest.fail("chromium not found: install it with `make browser`", pytrace=False)
    return found


class Newsroom:
    def __init__(self, services: Services, client: httpx.AsyncClient) -> None:
        self.services = services
        self.client = client
        self.suffix = unique("s").split("_")[1]
        self.auth = {"Authorization": f"Bearer {services.create_key(unique('site-cms'))}"}
        self.ids: dict[str, str] = {}

    @property
    def pub(self) -> str:
        return self.services.url("publication")

    @property
    def site(self) -> str:
        return self.services.url("site")

    async def publish(self, sample: str) -> str:
        body = {
            **SAMPLES[sample],
            "external_id": unique(sample),
            "section": f"{SAMPLES[sample]['section']}-{self.suffix}",
        }
        response = await self.client.post(
            f"{self.services.url('ingest')}/v1/articles", json=body, headers=self.auth
        )
        assert response.status_code == 202, response.text
        self.ids[sample] = response.json()["article_id"]
        return self.ids[sample]

    async def until(self, what: str, ok: Any, timeout_s: float = 30) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if found := await ok():
                return found
            await asyncio.sleep(0.1)
        raise AssertionError(f"{what}: not within {timeout_s} s")

    async def view(self, article_id: str, visitor: str) -> None:
        response = await self.client.post(
            f"{self.pub}/v1/views",
            json={"article_id": article_id, "visitor_id": visitor},
            headers={"User-Agent": BROWSER_UA},
        )
        assert response.status_code == 202 and response.json()["counted"]

    async def views(self, article_id: str) -> int:
        found = (await self.client.get(f"{self.pub}/v1/views/{article_id}")).json()
        return int(found["views"]["1h"])

    async def page_lists(self, article_id: str) -> dict[str, Any] | None:
        page = (await self.client.get(f"{self.pub}/v1/pages/{article_id}")).json()
        lists = ("popular", "more_like_this", "related")
        return page if all(page.get(name) for name in lists) else None


@pytest.fixture(scope="module")
async def newsroom() -> AsyncIterator[Newsroom]:
    run = unique("site")
    popular = {"NEWSFLOW_POPULAR_PREFIX": f"newsflow:test:{run}", "NEWSFLOW_POPULAR_GROUP": f"{run}-popular"}
    await commit_group_at_end(popular["NEWSFLOW_POPULAR_GROUP"], [PAGEVIEW_RECORDED.name])
    async with (
        running_services(
            "ingest",
            "enrichment",
            "publication",
            "related",
            "site",
            NEWSFLOW_WEBHOOKS_ENABLED="false",
            **popular,
        ) as services,
        httpx.AsyncClient(timeout=10) as client,
    ):
        room = Newsroom(services, client)
        for sample in PUBLISHED:
            await room.publish(sample)
        for article_id in room.ids.values():
            await room.until(
                f"{article_id} readable",
                lambda a=article_id: _status_is(client, f"{room.pub}/v1/articles/{a}", 200),
            )
        for n in range(6):  # readers, so that Popular fills
            await room.view(room.ids["demo-007"], f"reader-{n}")
        for n in range(3):
            await room.view(room.ids["demo-002"], f"reader-{n}")
        yield room


async def _status_is(client: httpx.AsyncClient, url: str, status: int) -> bool:
    return (await client.get(url)).status_code == status


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_path(), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        await launched.close()


async def open_page(browser: Browser, url: str, name: str, **context: Any) -> Page:
    """A page as a reader's browser shows it (headless Chromium says "HeadlessChrome" in its
    user agent, which the beacon rightly takes for a robot)."""
    page = await (await browser.new_context(user_agent=BROWSER_UA, **context)).new_page()
    response = await page.goto(url)
    assert response is not None
    await page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
    return page


async def list_links(page: Page, name: str) -> list[tuple[str, str]]:
    links = page.locator(f'[data-list="{name}"] h3 a')
    return [(await a.inner_text(), await a.get_attribute("href") or "") for a in await links.all()]


async def test_the_article_page_shows_the_article_and_its_three_lists_and_counts_its_view(
    newsroom: Newsroom, browser: Browser
) -> None:
    ferries = newsroom.ids["demo-005"]
    await newsroom.until("the page's three lists filled", lambda: newsroom.page_lists(ferries))
    before = await newsroom.views(ferries)

    page = await open_page(browser, f"{newsroom.site}/articles/{ferries}", "article")
    assert await page.locator("h1").inner_text() == SAMPLES["demo-005"]["headline"]
    assert SAMPLES["demo-005"]["byline"] in await page.locator(".meta").inner_text()
    assert await page.locator("article time[datetime]").count() == 1
    assert await page.locator(".body p").count() >= 2
    assert await page.locator(".share a").count() >= 3

    ours = {f"/articles/{a}" for a in newsroom.ids.values()}
    for name in ("popular", "more-like-this", "related"):
        links = await list_links(page, name)
        assert links, f"{name} is empty"
        assert all(href.startswith("/articles/") and headline for headline, href in links)
        assert {href for _, href in links} & ours, f"{name} shows none of the published articles"
        assert f"/articles/{ferries}" not in {href for _, href in links}
    assert await page.locator('[data-list="popular"] li p').count() >= 1, "teasers under the headlines"

    after = await newsroom.until(
        "the beacon's view counted",
        lambda: _more_views(newsroom, ferries, before),
        timeout_s=20,
    )
    print(f"\nviews of the page before and after the load: {before} -> {after}")

    headline, href = (await list_links(page, "related"))[0]
    await page.locator(f'[data-list="related"] a[href="{href}"]').first.click()
    await page.wait_for_url(f"**{href}")
    assert await page.locator("h1").inner_text() == headline
    await page.screenshot(path=ARTIFACTS / "related-followed.png", full_page=True)


async def _more_views(newsroom: Newsroom, article_id: str, before: int) -> int | None:
    now = await newsroom.views(article_id)
    return now if now > before else None


async def test_the_page_reads_without_javascript(newsroom: Newsroom, browser: Browser) -> None:
    apprentices = newsroom.ids["demo-007"]
    page = await open_page(
        browser, f"{newsroom.site}/articles/{apprentices}", "article-no-js", java_script_enabled=False
    )
    assert await page.locator("h1").inner_text() == SAMPLES["demo-007"]["headline"]
    assert await page.locator(".body p").first.is_visible()
    assert await list_links(page, "related") or await list_links(page, "more-like-this")
    assert await page.locator("script:not([src])").count() == 0, "no inline script"


async def test_the_page_fits_a_phone(newsroom: Newsroom, browser: Browser) -> None:
    council = newsroom.ids["demo-001"]
    page = await open_page(
        browser,
        f"{newsroom.site}/articles/{council}",
        "article-phone",
        viewport={"width": 375, "height": 740},
        is_mobile=True,
        has_touch=True,
    )
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the phone"
    article_box = await page.locator("article").bounding_box()
    aside_box = await page.locator("aside").bounding_box()
    assert article_box and aside_box and aside_box["y"] >= article_box["y"] + article_box["height"]
    size = await page.evaluate("parseFloat(getComputedStyle(document.querySelector('.body')).fontSize)")
    assert size >= 16


ACCESSIBILITY = """() => {
  const levels = [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => +h.tagName[1]);
  const rgb = c => c.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(v => v / 255)
    .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)
    .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = el => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const contrast = el => {
    const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(background(el))];
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  };
  const texts = [...document.querySelectorAll('p, a, h1, h2, h3, li, time')];
  return {
    lang: document.documentElement.lang,
    viewport: !!document.querySelector('meta[name=viewport][content*="width=device-width"]'),
    title: document.title,
    levels,
    landmarks: ['header', 'nav', 'main', 'aside', 'body > footer'].filter(s => document.querySelector(s)),
    unlabelledNavs: [...document.querySelectorAll('nav')].filter(n => !n.getAttribute('aria-label')).length,
    imagesWithoutAlt: document.querySelectorAll('img:not([alt])').length,
    emptyLinks: [...document.querySelectorAll('a')].filter(a => !a.textContent.trim()).length,
    lowestContrast: Math.min(...texts.map(contrast)),
  };
}"""


async def test_the_page_has_the_accessibility_basics(newsroom: Newsroom, browser: Browser) -> None:
    page = await open_page(browser, f"{newsroom.site}/articles/{newsroom.ids['demo-020']}", "article-a11y")
    found = await page.evaluate(ACCESSIBILITY)
    assert found["lang"] == "en" and found["viewport"] and found["title"]
    levels = found["levels"]
    assert levels.count(1) == 1 and levels[0] == 1
    assert all(b - a <= 1 for a, b in pairwise(levels)), f"a heading level skipped: {levels}"
    assert found["landmarks"] == ["header", "nav", "main", "aside", "body > footer"]
    assert found["unlabelledNavs"] == 0 and found["imagesWithoutAlt"] == 0 and found["emptyLinks"] == 0
    assert found["lowestContrast"] >= 4.5, f"text contrast {found['lowestContrast']:.2f}:1"

    await page.keyboard.press("Tab")  # the first stop is the skip link, and it shows where focus is
    focused = await page.evaluate(
        "(() => { const e = document.activeElement; const s = getComputedStyle(e);"
        " return [e.className, e.getAttribute('href'), s.outlineStyle, s.outlineWidth]; })()"
    )
    assert focused[:2] == ["skip", "#main"] and focused[2] != "none" and focused[3] != "0px", focused
    await page.screenshot(path=ARTIFACTS / "skip-link-focused.png")
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "main"


async def test_a_section_front_lists_its_latest_articles_and_popular(
    newsroom: Newsroom, browser: Browser
) -> None:
    section = f"politics-{newsroom.suffix}"
    page = await open_page(browser, f"{newsroom.site}/sections/{section}", "section-front")
    latest = {href for _, href in await list_links(page, "latest")}
    politics = {newsroom.ids[s] for s in ("demo-001", "demo-002", "demo-003")}
    assert {f"/articles/{a}" for a in politics} <= latest
    assert await page.locator("h2#popular").count() == 1


async def test_a_retracted_article_is_a_polite_410(newsroom: Newsroom, browser: Browser) -> None:
    novelist = newsroom.ids["demo-021"]
    response = await newsroom.client.post(
        f"{newsroom.services.url('ingest')}/v1/articles/{novelist}/retract",
        json={"kind": "unpublish", "reason": "Embargo broken"},
        headers=newsroom.auth,
    )
    assert response.status_code == 202
    url = f"{newsroom.site}/articles/{novelist}"
    await newsroom.until("the site answers 410", lambda: _status_is(newsroom.client, url, 410))
    page = await (await browser.new_context()).new_page()
    answer = await page.goto(url)
    assert answer is not None and answer.status == 410
    assert await page.locator("h1").inner_text() == "This article has been withdrawn"
    assert SAMPLES["demo-021"]["headline"] not in await page.content()
    await page.screenshot(path=ARTIFACTS / "retracted.png", full_page=True)
