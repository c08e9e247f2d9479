"""Page views in (the beacon) and Popular out.

`POST /v1/views` is called by a site's page, from the browser (`fetch` with `keepalive`, or
`navigator.sendBeacon`, whose body may be text/plain JSON, a form, or nothing with the
fields in the query). It answers 202 at once and puts a `news.pageview.recorded.v1` record
on Kafka keyed by article id, with the site's view id (or a new one) as `ce_id`, so a view
the site sends twice counts once. Crawlers (a maintained user-agent list, crawlerdetect)
and requests without a user agent are answered 202 and not counted.

Privacy: the address and user agent are used only to make the visitor id, a keyed hash
that changes daily (see domain/popularity.py); neither is stored, logged or sent on."""

import re
import secrets
import time
import uuid
from datetime import UTC, datetime
from json import JSONDecodeError, loads
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit

from crawlerdetect import CrawlerDetect
from fastapi import APIRouter, Query, Request, Response
from faststream.kafka import KafkaBroker
from newsflow_chassis.kafka import EventPublisher
from newsflow_chassis.problems import Problem
from newsflow_contracts.events import PageViewRecorded
from newsflow_contracts.topics import PAGEVIEW_RECORDED
from pydantic import BaseModel, Field, ValidationError

from ..adapters.listings import Listings
from ..adapters.popularity import RedisPopularity
from ..domain.listings import ALL, Teaser
from ..domain.popularity import WINDOWS, visitor_id
from ..settings import Settings
from .caching import conditional, etag_of

POPULAR_CACHE = "public, max-age=5, stale-while-revalidate=30"
VISITOR_COOKIE = "nf_vid"
MAX_BEACON_BYTES = 4096
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"

router = APIRouter(prefix="/v1")


class ViewBeacon(BaseModel):
    """One page view, as a site's page sends it."""

    article_id: str = Field(pattern=ID_PATTERN, description="The article shown.")
    site: str | None = Field(
        default=None, min_length=1, max_length=200, description="The site; default: the Origin's host."
    )
    view_id: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="The view's unique id (a resent view with the same id counts once); default: a new UUID.",
    )
    visitor_id: str | None = Field(
        default=None,
        max_length=200,
        description="The site's own pseudonymous visitor id; it is hashed before it goes anywhere.",
    )


class ViewAccepted(BaseModel):
    view_id: str
    counted: bool = Field(description="False when the caller was taken for a crawler.")


class PopularList(BaseModel):
    window: Literal["1h", "24h", "7d"]
    items: list[Teaser]


class ArticleViewCounts(BaseModel):
    article_id: str
    views: dict[str, int] = Field(description="Views per window (1h, 24h, 7d), whole buckets, undecayed.")
    visitors: dict[str, int] = Field(description="Unique visitors per window (HyperLogLog estimate).")


class Beacon:
    """What the beacon needs: the topic, the crawler list, the visitor key, the origins."""

    def __init__(self, broker: KafkaBroker, settings: Settings) -> None:
        self.topic = EventPublisher(
            broker,
            PAGEVIEW_RECORDED,
            PageViewRecorded,
            source=settings.event_source,
            description=(
                "Page views from the beacon (POST /v1/views), keyed by article id; ce_id is the "
                "view's id. Sites may produce here directly with the same headers."
            ),
        )
        self.crawlers = CrawlerDetect()
        self.secret = settings.views_visitor_secret.encode() or secrets.token_bytes(32)
        origins = [o.strip() for o in settings.views_allowed_origins.split(",") if o.strip()]
        self.any_origin = "*" in origins
        self.origins = set(origins)

    def cors_headers(self, origin: str | None) -> dict[str, str]:
        if self.any_origin:
            return {"Access-Control-Allow-Origin": "*"}
        if origin and origin in self.origins:
            return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        return {"Vary": "Origin"}

    def allowed(self, origin: str | None) -> bool:
        return self.any_origin or origin is None or origin in self.origins

    def is_crawler(self, user_agent: str | None) -> bool:
        return not user_agent or bool(self.crawlers.isCrawler(user_agent))


def _beacon(request: Request) -> Beacon:
    return request.app.state.beacon  # type: ignore[no-any-return]


def _popularity(request: Request) -> RedisPopularity:
    return request.app.state.popularity  # type: ignore[no-any-return]


async def _fields(request: Request) -> dict[str, Any]:
    """The query's fields, overridden by the body's: JSON whatever its content type (a
    beacon sends text/plain to avoid a preflight), or a form."""
    fields: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    if len(body) > MAX_BEACON_BYTES:
        raise Problem(413, "too-large", "Beacon too large", f"At most {MAX_BEACON_BYTES} bytes")
    text = body.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            parsed = loads(text)
        except JSONDecodeError as error:
            raise Problem(
                422, "validation", "Invalid JSON", errors=[{"field": "body", "message": str(error)}]
            ) from error
        if isinstance(parsed, dict):
            fields.update(parsed)
    elif text:
        fields.update(parse_qsl(text))
    return fields


