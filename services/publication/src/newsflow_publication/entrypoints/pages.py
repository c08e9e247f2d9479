"""The article page in one call, and its lists on their own: Related and More like this.

Both lists show only articles that are listed now (they have a teaser), so a retracted
article leaves them the moment publication removes its teaser."""

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from newsflow_contracts.events import ArticlePublished
from pydantic import BaseModel, Field, TypeAdapter
from pydantic_core import to_json

from ..adapters.changes import article_tag, list_tag, related_tag
from ..adapters.listings import Listings
from ..adapters.popularity import RedisPopularity
from ..adapters.related import RedisRelated
from ..domain import more_like_this, related
from ..domain.curation import curate
from ..domain.listings import Teaser, published_ms, teaser_of
from ..domain.popularity import WINDOWS
from .caching import conditional, etag_of, rendered
from .http import ERRORS, LIST_CACHE, _found, _repository
from .views import popular_teasers

DEFAULT_LIMIT = 6
MORE_LIKE_THIS_WINDOW = "24h"
PAGE_POPULAR_WINDOW = "24h"
RELATED_MAX_AGE_S = 60.0
"""Related is kept until a change is announced, and recomputed this often for its recency."""
MORE_LIKE_THIS_MAX_AGE_S = 30.0

router = APIRouter(prefix="/v1")


class Page(BaseModel):
    """What a site needs to render an article page, in one call."""

    article: ArticlePublished
    popular: list[Teaser] = Field(default_factory=list, description="Most read now.")
    more_like_this: list[Teaser] = Field(
        default_factory=list, description="Same section and subjects, fresh."
    )
    related: list[Teaser] = Field(default_factory=list, description="Most similar content.")


class ArticleTeasers(BaseModel):
    article_id: str
    items: list[Teaser]


async def related_teasers(
    store: RedisRelated, listings: Listings, article: ArticlePublished, *, limit: int = DEFAULT_LIMIT
) -> list[Teaser]:
    curation = article.curation.related if article.curation else None
    similar = await store.related(article.article_id)
    pinned = curation.pinned if curation else []
    teasers = {t.article_id: t for t in await listings.teasers([*pinned, *similar])}
    ranked = related.blend(similar, {a: published_ms(t) for a, t in teasers.items()}, int(time.time() * 1000))
    shown = curate(ranked, curation, listed=set(teasers), own_id=article.article_id, limit=limit)
    return [teasers[a] for a in shown]


async def more_like_this_teasers(
    listings: Listings, popularity: RedisPopularity, article: ArticlePublished, *, limit: int = DEFAULT_LIMIT
) -> list[Teaser]:
    curation = article.curation.more_like_this if article.curation else None
    own = teaser_of(article)
    lists = more_like_this.candidate_lists(own)
    pages = await asyncio.gather(
        *(listings.page(lst, cursor=None, limit=more_like_this.CANDIDATES_PER_LIST) for lst in lists)
    )
    candidates = [t for teasers, _ in pages for t in teasers]
    views: dict[str, float] = {}
    if own.section:
        views = dict(
            await popularity.top(
                WINDOWS[MORE_LIKE_THIS_WINDOW], f"section:{own.section}", count=200, now_s=time.time()
            )
        )
    teasers = {t.article_id: t for t in candidates}
    if curation and (missing := [a for a in curation.pinned if a not in teasers]):
        teasers.update((t.article_id, t) for t in await listings.teasers(missing))
    ranked = [t.article_id for t in more_like_this.rank(own, candidates, views, datetime.now(UTC))]
    shown = curate(ranked, curation, listed=set(teasers), own_id=article.article_id, limit=limit)
    return [teasers[a] for a in shown]


TEASERS: TypeAdapter[list[Teaser]] = TypeAdapter(list[Teaser])


@dataclass(frozen=True, slots=True)
class Shown:
    """A list as the API shows it: the teasers, their JSON, and what its ETag names."""

    teasers: list[Teaser]
    json: bytes
    names: str

    @classmethod
    def of(cls, teasers: list[Teaser]) -> "Shown":
        return cls(
            teasers,
            TEASERS.dump_json(teasers, by_alias=True, exclude_none=True),
            ",".join(f"{t.article_id}:{t.version}" for t in teasers),
        )


class PopularShown:
    """Popular as each page shows it (without the page's own article), rendered once for
    every list `shared_popular` computes."""

    def __init__(self) -> None:
        self._source: list[Teaser] | None = None
        self._shown: dict[str, Shown] = {}

    def of(self, popular: list[Teaser], own_id: str) -> Shown:
        if popular is not self._source:
            self._source, self._shown = popular, {}
        key = own_id if any(t.article_id == own_id for t in popular) else ""
        found = self._shown.get(key)
        if found is None:
            others = [t for t in popular if t.article_id != own_id]
            found = self._shown[key] = Shown.of(others[:DEFAULT_LIMIT])
        return found


