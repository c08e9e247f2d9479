"""The article read model in MongoDB: current state in `articles`, every version in
`article_versions`. Writes are versioned upserts: an older or equal version is ignored, so a
redelivered or stale event changes nothing.

A retracted article keeps its id, slug and version in `articles` with a `retracted` record
and no content; a takedown also erases the content of its earlier versions."""

import contextlib
from typing import Any, Protocol

from newsflow_contracts.events import ArticlePublished, ArticleRetracted
from pymongo import DESCENDING, AsyncMongoClient
from pymongo.errors import DuplicateKeyError

StoredArticle = ArticlePublished | ArticleRetracted
"""The current state of an article: its live version, or the retraction that ended it."""

RETRACTED = "retracted"
_CONTENT_FIELDS = [f for f in ArticlePublished.model_fields if f not in ("article_id", "version", "slug")]


class ArticleRepository(Protocol):
    async def save(self, article: ArticlePublished) -> StoredArticle: ...
    async def retract(self, retraction: ArticleRetracted) -> StoredArticle: ...
    async def get(self, article_id: str) -> StoredArticle | None: ...
    async def get_by_slug(self, slug: str) -> StoredArticle | None: ...


def _document(article: ArticlePublished) -> dict[str, Any]:
    doc = article.model_dump(mode="json", by_alias=True, exclude_none=True)
    doc["_id"] = doc.pop("article_id")
    return doc


def _stored(doc: dict[str, Any]) -> StoredArticle:
    if RETRACTED in doc:
        return ArticleRetracted.model_validate(doc[RETRACTED])
    doc = dict(doc)
    doc["article_id"] = doc.pop("_id")
    return ArticlePublished.model_validate(doc)


class MongoArticleRepository:
    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        db = client[database]
        self.articles = db["articles"]
        self.versions = db["article_versions"]

    async def create_indexes(self) -> None:
        await self.articles.create_index("slug", unique=True)
        await self.articles.create_index([("section", 1), ("published_at", DESCENDING)])
        await self.versions.create_index([("article_id", 1), ("version", DESCENDING)])

    async def save(self, article: ArticlePublished) -> StoredArticle:
        """Store the version unless a newer or equal one is there; returns what is stored."""
        current = _document(article)
        article_id = current.pop("_id")
        await self._keep_history(article_id, article.version, current)
        return await self._upsert_newer(
            article_id, article.version, {"$set": current, "$unset": {RETRACTED: ""}}, article
        )

    async def retract(self, retraction: ArticleRetracted) -> StoredArticle:
        """Apply the retraction unless a newer version is there; returns what is stored."""
        record = retraction.model_dump(mode="json")
        article_id = retraction.article_id
        await self._keep_history(article_id, retraction.version, {RETRACTED: record})
        stored = await self._upsert_newer(
            article_id,
            retraction.version,
            {
                "$set": {"version": retraction.version, "slug": retraction.slug, RETRACTED: record},
                "$unset": dict.fromkeys(_CONTENT_FIELDS, ""),
            },
            retraction,
        )
        if retraction.kind == "takedown":
            await self.versions.update_many(
                {"article_id": article_id, RETRACTED: {"$exists": False}},
                {"$unset": dict.fromkeys(_CONTENT_FIELDS, ""), "$set": {"taken_down": True}},
            )
        return stored

    async def _keep_history(self, article_id: str, version: int, fields: dict[str, Any]) -> None:
        history = {**fields, "_id": f"{article_id}:{version}", "article_id": article_id, "version": version}
        with contextlib.suppress(DuplicateKeyError):
            await self.versions.insert_one(history)

    async def _upsert_newer(
        self, article_id: str, version: int, update: dict[str, Any], applied: StoredArticle
    ) -> StoredArticle:
        try:
            result = await self.articles.update_one(
                {"_id": article_id, "version": {"$lt": version}}, update, upsert=True
            )
            if result.modified_count == 1 or result.upserted_id is not None:
                return applied
        except DuplicateKeyError:
            pass  # the document is there at an equal or newer version
        stored = await self.get(article_id)
        if stored is None:
            raise RuntimeError(f"article {article_id} neither stored nor found")
        return stored

    async def get(self, article_id: str) -> StoredArticle | None:
        doc = await self.articles.find_one({"_id": article_id})
        return _stored(doc) if doc else None

    async def get_by_slug(self, slug: str) -> StoredArticle | None:
        doc = await self.articles.find_one({"slug": slug})
        return _stored(doc) if doc else None