@router.options("/views", include_in_schema=False)
async def views_preflight(request: Request) -> Response:
    beacon = _beacon(request)
    headers = beacon.cors_headers(request.headers.get("origin"))
    if "Access-Control-Allow-Origin" in headers:
        headers |= {
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "content-type",
            "Access-Control-Max-Age": "86400",
        }
    return Response(status_code=204, headers=headers)


@router.post(
    "/views",
    status_code=202,
    response_model=ViewAccepted,
    summary="Record a page view (beacon; CORS; JSON, text/plain JSON, form or query fields)",
    responses={403: {}, 413: {}, 422: {}},
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {
                "application/json": {"schema": ViewBeacon.model_json_schema()},
                "text/plain": {"schema": {"type": "string", "description": "The same JSON"}},
                "application/x-www-form-urlencoded": {"schema": ViewBeacon.model_json_schema()},
            },
        }
    },
)
async def record_view(request: Request) -> Response:
    beacon = _beacon(request)
    origin = request.headers.get("origin")
    cors = beacon.cors_headers(origin)
    if not beacon.allowed(origin):
        raise Problem(403, "forbidden", "Origin not allowed", headers=cors)
    try:
        view = ViewBeacon.model_validate(await _fields(request))
    except ValidationError as error:
        raise Problem(
            422,
            "validation",
            "Invalid page view",
            headers=cors,
            errors=[
                {"field": ".".join(map(str, e["loc"])) or "body", "message": e["msg"]} for e in error.errors()
            ],
        ) from error
    view_id = view.view_id or str(uuid.uuid4())
    user_agent = request.headers.get("user-agent")
    counted = not beacon.is_crawler(user_agent)
    if counted:
        now = datetime.now(UTC)
        event = PageViewRecorded(
            article_id=view.article_id,
            site=view.site or (urlsplit(origin).hostname if origin else None) or "unknown",
            viewed_at=now,
            visitor=visitor_id(
                beacon.secret,
                given=view.visitor_id,
                cookie=request.cookies.get(VISITOR_COOKIE),
                address=request.client.host if request.client else None,
                user_agent=user_agent,
                day=now.date(),
            ),
        )
        await beacon.topic.publish(event, key=view.article_id, event_id=view_id)
    body = ViewAccepted(view_id=view_id, counted=counted).model_dump_json().encode()
    return Response(body, status_code=202, media_type="application/json", headers=cors)


@router.get(
    "/popular",
    response_model=PopularList,
    response_model_exclude_none=True,
    summary="Most read articles over 1 hour, 24 hours or 7 days, site-wide, by section or subject",
    responses={304: {"description": "Not modified"}, 422: {}},
)
async def popular(
    request: Request,
    window: Annotated[Literal["1h", "24h", "7d"], Query(description="How far back")] = "24h",
    section: Annotated[str | None, Query(max_length=100, pattern=r"^[a-z0-9][a-z0-9-]*$")] = None,
    subject: Annotated[str | None, Query(max_length=300, description="A subject id")] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> Response:
    if section and subject:
        raise Problem(
            422,
            "validation",
            "Choose section or subject",
            errors=[{"field": "subject", "message": "not with section"}],
        )
    lst = f"section:{section}" if section else f"subject:{subject}" if subject else ALL
    items = await popular_teasers(
        _popularity(request),
        request.app.state.listings,
        window,
        lst,
        section=section,
        subject=subject,
        limit=limit,
    )
    body = PopularList(window=window, items=items)
    return conditional(
        request,
        body,
        etag=etag_of("popular", window, lst, *(f"{t.article_id}:{t.version}" for t in items)),
        last_modified=None,
        cache_control=POPULAR_CACHE,
    )


async def popular_teasers(
    popularity: RedisPopularity,
    listings: Listings,
    window: str,
    lst: str,
    *,
    section: str | None = None,
    subject: str | None = None,
    limit: int = 10,
) -> list[Teaser]:
    """The most read articles still listed (a retracted or unlisted one has no teaser), and
    still in the section or subject asked for."""
    count = limit * 3 + 10
    while True:
        ranked = await popularity.top(WINDOWS[window], lst, count=count, now_s=time.time())
        teasers = [
            t
            for t in await listings.teasers([a for a, _ in ranked])
            if (section is None or t.section == section) and (subject is None or subject in t.subjects)
        ]
        if len(teasers) >= limit or len(ranked) < count or count >= 1000:
            return teasers[:limit]
        count *= 4


@router.get(
    "/views/{article_id}",
    response_model=ArticleViewCounts,
    summary="An article's views and unique visitors over 1 hour, 24 hours and 7 days",
    responses={422: {}},
)
async def article_views(article_id: str, request: Request) -> ArticleViewCounts:
    if not re.fullmatch(ID_PATTERN, article_id):
        raise Problem(
            422, "validation", "Invalid article id", errors=[{"field": "article_id", "message": "not an id"}]
        )
    found = await _popularity(request).article_views(article_id, WINDOWS.values(), now_s=time.time())
    return ArticleViewCounts(article_id=article_id, views=found.views, visitors=found.visitors)
