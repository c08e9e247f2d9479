"""The ingest HTTP API: translate requests into use-case calls, results into responses."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from newsflow_chassis.problems import Problem
from newsflow_contracts.events import ArticleSubmitted
from pydantic import BaseModel, Field

from ..adapters.keys import KeyStore, Publisher
from ..domain.articles import InvalidArticle
from ..service import ConcurrentUpdate, accept_submission

router = APIRouter(prefix="/v1")
bearer = HTTPBearer(auto_error=False, description="A publisher API key: `Authorization: Bearer nfk_...`")


class AcceptedArticle(BaseModel):
    article_id: str = Field(description="Stable newsflow id of the article.")
    version: int = Field(description="The version this submission is (or was already) stored as.")
    event_id: str = Field(description="CloudEvents id of the news.article.ingested.v1 event.")
    slug: str = Field(description="URL-safe name of the article.")
    new_version: bool = Field(description="False when the same content was already accepted.")


async def publisher(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Publisher:
    challenge = {"WWW-Authenticate": 'Bearer realm="newsflow-ingest"'}
    if credentials is None:
        raise Problem(401, "unauthorized", "An API key is required", headers=challenge)
    keys: KeyStore = request.app.state.keys
    found = await keys.authenticate(credentials.credentials)
    if found is None:
        raise Problem(401, "unauthorized", "The API key is not valid", headers=challenge)
    return found


def require(scope: str):  # type: ignore[no-untyped-def]
    async def check(who: Annotated[Publisher, Depends(publisher)]) -> Publisher:
        if scope not in who.scopes:
            raise Problem(403, "forbidden", f"The API key lacks the '{scope}' scope")
        return who

    return check


@router.post(
    "/articles",
    status_code=202,
    response_model=AcceptedArticle,
    summary="Create an article or a new version of it",
    responses={401: {}, 403: {}, 413: {}, 422: {}},
)
async def post_article(
    submission: ArticleSubmitted,
    request: Request,
    who: Annotated[Publisher, Depends(require("publish"))],
) -> AcceptedArticle:
    state = request.app.state
    try:
        accepted = await accept_submission(
            submission, source=who.source, heads=state.heads, publish=state.publish_ingested
        )
    except InvalidArticle as error:
        raise Problem(
            422,
            "validation",
            "The article is not valid",
            str(error),
            errors=[{"field": error.field, "message": str(error)}],
        ) from error
    except ConcurrentUpdate as error:
        raise Problem(409, "conflict", "The article is being changed concurrently", str(error)) from error
    return AcceptedArticle(
        article_id=accepted.article_id,
        version=accepted.version,
        event_id=accepted.event_id,
        slug=accepted.slug,
        new_version=accepted.new_version,
    )
