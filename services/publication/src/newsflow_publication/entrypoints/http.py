"""The read API: what downstream sites fetch."""

from fastapi import APIRouter, Request
from newsflow_chassis.problems import Problem
from newsflow_contracts.events import ArticlePublished, ArticleRetracted

from ..adapters.articles import ArticleRepository, StoredArticle

router = APIRouter(prefix="/v1")


def _repository(request: Request) -> ArticleRepository:
    return request.app.state.articles  # type: ignore[no-any-return]


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
    "/articles/by-slug/{slug}",
    response_model=ArticlePublished,
    response_model_exclude_none=True,
    response_model_by_alias=True,
    summary="One article by slug",
    responses={404: {}, 410: {}},
)
async def get_article_by_slug(slug: str, request: Request) -> ArticlePublished:
    return _found(await _repository(request).get_by_slug(slug), f"with slug {slug!r}")


@router.get(
    "/articles/{article_id}",
    response_model=ArticlePublished,
    response_model_exclude_none=True,
    response_model_by_alias=True,
    summary="One article by id",
    responses={404: {}, 410: {}},
)
async def get_article(article_id: str, request: Request) -> ArticlePublished:
    return _found(await _repository(request).get(article_id), f"with id {article_id!r}")
