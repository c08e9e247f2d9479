"""Article events, named in the past tense. Each is the JSON value of one Kafka record;
its CloudEvents attributes travel in the record headers (see `cloudevents`).

Events are read tolerantly: a field a reader does not know is ignored, so producers can add
optional fields without breaking consumers that have not been upgraded (the schema
compatibility check in `schemas` keeps every change FULL-compatible). Only the submission,
which outside systems write, is strict, so that a misspelt field gets a precise error.
"""

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from .ninjs import NinjsArticle


class Event(BaseModel):
    """Base of every event: `event_type` is the versioned CloudEvents `type`."""

    model_config = ConfigDict(extra="ignore")
    event_type: ClassVar[str]
    compatibility: ClassVar[Literal["FULL", "BACKWARD"]] = "FULL"
    """What a new revision of the schema must keep (see newsflow_contracts.compatibility)."""


class Image(BaseModel):
    url: str = Field(max_length=2000, pattern=r"^https?://", description="Absolute http(s) URL.")
    caption: str | None = Field(default=None, description="Caption shown under the image.")
    credit: str | None = Field(default=None, description="Photographer or agency credit.")


ARTICLE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"


class ListCuration(BaseModel):
    """An editor's say over one of an article's lists."""

    model_config = ConfigDict(extra="forbid")

    pinned: list[Annotated[str, Field(pattern=ARTICLE_ID_PATTERN)]] = Field(
        default_factory=list,
        max_length=10,
        description="Article ids shown first, in this order, while they are published.",
    )
    excluded: list[Annotated[str, Field(pattern=ARTICLE_ID_PATTERN)]] = Field(
        default_factory=list,
        max_length=100,
        description="Article ids never shown in the list (one both pinned and excluded is shown: pins win).",
    )


class Curation(BaseModel):
    """Editors' pins and exclusions for the article's Related and More like this lists."""

    model_config = ConfigDict(extra="forbid")

    related: ListCuration = Field(default_factory=ListCuration)
    more_like_this: ListCuration = Field(default_factory=ListCuration)


class ArticleContent(BaseModel):
    """What a newsroom wrote: the editorial fields of one article version, sanitised."""

    headline: str = Field(description="Main headline, plain text.")
    body_html: str = Field(description="Body as sanitised HTML (allowlisted tags only).")
    byline: str | None = Field(default=None, description="Who wrote it, as printed.")
    section: str | None = Field(default=None, description="Site section, lower-case slug.")
    subjects: list[str] = Field(default_factory=list, description="Editor-given subject tags.")
    language: str | None = Field(default=None, description="BCP 47 tag the newsroom declared.")
    canonical_url: str | None = Field(default=None, description="The article's URL on its site.")
    first_created: datetime = Field(description="When the first version was created (UTC).")
    updated: datetime = Field(description="When this version was created (UTC).")
    embargo_until: datetime | None = Field(
        default=None, description="Not to be published before this time (UTC)."
    )
    images: list[Image] = Field(default_factory=list, description="Images with caption and credit.")
    correction_note: str | None = Field(
        default=None, description="Set on a correction: what changed and why."
    )
    curation: Curation | None = Field(
        default=None, description="Editors' pins and exclusions for the article's lists."
    )


class SubmittedImage(Image):
    model_config = ConfigDict(extra="forbid")


class ArticleSubmitted(Event):
    """A newsroom system submits a new article or a new version of one (HTTP body, or the
    value of a record on the submissions topic). Times without an offset are taken as UTC."""

    model_config = ConfigDict(extra="forbid")
    event_type: ClassVar[str] = "news.article.submitted.v1"
    # A command with one reader, ingest, which is deployed before any newsroom sends a new
    # field. Its schema is closed, so that a misspelt field is an error the newsroom sees;
    # that makes every added field FORWARD-incompatible by design, so only BACKWARD holds:
    # ingest keeps accepting everything it accepted before.
    compatibility: ClassVar[Literal["FULL", "BACKWARD"]] = "BACKWARD"

    external_id: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"^[\w.:/@+-]+$",
        description="The article's id in the source system (letters, digits, . : / @ + - _).",
    )
    headline: str = Field(min_length=1, max_length=500, description="Main headline.")
    body_html: str = Field(min_length=1, description="Body as HTML; it is sanitised on the way in.")
    byline: str | None = Field(default=None, max_length=500, description="Who wrote it.")
    section: str | None = Field(
        default=None,
        max_length=100,
        pattern=r"^[a-z0-9][a-z0-9-]*$",
        description="Site section as a lower-case slug, e.g. 'politics'.",
    )
    subjects: list[str] = Field(default_factory=list, max_length=50, description="Subject tags.")
    language: str | None = Field(
        default=None, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", description="BCP 47 tag."
    )
    canonical_url: str | None = Field(
        default=None, max_length=2000, pattern=r"^https?://", description="URL on the site."
    )
    first_created: datetime | None = Field(
        default=None, description="When the first version was created; defaults to now."
    )
    updated: datetime | None = Field(
        default=None, description="When this version was created; defaults to now."
    )
    embargo_until: datetime | None = Field(default=None, description="Hold until this time.")
    images: list[SubmittedImage] = Field(default_factory=list, max_length=50, description="Images.")
    correction_note: str | None = Field(
        default=None, max_length=2000, description="On a correction: what changed and why."
    )
    curation: Curation | None = Field(
        default=None,
        description="Pins and exclusions for the article's Related and More like this lists (article ids).",
    )


