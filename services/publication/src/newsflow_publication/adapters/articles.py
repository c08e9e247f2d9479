"""The article read model in MongoDB: current state in `articles`, every version in
`article_versions` (`_id` = `<article id>:<version>`), slugs in `article_slugs`.

Writes are versioned: an older or equal version changes nothing, so a redelivered or stale
event is harmless; the one exception is the same version enriched by other enricher
versions (ingested events replayed after an enricher changed), which replaces it. The
check and the write are two operations, which is safe because each article has a single
writer: its events reach one consumer, in order (see the consumer). FerretDB v1 makes that
design necessary twice over: it does not apply concurrent updates of one document
atomically, and it pushes down only `_id` filters (anything else scans the
collection), so every read and write here goes by `_id`.

A retracted article keeps its id, slug and version with a `retracted` record and no
content; a takedown also erases the content of its earlier versions.

The enrichment signature is not kept: it is a few hundred terms for machines (Related), which
read it from the topics; the read model and the read API are lighter without it."""

import contextlib
from typing import Any, Protocol

from newsflow_contracts.events import ArticlePublished, ArticleRetracted, Duplicate
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

StoredArticle = ArticlePublished | ArticleRetracted
"""The current state of an article: its live version, or the retraction that ended it."""

RETRACTED = "retracted"


class ArticleRepository(Protocol):
    async def save(self, article: ArticlePublished) -> StoredArticle: ...
    async def retract(self, retraction: ArticleRetracted) -> StoredArticle: ...
    async def record_duplicate(self, article: ArticlePublished, duplicate: Duplicate) -> None: ...
    async def get(self, article_id: str) -> StoredArticle | None: ...
    async def get_by_slug(self, slug: str) -> StoredArticle | None: ...


def _document(state: StoredArticle) -> dict[str, Any]:
    if isinstance(state, ArticleRetracted):
        return {"version": state.version, "slug": state.slug, RETRACTED: state.model_dump(mode="json")}
    doc = state.model_dump(mode="json", by_alias=True, exclude_none=True)
    del doc["article_id"]
    doc["enrichment"].pop("signature", None)
    return doc


def _stored(doc: dict[str, Any]) -> StoredArticle:
    if RETRACTED in doc:
        return ArticleRetracted.model_validate(doc[RETRACTED])
    return ArticlePublished.model_validate({**doc, "article_id": doc["_id"]})


def _provenance(enrichment: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((run["enricher"], run["version"]) for run in enrichment.get("runs", ()))


def _re_enriched(current: dict[str, Any], state: StoredArticle) -> bool:
    """The same version again, enriched by other enricher versions (a replay of ingested
    events after an enricher changed): it replaces what is stored."""
    if not isinstance(state, ArticlePublished) or RETRACTED in current:
        return False
    new = _provenance(state.enrichment.model_dump(mode="json"))
    return new != _provenance(current.get("enrichment", {}))


class MongoArticleRepository:
    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        db = client[database]
        self.articles = db["articles"]
        self.versions = db["article_versions"]
        self.slugs = db["article_slugs"]

    async def create_indexes(self) -> None:
        await self.versions.create_index("article_id")

    async def save(self, article: ArticlePublished) -> StoredArticle:
        """Store the version unless a newer or equal one is there; returns what is stored."""
        return await self._apply(article)

    async def retract(self, retraction: ArticleRetracted) -> StoredArticle:
        """Apply the retraction unless a newer version is there; returns what is stored."""
        stored = await self._apply(retraction)
        if retraction.kind == "takedown":
            await self.versions.update_many(
                {"article_id": retraction.article_id, f"state.{RETRACTED}": {"$exists": False}},
                {"$unset": {"state": ""}, "$set": {"taken_down": True}},
            )
        return stored

    async def record_duplicate(self, article: ArticlePublished, duplicate: Duplicate) -> None:
        """On record in the version history with its finding; not the article's state, so
        neither readable by id or slug nor claiming its slug."""
        with contextlib.suppress(DuplicateKeyError):
            await self.versions.insert_one(
                {
                    "_id": f"{article.article_id}:{article.version}",
                    "article_id": article.article_id,
                    "version": article.version,
                    "state": _document(article),
                    "duplicate": duplicate.model_dump(mode="json"),
                }
            )

    async def _apply(self, state: StoredArticle) -> StoredArticle:
        article_id, document = state.article_id, _document(state)
        history = {"_id": f"{article_id}:{state.version}", "article_id": article_id, "version": state.version}
        with contextlib.suppress(DuplicateKeyError):
            await self.versions.insert_one({**history, "state": document})
        with contextlib.suppress(DuplicateKeyError):
            await self.slugs.insert_one({"_id": state.slug, "article_id": article_id})
        current = await self.articles.find_one({"_id": article_id})
        if current is not None and current["version"] > state.version:
            return _stored(current)  # a stale version: no write
        if current is not None and current["version"] == state.version:
            if not _re_enriched(current, state):
                return _stored(current)  # a redelivery: no write
            await self.versions.replace_one({"_id": history["_id"]}, {**history, "state": document})
        await self.articles.replace_one({"_id": article_id}, document, upsert=True)
        return state

    async def get(self, article_id: str) -> StoredArticle | None:
        doc = await self.articles.find_one({"_id": article_id})
        return _stored(doc) if doc else None

    async def get_by_slug(self, slug: str) -> StoredArticle | None:
        entry = await self.slugs.find_one({"_id": slug})
        return await self.get(entry["article_id"]) if entry else None
