"""What the site shows, read tolerantly from the read API's JSON. Pure: no I/O."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import nh3
from pydantic import BaseModel, ConfigDict

SECTION_PATTERN = r"^[a-z0-9][a-z0-9-]{0,99}$"


class NotFound(Exception):
    """The read API has no such article (404)."""


class Retracted(Exception):
    """The article was retracted (410) and must not be shown."""


class Unavailable(Exception):
    """The read API did not answer as it should."""


class Teaser(BaseModel):
    """An article as a list shows it (the API's teaser; unknown fields ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    article_id: str
    slug: str
    headline: str
    teaser: str = ""
    section: str | None = None
    published_at: datetime


@dataclass(frozen=True, slots=True)
class Picture:
    src: str
    alt: str


@dataclass(frozen=True, slots=True)
class Article:
    article_id: str
    slug: str
    headline: str
    byline: str | None
    published_at: datetime
    body_html: str
    section: str | None
    language: str
    picture: Picture | None = None
    correction: str | None = None

    @classmethod
    def of(cls, data: dict[str, Any]) -> "Article":
        """From the API's ArticlePublished JSON (ninjs inside)."""
        ninjs = data["article"]
        headlines = ninjs.get("headlines") or []
        headline = next((h["value"] for h in headlines if h.get("role") == "main"), None) or (
            headlines[0]["value"] if headlines else data["slug"]
        )
        bodies = ninjs.get("bodies") or []
        html = next((b["value"] for b in bodies if b.get("role") == "html"), None)
        if html is None:
            text = next((b["value"] for b in bodies), "")
            html = "".join(f"<p>{nh3.clean_text(p)}</p>" for p in text.split("\n\n") if p.strip())
        return cls(
            article_id=data["article_id"],
            slug=data["slug"],
            headline=headline,
            byline=ninjs.get("by"),
            published_at=datetime.fromisoformat(data["published_at"]),
            body_html=safe_html(html),
            section=data.get("section"),
            language=ninjs.get("language") or "en",
            picture=_picture(ninjs, headline),
            correction=ninjs.get("edNote"),
        )


def _picture(ninjs: dict[str, Any], headline: str) -> Picture | None:
    for association in ninjs.get("associations") or []:
        if association.get("type", "picture") != "picture":
            continue
        for rendition in association.get("renditions") or []:
            href = rendition.get("href") or ""
            if href.startswith(("https://", "http://")):
                caption = next((d["value"] for d in association.get("descriptions") or []), None)
                return Picture(src=href, alt=caption or rendition.get("title") or f"Picture: {headline}")
    return None


SAFE_TAGS = {
    "p", "br", "h2", "h3", "h4", "blockquote", "ul", "ol", "li", "strong", "em", "b", "i",
    "a", "figure", "figcaption", "img", "table", "thead", "tbody", "tr", "th", "td", "code", "pre",
}  # fmt: skip


def safe_html(html: str) -> str:
    """The API's body is sanitised by ingest already; the site cleans it again, to a smaller
    set of tags, since it trusts nothing that reaches it over the network."""
    return nh3.clean(
        html,
        tags=SAFE_TAGS,
        attributes={"a": {"href", "title"}, "img": {"src", "alt", "width", "height"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


@dataclass(frozen=True, slots=True)
class Page:
    """The article page: the article and its three lists."""

    article: Article
    popular: list[Teaser] = field(default_factory=list)
    more_like_this: list[Teaser] = field(default_factory=list)
    related: list[Teaser] = field(default_factory=list)

    @classmethod
    def of(cls, data: dict[str, Any]) -> "Page":
        def teasers(name: str) -> list[Teaser]:
            return [Teaser.model_validate(t) for t in data.get(name) or []]

        return cls(
            Article.of(data["article"]), teasers("popular"), teasers("more_like_this"), teasers("related")
        )


@dataclass(frozen=True, slots=True)
class Front:
    """A section front (or the home page, section None): latest and Popular."""

    section: str | None
    latest: list[Teaser]
    popular: list[Teaser]


@dataclass(frozen=True, slots=True)
class ShareLink:
    name: str
    href: str


def share_links(url: str, headline: str) -> list[ShareLink]:
    u, h = quote(url, safe=""), quote(headline, safe="")
    return [
        ShareLink("Email", f"mailto:?subject={h}&body={u}"),
        ShareLink("Bluesky", f"https://bsky.app/intent/compose?text={h}%20{u}"),
        ShareLink("X", f"https://x.com/intent/post?url={u}&text={h}"),
        ShareLink("Facebook", f"https://www.facebook.com/sharer/sharer.php?u={u}"),
        ShareLink("LinkedIn", f"https://www.linkedin.com/sharing/share-offsite/?url={u}"),
    ]


def section_title(section: str | None) -> str:
    return section.replace("-", " ").capitalize() if section else "Latest news"


def sections_of(teasers: list[Teaser]) -> list[str]:
    """The sections the newest articles are in, for the navigation."""
    return sorted({t.section for t in teasers if t.section})