class Duplicate(BaseModel):
    """Ingest's finding that a version repeats an article it already has (from any source)."""

    of_article_id: str = Field(description="The first article with this content.")
    kind: Literal["exact", "near"] = Field(description="Same content hash, or similar text.")
    similarity: float = Field(ge=0, le=1, description="Estimated text similarity: 1.0 for exact.")


class ArticleVersionEvent(Event):
    """What every event about one accepted article version carries."""

    article_id: str = Field(description="Stable newsflow id of the article (the record key).")
    version: int = Field(ge=1, description="Version number, increasing by one per accepted change.")
    source: str = Field(description="The newsroom system that sent it.")
    external_id: str = Field(description="The article's id in the source system.")
    slug: str = Field(description="URL-safe, unique name of the article.")
    accepted_at: datetime = Field(description="When ingest accepted this version (UTC).")
    content: ArticleContent
    duplicate: Duplicate | None = Field(
        default=None,
        description="Set when the version duplicates another article: it is recorded, not published.",
    )


class ArticleIngested(ArticleVersionEvent):
    """Ingest accepted a new version of an article."""

    event_type: ClassVar[str] = "news.article.ingested.v1"

    content_hash: str = Field(description="SHA-256 of the normalised content.")


class EnricherRun(BaseModel):
    """Provenance: which enricher produced which fields, or why it failed."""

    enricher: str = Field(description="Enricher name, e.g. 'text'.")
    version: str = Field(description="Enricher version; a new one can be replayed over old events.")
    fields: list[str] = Field(default_factory=list, description="Enrichment fields it produced.")
    duration_ms: float = Field(ge=0, description="Time it took.")
    error: str | None = Field(default=None, description="Error class and message when it failed.")


class Keyword(BaseModel):
    term: str = Field(description="A word or phrase as the article writes it, e.g. 'interest rates'.")
    score: float = Field(ge=0, le=1, description="Weight relative to the article's top keyword (1.0).")


EntityKind = Literal["person", "place", "organisation"]


class Entity(BaseModel):
    name: str = Field(description="Full name, e.g. 'Tony Blair' for 'Mr Blair' when the article says it.")
    kind: EntityKind = Field(description="person, place or organisation.")
    count: int = Field(ge=1, description="Mentions in the headline and body.")


SubjectKind = Literal["person", "place", "organisation", "topic"]


class Subject(BaseModel):
    """A normalised tag with a stable id, for per-subject feeds and related articles."""

    id: str = Field(
        pattern=r"^urn:newsflow:subject:(person|place|organisation|topic):[a-z0-9][a-z0-9-]*$",
        description="urn:newsflow:subject:<kind>:<slug>, e.g. urn:newsflow:subject:place:london.",
    )
    name: str = Field(description="Display name.")
    kind: SubjectKind = Field(description="person, place, organisation or topic.")
    relevance: int = Field(ge=0, le=100, description="How central it is to the article.")


class SignatureTerm(BaseModel):
    term: str = Field(description="A word key: lower case, plurals folded into the singular.")
    weight: float = Field(ge=0, le=1, description="The term's weight in the unit-length vector.")


class Signature(BaseModel):
    """A sparse term vector of the article for similarity (Related). Scheme `logtf`: every
    content word with its sublinear frequency 1 + ln(count), unit length, no IDF: a consumer
    weighs terms by their rarity in its own collection before comparing two articles."""

    scheme: str = Field(description="How the vector was built, e.g. 'logtf'; compare like with like.")
    terms: list[SignatureTerm] = Field(description="The terms, heaviest first.")


