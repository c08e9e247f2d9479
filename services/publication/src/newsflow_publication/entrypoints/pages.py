"""The article page in one call, and its lists on their own: Related and More like this.

Both lists show only articles that are listed now (they have a teaser), so a retracted
article leaves them the moment publication removes its teaser."""

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from newsflow_contracts.events import ArticlePublished
from pydantic import BaseModel, Field

from ..adapters.listings import Listings
from ..adapters.popularity import RedisPopularity
from ..adapters.related import RedisRelated
from ..domain import more_like_this, related
from ..domain.curation import curate
from ..domain.listings import Teaser, published_ms, teaser_of
from ..domain.popularity import WINDOWS
from .caching import conditional, etag_of
from .http import ERRORS, LIST_CACHE, _found, _repository
from .views import popular_teasers

DEFAULT_LIMIT = 6
MORE_LIKE_THIS_WINDOW = "24h"
PAGE_POPULAR_WINDOW = "24h"

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


def _teasers_response(
    request: Request, kind: str, article: ArticlePublished, items: list[Teaser]
) -> Response:
    return conditional(
        request,
        ArticleTeasers(article_id=article.article_id, items=items),
        etag=etag_of(kind, article.article_id, *(f"{t.article_id}:{t.version}" for t in items)),
        last_modified=None,
        cache_control=LIST_CACHE,
    )


Limit = Annotated[int, Query(ge=1, le=50)]


async def shared_related(state: Any, article: ArticlePublished, limit: int = DEFAULT_LIMIT) -> list[Teaser]:
    """Related, computed once per `page_lists` period for every request of the article."""
    return await state.page_lists.get(  # type: ignore[no-any-return]
        ("related", article.article_id, article.version, limit),
        lambda: related_teasers(state.related, state.listings, article, limit=limit),
    )


async def shared_more_like_this(
    state: Any, article: ArticlePublished, limit: int = DEFAULT_LIMIT
) -> list[Teaser]:
    return await state.page_lists.get(  # type: ignore[no-any-return]
        ("more-like-this", article.article_id, article.version, limit),
        lambda: more_like_this_teasers(state.listings, state.popularity, article, limit=limit),
    )


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
    items = await shared_related(request.app.state, article, limit)
    return _teasers_response(request, "related", article, items)


@router.get(
    "/articles/{article_id}/more-like-this",
    response_model=ArticleTeasers,
    response_model_exclude_none=True,
    summary="Fresh articles of the same section and subjects, by recency and popularity",
    responses=ERRORS,
)
async def get_more_like_this(article_id: str, request: Request, limit: Limit = DEFAULT_LIMIT) -> Response:
    article = _found(await _repository(request).get(article_id), f"with id {article_id!r}")
    items = await shared_more_like_this(request.app.state, article, limit)
    return _teasers_response(request, "more-like-this", article, items)


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
    popular, like_this, similar = await asyncio.gather(
        shared_popular(state), shared_more_like_this(state, article), shared_related(state, article)
    )
    page = Page(
        article=article,
        popular=[t for t in popular if t.article_id != article.article_id][:DEFAULT_LIMIT],
        more_like_this=like_this,
        related=similar,
    )
    shown = [f"{t.article_id}:{t.version}" for t in (*page.popular, *page.more_like_this, *page.related)]
    return conditional(
        request,
        page,
        etag=etag_of("page", article.article_id, article.version, article.published_at.isoformat(), *shown),
        last_modified=article.published_at,
        cache_control=LIST_CACHE,
    )
