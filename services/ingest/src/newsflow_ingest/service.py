"""Ingest's use cases: accept a submission, retract an article, release embargoed versions,
re-send what was accepted but not yet sent.

Every accepted version is stored before its event is published. Versions of one article
go out in order; an embargoed version is held, unsent, until its time, and a newer
version (or a retraction) that goes out first supersedes it, so it is never sent."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from newsflow_chassis.cloudevents import derived_event_id
from newsflow_chassis.metrics import stage
from newsflow_contracts.events import ArticleRetracted, ArticleSubmitted, Duplicate, RetractionKind

from .adapters.heads import HeadStore
from .dedup_service import Deduplicator
from .domain.articles import (
    AcceptedEvent,
    Head,
    Unchanged,
    article_id_for,
    decide,
    decide_retraction,
    normalise,
)

PublishAccepted = Callable[[AcceptedEvent, str], Awaitable[None]]
PublishIngested = PublishAccepted  # the name the entry points know it by
MAX_CONFLICT_RETRIES = 5


class ConcurrentUpdate(RuntimeError):
    """Another request kept winning the race for the same article."""


class UnknownArticle(LookupError):
    """No article with that id."""


class NotYourArticle(PermissionError):
    """The article belongs to another source."""


@dataclass(frozen=True, slots=True)
class Accepted:
    article_id: str
    version: int
    event_id: str
    slug: str
    new_version: bool
    held_until: datetime | None = None
    duplicate: Duplicate | None = None


def _accepted(head: Head) -> Accepted:
    return Accepted(
        article_id=head.article_id,
        version=head.version,
        event_id=head.event_id,
        slug=head.slug,
        new_version=False,
        held_until=head.hold_until if not head.sent else None,
    )


async def accept_submission(
    submission: ArticleSubmitted,
    *,
    source: str,
    heads: HeadStore,
    publish: PublishAccepted,
    now: datetime | None = None,
    dedup: Deduplicator | None = None,
) -> Accepted:
    accepted_at = now or datetime.now(UTC)
    with stage("ingest.validate"):
        content = normalise(submission, now=accepted_at)
    article_id = article_id_for(source, submission.external_id)
    for _ in range(MAX_CONFLICT_RETRIES):
        head = await heads.get(article_id)
        decision = decide(
            head=head,
            source=source,
            external_id=submission.external_id,
            content=content,
            accepted_at=accepted_at,
        )
        if isinstance(decision, Unchanged):
            await _send_if_due(decision.head, heads=heads, publish=publish, now=accepted_at)
            accepted = _accepted(await heads.get(article_id) or decision.head)
            if dedup is not None:
                accepted = replace(accepted, duplicate=await dedup.recorded(article_id, heads=heads))
            return accepted
        event = decision.event
        if dedup is not None:
            with stage("ingest.dedup"):
                event = await dedup.judge(event, heads=heads)
        event_id = derived_event_id(event.event_type, event.article_id, event.version, event.content_hash)
        embargo = (
            content.embargo_until if content.embargo_until and content.embargo_until > accepted_at else None
        )
        with stage("ingest.store"):
            saved = await heads.save(
                event, event_id=event_id, previous_version=decision.previous_version, hold_until=embargo
            )
        if saved:
            if dedup is not None:
                await dedup.remember(event)
            if embargo is None:
                await _send_in_order(head, event, event_id, heads=heads, publish=publish, now=accepted_at)
            return Accepted(
                article_id=event.article_id,
                version=event.version,
                event_id=event_id,
                slug=event.slug,
                new_version=True,
                held_until=embargo,
                duplicate=event.duplicate,
            )
    raise ConcurrentUpdate(f"article {submission.external_id!r} is being changed concurrently")


async def retract(
    article_id: str,
    *,
    kind: RetractionKind,
    reason: str,
    source: str,
    heads: HeadStore,
    publish: PublishAccepted,
    now: datetime | None = None,
) -> Accepted:
    """Unpublish, kill or take down an article of the caller's source."""
    accepted_at = now or datetime.now(UTC)
    for _ in range(MAX_CONFLICT_RETRIES):
        head = await heads.get(article_id)
        if head is None:
            raise UnknownArticle(article_id)
        if head.source != source:
            raise NotYourArticle(article_id)
        decision = decide_retraction(head=head, kind=kind, reason=reason, accepted_at=accepted_at)
        if isinstance(decision, Unchanged):
            await _send_if_due(decision.head, heads=heads, publish=publish, now=accepted_at)
            return _accepted(decision.head)
        event_id = derived_event_id(ArticleRetracted.event_type, article_id, decision.version, kind)
        if await heads.save(decision, event_id=event_id, previous_version=head.version):
            await _send_in_order(head, decision, event_id, heads=heads, publish=publish, now=accepted_at)
            return Accepted(
                article_id=article_id,
                version=decision.version,
                event_id=event_id,
                slug=head.slug,
                new_version=True,
            )
    raise ConcurrentUpdate(f"article {article_id} is being changed concurrently")


async def release_due(*, heads: HeadStore, publish: PublishAccepted, now: datetime | None = None) -> int:
    """Send the held versions whose embargo has passed; returns how many."""
    released = 0
    for article_id, version in await heads.due(now or datetime.now(UTC)):
        pending = await heads.event_of(article_id, version)
        if pending is not None:
            await _send(*pending, heads=heads, publish=publish)
            released += 1
    return released


async def resend_unsent(*, heads: HeadStore, publish: PublishAccepted) -> int:
    """Publish versions stored before a crash cut them off from Kafka (held ones excepted)."""
    pending = await heads.unsent()
    for event, event_id in pending:
        await _send(event, event_id, heads=heads, publish=publish)
    return len(pending)


async def _send_in_order(
    previous: Head | None,
    event: AcceptedEvent,
    event_id: str,
    *,
    heads: HeadStore,
    publish: PublishAccepted,
    now: datetime,
) -> None:
    """Send `event`, first sending the version before it if an outage left it unsent, or
    superseding it if it is still held by an embargo."""
    if previous is not None and not previous.sent:
        if previous.hold_until is not None and previous.hold_until > now:
            await heads.mark_sent(previous.article_id, previous.version, superseded=True)
        else:
            stored = await heads.event_of(previous.article_id, previous.version)
            if stored is not None:
                await _send(*stored, heads=heads, publish=publish)
    await _send(event, event_id, heads=heads, publish=publish)


async def _send_if_due(head: Head, *, heads: HeadStore, publish: PublishAccepted, now: datetime) -> None:
    """A repeated request for a version an outage left unsent sends it now, unless it is held."""
    if head.sent or (head.hold_until is not None and head.hold_until > now):
        return
    stored = await heads.event_of(head.article_id, head.version)
    if stored is not None:
        await _send(*stored, heads=heads, publish=publish)


async def _send(event: AcceptedEvent, event_id: str, *, heads: HeadStore, publish: PublishAccepted) -> None:
    await publish(event, event_id)
    await heads.mark_sent(event.article_id, event.version)
