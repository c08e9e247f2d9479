"""Feeds for sites and readers: RSS 2.0, Atom 1.0 and JSON Feed 1.1 of the whole site, a
section or a subject, with conditional GET."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from newsflow_chassis.problems import Problem

from ..adapters.listings import Listings
from ..domain.listings import ALL
from ..domain.syndication import FORMATS, Channel
from .caching import conditional, etag_of

router = APIRouter(prefix="/v1/feeds", tags=["feeds"])
FEED_CACHE = "public, max-age=60, stale-while-revalidate=300"
ITEMS = 50
FeedName = Annotated[
    str, Path(pattern=r"^(rss\.xml|atom\.xml|feed\.json)$", description="rss.xml, atom.xml or feed.json")
]
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/rss+xml": {}, "application/atom+xml": {}, "application/feed+json": {}}},
    304: {"description": "Not modified"},
    422: {},
}


async def _feed(request: Request, lst: str, title: str, name: str) -> Response:
    if name not in FORMATS:
        raise Problem(404, "not-found", "No such feed format", errors=[{"field": "name", "message": name}])
    listings: Listings = request.app.state.listings
    settings = request.app.state.settings
    teasers, _ = await listings.page(lst, cursor=None, limit=ITEMS)
    channel = Channel(
        title=f"{settings.site_title}: {title}" if title else settings.site_title,
        description=f"The newest articles of {settings.site_title}" + (f" about {title}" if title else ""),
        site_url=settings.site_url,
        feed_url=str(request.url),
    )
    render, media_type = FORMATS[name]
    return conditional(
        request,
        render(channel, teasers),
        etag=etag_of("feed", lst, name, *(f"{t.article_id}:{t.version}" for t in teasers)),
        last_modified=max((t.published_at for t in teasers), default=None),
        cache_control=FEED_CACHE,
        media_type=media_type,
    )


@router.get("/{name}", summary="The whole site's feed", responses=RESPONSES, response_class=Response)
async def site_feed(request: Request, name: FeedName) -> Response:
    return await _feed(request, ALL, "", name)


@router.get(
    "/sections/{section}/{name}", summary="A section's feed", responses=RESPONSES, response_class=Response
)
async def section_feed(
    request: Request,
    name: FeedName,
    section: Annotated[str, Path(max_length=100, pattern=r"^[a-z0-9][a-z0-9-]*$")],
) -> Response:
    return await _feed(request, f"section:{section}", section, name)


@router.get(
    "/subjects/{subject}/{name}", summary="A subject's feed", responses=RESPONSES, response_class=Response
)
async def subject_feed(
    request: Request, name: FeedName, subject: Annotated[str, Path(max_length=300)]
) -> Response:
    return await _feed(request, f"subject:{subject}", subject.rsplit(":", 1)[-1].replace("-", " "), name)
