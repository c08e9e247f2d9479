"""The read API: what downstream sites fetch."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from newsflow_chassis.problems import Problem
from newsflow_contracts.events import ArticlePublished, ArticleRetracted
from pydantic import BaseModel, Field

from ..adapters.articles import StoredArticle
from ..adapters.listings import Listings
from ..adapters.read_cache import ArticleReads
from ..domain.listings import ALL, Teaser, decode_cursor
from .caching import conditional, etag_of

ARTICLE_CACHE = "public, max-age=30, stale-while-revalidate=60"
LIST_CACHE = "public, max-age=5, stale-while-revalidate=30"
ERRORS: dict[int | str, dict[str, Any]] = {304: {"description": "Not modified"}, 404: {}, 410: {}}

router = APIRouter(prefix="/v1")


def _repository(request: Request) -> ArticleReads:
    return request.app.state.reads  # type: ignore[no-any-return]


def _listings(request: Request) -> Listings:
    return request.app.state.listings  # type: ignore[no-any-return]


class ArticleList(BaseModel):
    items: list[Teaser]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page.")


def _article_response(request: Request, article: ArticlePublished) -> Response:
    return conditional(
        request,
        article,
        etag=etag_of(article.article_id, article.version, article.published_at.isoformat()),
        last_modified=article.published_at,
        cache_control=ARTICLE_CACHE,
    )


def _found(article: StoredArticle | None, what: str) -> ArticlePublished:
    if article is None:
        raise Problem(404, "not-found", "No such article", f"No published article {what}")
    if isinstance(article, ArticleRetracted):
        raise Problem(
            410,
            "retracted",
            "Article retracted",
            f"The article {what} was retracted ({article.kind}) and must not be shown.",
            retraction=article.kind,
        )
    return article


@router.get(
    "/articles",
    response_model=ArticleList,
    response_model_exclude_none=True,
    summary="Published articles, newest first, by section or subject",
    responses={304: {"description": "Not modified"}, 422: {}},
)
async def list_articles(
    request: Request,
    section: Annotated[str | None, Query(max_length=100, pattern=r"^[a-z0-9][a-z0-9-]*$")] = None,
    subject: Annotated[str | None, Query(max_length=300, description="A subject id")] = None,
    cursor: Annotated[str | None, Query(max_length=400, description="From the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    if section and subject:
        raise Problem(
            422,
            "validation",
            "Choose section or subject",
            errors=[{"field": "subject", "message": "not with section"}],
        )
    if cursor is not None:
        try:
            decode_cursor(cursor)
        except ValueError as error:
            raise Problem(
                422,
                "validation",
                "Invalid cursor",
                errors=[{"field": "cursor", "message": "not a cursor from this API"}],
            ) from error
    lst = f"section:{section}" if section else f"subject:{subject}" if subject else ALL
    items, next_cursor = await _listings(request).page(lst, cursor=cursor, limit=limit)
    body = ArticleList(items=items, next_cursor=next_cursor)
    newest = max((t.published_at for t in items), default=None)
    return conditional(
        request,
        body,
        etag=etag_of(lst, cursor, *(f"{t.article_id}:{t.version}" for t in items)),
        last_modified=newest,
        cache_control=LIST_CACHE,
    )


@router.get(
    "/articles/by-slug/{slug}",
    response_model=ArticlePublished,
    response_model_exclude_none=True,
    response_model_by_alias=True,
    summary="One article by slug",
    responses=ERRORS,
)
async def get_article_by_slug(slug: str, request: Request) -> Response:
    return _article_response(
        request, _found(await _repository(request).get_by_slug(slug), f"with slug {slug!r}")
    )


@router.get(
    "/articles/{article_id}",
    response_model=ArticlePublished,
    response_model_exclude_none=True,
    response_model_by_alias=True,
    summary="One article by id",
    responses=ERRORS,
)
async def get_article(article_id: str, request: Request) -> Response:
    return _article_response(
        request, _found(await _repository(request).get(article_id), f"with id {article_id!r}")
    )