def _tags_of(article: ArticlePublished, shown: Shown, pinned: list[str], *more: str) -> list[str]:
    return [
        article_tag(article.article_id),
        *more,
        *(article_tag(t.article_id) for t in shown.teasers),
        *map(article_tag, pinned),
    ]


async def shown_related(state: Any, article: ArticlePublished, limit: int = DEFAULT_LIMIT) -> Shown:
    """Related, kept until the article, its Related list or an article shown changes."""
    pinned = article.curation.related.pinned if article.curation and article.curation.related else []

    async def compute() -> Shown:
        return Shown.of(await related_teasers(state.related, state.listings, article, limit=limit))

    return await state.related_shown.get(  # type: ignore[no-any-return]
        (article.article_id, article.version, limit),
        compute,
        lambda shown: _tags_of(article, shown, pinned, related_tag(article.article_id)),
    )


async def shown_more_like_this(state: Any, article: ArticlePublished, limit: int = DEFAULT_LIMIT) -> Shown:
    """More like this, kept until the article, an article shown or a candidate list changes
    (a new article of the section); Popular moves it only slowly, so it is recomputed
    every `MORE_LIKE_THIS_MAX_AGE_S` too."""
    curation = article.curation.more_like_this if article.curation else None
    pinned = curation.pinned if curation else []

    async def compute() -> Shown:
        return Shown.of(await more_like_this_teasers(state.listings, state.popularity, article, limit=limit))

    def tags(shown: Shown) -> list[str]:
        lists = more_like_this.candidate_lists(teaser_of(article))
        return _tags_of(article, shown, pinned, *map(list_tag, lists))

    return await state.more_like_this_shown.get(  # type: ignore[no-any-return]
        (article.article_id, article.version, limit), compute, tags
    )


def page_json(article_json: bytes, popular: Shown, like_this: Shown, similar: Shown) -> bytes:
    """The same JSON as `Page(...).model_dump_json(by_alias=True, exclude_none=True)`, from
    parts rendered once each."""
    return b'{"article":%s,"popular":%s,"more_like_this":%s,"related":%s}' % (
        article_json,
        popular.json,
        like_this.json,
        similar.json,
    )


def _teasers_response(request: Request, kind: str, article: ArticlePublished, shown: Shown) -> Response:
    etag = etag_of(kind, article.article_id, shown.names)
    body = b'{"article_id":%s,"items":%s}' % (to_json(article.article_id), shown.json)
    return conditional(request, body, etag=etag, last_modified=None, cache_control=LIST_CACHE)


Limit = Annotated[int, Query(ge=1, le=50)]


async def shared_popular(state: Any) -> list[Teaser]:
    return await state.page_lists.get(  # type: ignore[no-any-return]
        ("popular", PAGE_POPULAR_WINDOW, DEFAULT_LIMIT + 1),
        lambda: popular_teasers(
            state.popularity, state.listings, PAGE_POPULAR_WINDOW, "all", limit=DEFAULT_LIMIT + 1
        ),
    )


@router.get(
    "/articles/{article_id}/related",
    response_model=ArticleTeasers,
    response_model_exclude_none=True,
    summary="The articles most similar in content, blended with recency",
    responses=ERRORS,
)
async def get_related(article_id: str, request: Request, limit: Limit = DEFAULT_LIMIT) -> Response:
    article = _found(await _repository(request).get(article_id), f"with id {article_id!r}")
    shown = await shown_related(request.app.state, article, limit)
    return _teasers_response(request, "related", article, shown)


@router.get(
    "/articles/{article_id}/more-like-this",
    response_model=ArticleTeasers,
    response_model_exclude_none=True,
    summary="Fresh articles of the same section and subjects, by recency and popularity",
    responses=ERRORS,
)
async def get_more_like_this(article_id: str, request: Request, limit: Limit = DEFAULT_LIMIT) -> Response:
    article = _found(await _repository(request).get(article_id), f"with id {article_id!r}")
    shown = await shown_more_like_this(request.app.state, article, limit)
    return _teasers_response(request, "more-like-this", article, shown)


@router.get(
    "/pages/{article_id}",
    response_model=Page,
    response_model_exclude_none=True,
    response_model_by_alias=True,
    summary="An article page: the article and its popular, more-like-this and related lists",
    responses=ERRORS,
)
async def get_page(article_id: str, request: Request) -> Response:
    article = _found(await _repository(request).get(article_id), f"with id {article_id!r}")
    state = request.app.state
    # one after the other: each is almost always kept already, and a gather costs more then
    popular = state.popular_shown.of(await shared_popular(state), article.article_id)
    like_this = await shown_more_like_this(state, article)
    similar = await shown_related(state, article)
    etag = etag_of(
        "page",
        article.article_id,
        article.version,
        article.published_at.isoformat(),
        popular.names,
        like_this.names,
        similar.names,
    )
    article_json = rendered((article.article_id, article.version, article.published_at), article)
    body = page_json(article_json, popular, like_this, similar)
    return conditional(request, body, etag=etag, last_modified=article.published_at, cache_control=LIST_CACHE)