class Enrichment(BaseModel):
    """What machines derived from the article. Every field is optional: an enricher
    that fails leaves its fields empty and records the failure in `runs`."""

    plain_text: str | None = Field(default=None, description="Body as plain text, paragraphs kept.")
    word_count: int | None = Field(default=None, ge=0, description="Words in the body.")
    reading_time_minutes: int | None = Field(
        default=None, ge=0, description="Minutes to read at 230 words a minute, at least 1."
    )
    language: str | None = Field(
        default=None, description="ISO 639-1 code of the language detected in the text, e.g. 'en'."
    )
    teaser: str | None = Field(
        default=None, description="The opening words, cut at a sentence or word boundary (up to 200 chars)."
    )
    summary: str | None = Field(default=None, description="A few sentences of the body, in their order.")
    keywords: list[Keyword] | None = Field(default=None, description="Top keywords, heaviest first.")
    entities: list[Entity] | None = Field(
        default=None, description="People, places and organisations named, most mentioned first."
    )
    subjects: list[Subject] | None = Field(
        default=None, description="Normalised tags from the entities and keywords, most relevant first."
    )
    signature: Signature | None = Field(
        default=None, description="Vector for article-to-article similarity (Related)."
    )
    runs: list[EnricherRun] = Field(default_factory=list, description="One entry per enricher.")


class ArticleEnriched(ArticleVersionEvent):
    """Enrichment derived what it could from an ingested article version."""

    event_type: ClassVar[str] = "news.article.enriched.v1"

    enrichment: Enrichment


class ArticlePublished(Event):
    """An article version is live: the ninjs article plus newsflow's own fields."""

    event_type: ClassVar[str] = "news.article.published.v1"

    article_id: str = Field(description="Stable newsflow id of the article (the record key).")
    version: int = Field(ge=1, description="Published version.")
    slug: str = Field(description="URL-safe, unique name of the article.")
    section: str | None = Field(default=None, description="Site section.")
    canonical_url: str | None = Field(default=None, description="The article's URL on its site.")
    published_at: datetime = Field(description="When publication made this version live (UTC).")
    accepted_at: datetime = Field(description="When ingest accepted this version (UTC).")
    article: NinjsArticle = Field(description="The article as IPTC ninjs 3.1.")
    enrichment: Enrichment
    curation: Curation | None = Field(
        default=None, description="Editors' pins and exclusions for the article's lists."
    )


RetractionKind = Literal["unpublish", "kill", "takedown"]


class ArticleRetracted(Event):
    """A newsroom withdrew an article. The retraction is a version of its own: it supersedes
    every version before it, and a later version can bring an unpublished article back.

    - `unpublish`: taken off the sites for now (ninjs pubStatus `withheld`);
    - `kill`: must not be used anywhere again (pubStatus `canceled`);
    - `takedown`: removed for legal reasons; its content is erased from the read models.

    On the published topic a retraction is a tombstone (null value) for the article's key."""

    event_type: ClassVar[str] = "news.article.retracted.v1"

    article_id: str = Field(description="Stable newsflow id of the article (the record key).")
    version: int = Field(ge=1, description="Version number of the retraction itself.")
    source: str = Field(description="The newsroom system that retracted it.")
    external_id: str = Field(description="The article's id in the source system.")
    slug: str = Field(description="URL-safe, unique name of the article.")
    kind: RetractionKind = Field(description="unpublish, kill or takedown.")
    reason: str = Field(min_length=1, max_length=2000, description="Why, for the record.")
    retracted_at: datetime = Field(description="When ingest accepted the retraction (UTC).")


class PageViewRecorded(Event):
    """A downstream site showed an article to a reader. The CloudEvents `id` is the view's
    unique id: a redelivered or resent view carries the same id and is counted once."""

    event_type: ClassVar[str] = "news.pageview.recorded.v1"

    article_id: str = Field(description="Stable newsflow id of the article viewed (the record key).")
    site: str = Field(min_length=1, max_length=200, description="The site that showed it.")
    viewed_at: datetime = Field(description="When the reader saw it (UTC).")
    visitor: str | None = Field(
        default=None,
        max_length=64,
        description=(
            "Pseudonymous visitor id for counting unique visitors: a keyed hash, never an IP "
            "address or a raw user id."
        ),
    )


EVENTS: tuple[type[Event], ...] = (
    ArticleSubmitted,
    ArticleIngested,
    ArticleEnriched,
    ArticlePublished,
    ArticleRetracted,
    PageViewRecorded,
)
"""Every event of the contract, in flow order; its JSON Schemas are exported from here."""
