"""Ingest's use cases: accept a submission, re-send what was accepted but not yet sent."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from newsflow_chassis.cloudevents import derived_event_id
from newsflow_contracts.events import ArticleIngested, ArticleSubmitted

from .adapters.heads import HeadStore
from .domain.articles import Unchanged, article_id_for, decide, normalise

PublishIngested = Callable[[ArticleIngested, str], Awaitable[None]]
MAX_CONFLICT_RETRIES = 5


class ConcurrentUpdate(RuntimeError):
    """Another request kept winning the race for the same article."""


@dataclass(frozen=True, slots=True)
class Accepted:
    article_id: str
    version: int
    event_id: str
    slug: str
    new_version: bool


async def accept_submission(
    submission: ArticleSubmitted,
    *,
    source: str,
    heads: HeadStore,
    publish: PublishIngested,
    now: datetime | None = None,
) -> Accepted:
    accepted_at = now or datetime.now(UTC)
    content = normalise(submission, now=accepted_at)
    for _ in range(MAX_CONFLICT_RETRIES):
        article_id = article_id_for(source, submission.external_id)
        head = await heads.get(article_id)
        decision = decide(
            head=head,
            source=source,
            external_id=submission.external_id,
            content=content,
            accepted_at=accepted_at,
        )
        if head is not None and not head.sent:
            await _send_head(article_id, heads=heads, publish=publish)  # keep versions in order
        if isinstance(decision, Unchanged):
            return Accepted(
                article_id=article_id,
                version=decision.head.version,
                event_id=decision.head.event_id,
                slug=decision.head.slug,
                new_version=False,
            )
        event = decision.event
        event_id = derived_event_id(event.event_type, event.article_id, event.version, event.content_hash)
        if await heads.save(event, event_id=event_id, previous_version=decision.previous_version):
            await _send(event, event_id, heads=heads, publish=publish)
            return Accepted(
                article_id=event.article_id,
                version=event.version,
                event_id=event_id,
                slug=event.slug,
                new_version=True,
            )
    raise ConcurrentUpdate(f"article {submission.external_id!r} is being changed concurrently")


async def resend_unsent(*, heads: HeadStore, publish: PublishIngested) -> int:
    """Publish heads stored before a crash cut them off from Kafka."""
    pending = await heads.unsent()
    for event, event_id in pending:
        await _send(event, event_id, heads=heads, publish=publish)
    return len(pending)


async def _send_head(article_id: str, *, heads: HeadStore, publish: PublishIngested) -> None:
    """Publish the latest accepted version, left unsent by an outage, before anything newer."""
    stored = await heads.event_of(article_id)
    if stored is not None:
        await _send(stored[0], stored[1], heads=heads, publish=publish)


async def _send(event: ArticleIngested, event_id: str, *, heads: HeadStore, publish: PublishIngested) -> None:
    await publish(event, event_id)
    await heads.mark_sent(event.article_id, event.version)
