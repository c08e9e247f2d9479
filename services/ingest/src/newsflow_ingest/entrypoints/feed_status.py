"""GET /v1/feeds: the operator's view of the configured feeds and how their polls go.

It needs a key with the `feeds` scope (`newsflow-ingest keys create --scope feeds`), which
publisher keys do not get by default: feed URLs and errors are an operator's business."""

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from ..adapters.feed_sources import FeedStore
from ..adapters.keys import Publisher
from ..domain.feed_polls import Feed
from .http import ERRORS, require

router = APIRouter(prefix="/v1")


class SkippedItem(BaseModel):
    item: str = Field(description="The item's id, link or position in the document.")
    reason: str = Field(description="Why it did not become an article version.")


class FeedStatus(BaseModel):
    name: str
    source: str = Field(description="The publisher source its items are submitted as.")
    url: str
    format: str = Field(description="auto, rss, atom, jsonfeed or ninjs.")
    interval_s: float = Field(description="Seconds between polls while it succeeds.")
    enabled: bool
    status: Literal["pending", "ok", "retrying", "failing", "disabled"] = Field(
        description="pending: never polled; retrying: our side (MongoDB, Kafka) was unavailable; "
        "failing: the feed failed its last polls and is backed off."
    )
    consecutive_failures: int
    last_outcome: str | None = Field(
        description="ok, not_modified, fetch_failed, invalid_feed, unavailable or error."
    )
    last_error: str | None
    last_polled_at: datetime | None
    last_success_at: datetime | None
    next_poll_at: datetime | None
    etag: str | None
    last_modified: str | None
    items_seen: int = Field(description="Items in the last document read.")
    last_items: dict[str, int] = Field(description="Items of the last document read, by outcome.")
    last_skipped: list[SkippedItem] = Field(description="Items skipped in the last document read (first 20).")


class FeedList(BaseModel):
    feeds: list[FeedStatus]


def status_of(feed: Feed) -> Literal["pending", "ok", "retrying", "failing", "disabled"]:
    state = feed.state
    if not feed.config.enabled:
        return "disabled"
    if state.consecutive_failures:
        return "failing"
    if state.last_outcome == "unavailable":
        return "retrying"
    return "ok" if state.last_outcome else "pending"


@router.get(
    "/feeds",
    response_model=FeedList,
    summary="Configured wire feeds and the state of their polls (needs the 'feeds' scope)",
    responses={k: v for k, v in ERRORS.items() if k in (401, 403, 429, 503)},
)
async def list_feeds(request: Request, who: Annotated[Publisher, Depends(require("feeds"))]) -> FeedList:
    store: FeedStore = request.app.state.feeds
    return FeedList(
        feeds=[
            FeedStatus(
                name=feed.config.name,
                source=feed.config.source,
                url=feed.config.url,
                format=feed.config.format,
                interval_s=feed.config.interval_s,
                enabled=feed.config.enabled,
                status=status_of(feed),
                consecutive_failures=feed.state.consecutive_failures,
                last_outcome=feed.state.last_outcome,
                last_error=feed.state.last_error,
                last_polled_at=feed.state.last_polled_at,
                last_success_at=feed.state.last_success_at,
                next_poll_at=feed.state.next_poll_at,
                etag=feed.state.etag,
                last_modified=feed.state.last_modified,
                items_seen=feed.state.items_seen,
                last_items=feed.state.last_items,
                last_skipped=[SkippedItem(item=s.item, reason=s.reason) for s in feed.state.last_skipped],
            )
            for feed in await store.all()
        ]
    )
