"""The newsroom rules of ingest: identity, slugs, content hashes and versions. Pure."""

import hashlib
import json
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime

from newsflow_contracts.events import (
    ArticleContent,
    ArticleIngested,
    ArticleRetracted,
    ArticleSubmitted,
    Image,
    RetractionKind,
)

from .normalise import nfc, plain_line, sanitise_html, utc

ARTICLE_ID_NAMESPACE = uuid.UUID("0d6c8f3e-8a7e-4b9e-b1f4-6a0f3a5d2c11")
SLUG_MAX_WORDS_CHARS = 80


class InvalidArticle(ValueError):
    """Content that passes the schema but breaks a newsroom rule; `field` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def article_id_for(source: str, external_id: str) -> str:
    """Stable: the same source and external id always name the same article."""
    return str(uuid.uuid5(ARTICLE_ID_NAMESPACE, f"{source}\x1f{external_id}"))


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return words[:SLUG_MAX_WORDS_CHARS].rstrip("-") or "article"


def slug_for(headline: str, article_id: str) -> str:
    """Headline words plus a short id suffix, so two articles never share a slug."""
    return f"{slugify(headline)}-{article_id.replace('-', '')[:8]}"


def normalise(submission: ArticleSubmitted, *, now: datetime) -> ArticleContent:
    body = sanitise_html(submission.body_html)
    if not plain_line(body):
        raise InvalidArticle("body_html", "body_html has no text left after sanitising")
    headline = plain_line(submission.headline)
    if not headline:
        raise InvalidArticle("headline", "headline has no text left after removing markup")
    updated = utc(submission.updated, default=now)
    first_created = utc(submission.first_created, default=updated)
    if first_created > updated:
        raise InvalidArticle("first_created", "first_created is later than updated")
    return ArticleContent(
        headline=headline,
        body_html=body,
        byline=plain_line(submission.byline) if submission.byline else None,
        section=submission.section,
        subjects=sorted({plain_line(s) for s in submission.subjects if plain_line(s)}),
        language=submission.language,
        canonical_url=submission.canonical_url,
        first_created=first_created,
        updated=updated,
        embargo_until=utc(submission.embargo_until, default=now) if submission.embargo_until else None,
        images=[
            Image(
                url=image.url,
                caption=plain_line(image.caption) if image.caption else None,
                credit=plain_line(image.credit) if image.credit else None,
            )
            for image in submission.images
        ],
        correction_note=nfc(submission.correction_note) if submission.correction_note else None,
        curation=submission.curation,
    )


def content_hash(content: ArticleContent) -> str:
    """What makes two versions the same: the editorial content, not the times we were told.
    (No curation is left out, so that versions from before curation existed keep their hash.)"""
    excluded = {"updated", "first_created"} | ({"curation"} if content.curation is None else set())
    significant = content.model_dump(mode="json", exclude=excluded)
    canonical = json.dumps(significant, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


AcceptedEvent = ArticleIngested | ArticleRetracted
"""A version ingest accepted: new content, or a retraction (itself a version)."""


class Withdrawn(ValueError):
    """The article was killed or taken down: it cannot be published again."""


@dataclass(frozen=True, slots=True)
class Head:
    """The latest accepted version of an article, as ingest remembers it."""

    article_id: str
    version: int
    slug: str
    content_hash: str
    event_id: str
    sent: bool
    source: str = ""
    external_id: str = ""
    retracted: RetractionKind | None = None
    hold_until: datetime | None = None
    """An embargoed version is held, unsent, until this time."""


@dataclass(frozen=True, slots=True)
class Unchanged:
    head: Head


@dataclass(frozen=True, slots=True)
class NewVersion:
    event: ArticleIngested
    previous_version: int


def decide(
    *,
    head: Head | None,
    source: str,
    external_id: str,
    content: ArticleContent,
    accepted_at: datetime,
) -> Unchanged | NewVersion:
    """Same content as the head: nothing new. Otherwise the next version, unless the
    article was killed or taken down."""
    article_id = article_id_for(source, external_id)
    digest = content_hash(content)
    if head is not None and head.content_hash == digest:
        return Unchanged(head)
    if head is not None and head.retracted in ("kill", "takedown"):
        raise Withdrawn(f"article {article_id} was {'killed' if head.retracted == 'kill' else 'taken down'}")
    previous = head.version if head else 0
    event = ArticleIngested(
        article_id=article_id,
        version=previous + 1,
        source=source,
        external_id=external_id,
        slug=head.slug if head else slug_for(content.headline, article_id),
        content_hash=digest,
        accepted_at=accepted_at,
        content=content,
    )
    return NewVersion(event=event, previous_version=previous)


def retraction_hash(kind: RetractionKind, reason: str) -> str:
    return hashlib.sha256(f"retracted\x1f{kind}\x1f{nfc(reason).strip()}".encode()).hexdigest()


def decide_retraction(
    *, head: Head, kind: RetractionKind, reason: str, accepted_at: datetime
) -> Unchanged | ArticleRetracted:
    """The same retraction again: nothing new. Otherwise the retraction is the next version."""
    reason = nfc(reason).strip()
    if not reason:
        raise InvalidArticle("reason", "reason must not be blank")
    if head.content_hash == retraction_hash(kind, reason):
        return Unchanged(head)
    return ArticleRetracted(
        article_id=head.article_id,
        version=head.version + 1,
        source=head.source,
        external_id=head.external_id,
        slug=head.slug,
        kind=kind,
        reason=reason,
        retracted_at=accepted_at,
    )
