"""The ingest HTTP API: translate requests into use-case calls, results into responses."""

import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from newsflow_chassis.api_keys import authenticated
from newsflow_chassis.problems import Problem
from newsflow_contracts.events import ArticleSubmitted, RetractionKind
from pydantic import BaseModel, ConfigDict, Field

from ..adapters.idempotency import IdempotencyStore, KeyInFlight, KeyReused
from ..adapters.keys import KeyStore, Publisher
from ..adapters.rate_limit import RateLimiter
from ..domain.articles import InvalidArticle, Withdrawn
from ..service import (
    Accepted,
    ConcurrentUpdate,
    NotYourArticle,
    UnknownArticle,
    accept_submission,
    retract,
)

router = APIRouter(prefix="/v1")
bearer = HTTPBearer(auto_error=False, description="A publisher API key: `Authorization: Bearer nfk_...`")
ERRORS: dict[int | str, dict[str, Any]] = {401: {}, 403: {}, 409: {}, 413: {}, 422: {}, 429: {}, 503: {}}
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Retries with the same key and body get the first answer; another body is refused.",
    ),
]


class AcceptedArticle(BaseModel):
    article_id: str = Field(description="Stable newsflow id of the article.")
    version: int = Field(description="The version this submission is (or was already) stored as.")
    event_id: str = Field(description="CloudEvents id of the event that carries this version.")
    slug: str = Field(description="URL-safe name of the article.")
    new_version: bool = Field(description="False when the same content was already accepted.")
    held_until: datetime | None = Field(
        default=None, description="Set when the version is embargoed: it is published at this time."
    )
    duplicate_of: str | None = Field(
        default=None,
        description="Set when the article duplicates an earlier one (from any source): the id of that "
        "first article. The version is recorded, not published.",
    )


class RetractionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: RetractionKind = Field(
        description="unpublish (off the sites for now), kill (never to be used again) or takedown "
        "(legal removal: the content is erased from the read models)."
    )
    reason: str = Field(min_length=1, max_length=2000, description="Why, for the record.")


async def publisher(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Publisher:
    keys: KeyStore = request.app.state.keys
    found: Publisher = await authenticated(keys, credentials, realm="newsflow-ingest")
    return found


def require(scope: str) -> Callable[..., Awaitable[Publisher]]:
    """The caller's key must have `scope`, and its source must be within its request rate."""

    async def check(request: Request, who: Annotated[Publisher, Depends(publisher)]) -> Publisher:
        if scope not in who.scopes:
            raise Problem(403, "forbidden", f"The API key lacks the '{scope}' scope")
        limiter: RateLimiter = request.app.state.rate_limiter
        wait = await limiter.retry_after(who.source)
        if wait is not None:
            raise Problem(
                429,
                "rate-limited",
                "Too many requests",
                f"Source {who.source!r} is over its request rate; retry after {wait} s.",
                headers={"Retry-After": str(wait)},
            )
        return who

    return check


async def _answer(
    request: Request,
    who: Publisher,
    idempotency_key: str | None,
    run: Callable[[], Awaitable[Accepted]],
) -> JSONResponse:
    """Run the use case once per idempotency key, and translate its outcome."""
    store: IdempotencyStore = request.app.state.idempotency
    if idempotency_key is not None:
        fingerprint = hashlib.sha256(
            request.method.encode() + b" " + request.url.path.encode() + b"\n" + await request.body()
        ).hexdigest()
        try:
            replay = await store.begin(who.source, idempotency_key, fingerprint)
        except KeyReused as error:
            raise Problem(
                422,
                "idempotency-key-reused",
                "The Idempotency-Key was used with another request",
                errors=[{"field": "Idempotency-Key", "message": "already used with a different body"}],
            ) from error
        except KeyInFlight as error:
            raise Problem(
                409, "idempotency-key-in-flight", "A request with this Idempotency-Key is running"
            ) from error
        if replay is not None:
            return JSONResponse(
                replay.body, status_code=replay.status, headers={"Idempotent-Replayed": "true"}
            )
    try:
        accepted = await _translate_errors(run)
    except BaseException:
        if idempotency_key is not None:
            await store.abandon(who.source, idempotency_key)
        raise
    body = AcceptedArticle(
        article_id=accepted.article_id,
        version=accepted.version,
        event_id=accepted.event_id,
        slug=accepted.slug,
        new_version=accepted.new_version,
        held_until=accepted.held_until,
        duplicate_of=accepted.duplicate.of_article_id if accepted.duplicate else None,
    ).model_dump(mode="json", exclude_none=True)
    if idempotency_key is not None:
        await store.complete(who.source, idempotency_key, 202, body)
    return JSONResponse(body, status_code=202)


async def _translate_errors(run: Callable[[], Awaitable[Accepted]]) -> Accepted:
    try:
        return await run()
    except InvalidArticle as error:
        raise Problem(
            422,
            "validation",
            "The article is not valid",
            str(error),
            errors=[{"field": error.field, "message": str(error)}],
        ) from error
    except Withdrawn as error:
        raise Problem(409, "withdrawn", "The article was killed or taken down", str(error)) from error
    except ConcurrentUpdate as error:
        raise Problem(409, "conflict", "The article is being changed concurrently", str(error)) from error
    except UnknownArticle as error:
        raise Problem(404, "not-found", "No such article", f"No article with id {error}.") from error
    except NotYourArticle as error:
        raise Problem(
            403, "forbidden", "The article belongs to another source", f"Article {error}"
        ) from error


@router.post(
    "/articles",
    status_code=202,
    response_model=AcceptedArticle,
    response_model_exclude_none=True,
    summary="Create an article or a new version of it (a correction carries a correction_note)",
    responses=ERRORS,
)
async def post_article(
    submission: ArticleSubmitted,
    request: Request,
    who: Annotated[Publisher, Depends(require("publish"))],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    state = request.app.state

    async def run() -> Accepted:
        return await accept_submission(
            submission,
            source=who.source,
            heads=state.heads,
            publish=state.publish_ingested,
            dedup=state.dedup,
        )

    return await _answer(request, who, idempotency_key, run)


@router.post(
    "/articles/{article_id}/retract",
    status_code=202,
    response_model=AcceptedArticle,
    response_model_exclude_none=True,
    summary="Unpublish, kill or take down an article of your source",
    responses={**ERRORS, 404: {}},
)
async def retract_article(
    retraction: RetractionRequest,
    request: Request,
    who: Annotated[Publisher, Depends(require("retract"))],
    article_id: Annotated[str, Path(max_length=64, pattern=r"^[0-9a-f-]+$")],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    state = request.app.state

    async def run() -> Accepted:
        return await retract(
            article_id,
            kind=retraction.kind,
            reason=retraction.reason,
            source=who.source,
            heads=state.heads,
            publish=state.publish_ingested,
        )

    return await _answer(request, who, idempotency_key, run)
