"""What the lists of articles show and where an article is listed. Pure.

An article is listed in `all`, in `section:<section>` and in `subject:<subject id>` for each
of its subjects; a list shows teasers, newest first."""

import base64
import re
import unicodedata
from datetime import datetime

from newsflow_contracts.events import ArticlePublished
from pydantic import BaseModel, Field

TEASER_CHARS = 200
ALL = "all"
SUBJECT_URN = "urn:newsflow:subject:"


class Teaser(BaseModel):
    """An article as a list shows it."""

    article_id: str
    slug: str
    headline: str
    teaser: str = Field(description="The opening words, cut cleanly.")
    section: str | None = None
    subjects: list[str] = Field(default_factory=list, description="Subject ids.")
    published_at: datetime = Field(description="When this version went live.")
    first_published_at: datetime | None = Field(default=None, description="When the article first went live.")
    version: int
    url: str | None = Field(default=None, description="The article's URL on its site.")


def subject_id(name: str, kind: str = "topic") -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return f"{SUBJECT_URN}{kind}:{re.sub(r'[^a-z0-9]+', '-', ascii_name).strip('-')}"


def subject_ids(article: ArticlePublished) -> list[str]:
    """Editors' subjects, and the machine's when enrichment gives them ids."""
    ids = [subject_id(c.name) for c in article.article.subjects or () if c.name and c.creator != "machine"]
    for subject in getattr(article.enrichment, "subjects", None) or ():
        ids.append(subject.id if hasattr(subject, "id") else subject_id(str(subject)))
    return list(dict.fromkeys(ids))


def lists_of(article: ArticlePublished) -> list[str]:
    lists = [ALL]
    if article.section:
        lists.append(f"section:{article.section}")
    lists.extend(f"subject:{s}" for s in subject_ids(article))
    return lists


def cut_cleanly(text: str, limit: int = TEASER_CHARS) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:-–—")
    return cut + "…"


def teaser_of(article: ArticlePublished, first_published_at: datetime | None = None) -> Teaser:
    ninjs = article.article
    machine_teaser = getattr(article.enrichment, "teaser", None)
    plain = (
        next((b.value for b in ninjs.bodies if b.role == "text"), "") or article.enrichment.plain_text or ""
    )
    return Teaser(
        article_id=article.article_id,
        slug=article.slug,
        headline=ninjs.headlines[0].value if ninjs.headlines else article.slug,
        teaser=machine_teaser or cut_cleanly(plain),
        section=article.section,
        subjects=subject_ids(article),
        published_at=article.published_at,
        first_published_at=first_published_at or article.published_at,
        version=article.version,
        url=article.canonical_url,
    )


def encode_cursor(score: float, article_id: str) -> str:
    return base64.urlsafe_b64encode(f"{score:.0f}|{article_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """Raises ValueError for a cursor this service did not make."""
    padded = cursor + "=" * (-len(cursor) % 4)
    score, _, article_id = base64.urlsafe_b64decode(padded.encode()).decode().partition("|")
    if not article_id:
        raise ValueError("not a cursor")
    return float(score), article_id


def published_ms(teaser: Teaser) -> int:
    return int((teaser.first_published_at or teaser.published_at).timestamp() * 1000)
