"""What publication decides about an article: its public ninjs shape. Pure."""

from datetime import datetime

from newsflow_contracts.events import ArticleEnriched, ArticlePublished
from newsflow_contracts.ninjs import (
    AltId,
    Association,
    Body,
    Concept,
    Description,
    Headline,
    NinjsArticle,
    Rendition,
)


def article_uri(article_id: str) -> str:
    return f"urn:newsflow:article:{article_id}"


def to_ninjs(event: ArticleEnriched) -> NinjsArticle:
    content, enrichment = event.content, event.enrichment
    bodies = [Body(role="html", content_type="text/html", value=content.body_html)]
    if enrichment.plain_text is not None:
        bodies.append(
            Body(
                role="text",
                content_type="text/plain",
                value=enrichment.plain_text,
                char_count=len(enrichment.plain_text),
                word_count=enrichment.word_count,
            )
        )
    descriptions = [
        Description(role=role, content_type="text/plain", value=value)
        for role, value in (("teaser", enrichment.teaser), ("summary", enrichment.summary))
        if value
    ]
    machine = enrichment.subjects or []

    def concepts(kind: str) -> list[Concept] | None:
        """ninjs people, places and organisations carry no creator or relevance: see subjects."""
        return [Concept(name=s.name, uri=s.id) for s in machine if s.kind == kind] or None

    return NinjsArticle(
        uri=article_uri(event.article_id),
        version=str(event.version),
        first_created=content.first_created,
        version_created=content.updated,
        embargoed_until=content.embargo_until,
        language=content.language or enrichment.language,
        headlines=[Headline(role="main", value=content.headline)],
        bodies=bodies,
        descriptions=descriptions or None,
        by=content.byline,
        slugline=event.slug,
        subjects=[Concept(name=s, creator="editor") for s in content.subjects]
        + [Concept(name=s.name, uri=s.id, creator="machine", relevance=s.relevance) for s in machine]
        or None,
        people=concepts("person"),
        places=concepts("place"),
        organisations=concepts("organisation"),
        alt_ids=[AltId(role="source", value=f"{event.source}:{event.external_id}")],
        associations=[
            Association(
                name=f"image{i}",
                uri=image.url,
                descriptions=[Description(role="caption", value=image.caption)] if image.caption else None,
                copyright_notice=image.credit,
                renditions=[Rendition(name="original", href=image.url)],
            )
            for i, image in enumerate(content.images, start=1)
        ]
        or None,
        ed_note=content.correction_note,
    )


def publish(event: ArticleEnriched, *, now: datetime) -> ArticlePublished:
    return ArticlePublished(
        article_id=event.article_id,
        version=event.version,
        slug=event.slug,
        section=event.content.section,
        canonical_url=event.content.canonical_url,
        published_at=now,
        accepted_at=event.accepted_at,
        article=to_ninjs(event),
        enrichment=event.enrichment,
        curation=event.content.curation,
    )
