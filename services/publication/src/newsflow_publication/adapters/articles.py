"""The article read model in MongoDB: current state in `articles`, every version in
`article_versions`. Writes are versioned upserts: an older or equal version is ignored."""

import contextlib
from typing import Any, Protocol

from newsflow_contracts.events import ArticlePublished
from pymongo import DESCENDING, AsyncMongoClient
from pymongo.errors import DuplicateKeyError


class ArticleRepository(Protocol):
    async def save(self, article: ArticlePublished) -> ArticlePublished: ...
    async def get(self, article_id: str) -> ArticlePublished | None: ...
    async def get_by_slug(self, slug: str) -> ArticlePublished | None: ...


def _document(article: ArticlePublished) -> dict[str, Any]:
    doc = article.model_dump(mode="json", by_alias=True, exclude_none=True)
    doc["_id"] = doc.pop("article_id")
    return doc


def _article(doc: dict[str, Any]) -> ArticlePublished:
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

    async def save(self, article: ArticlePublished) -> ArticlePublished:
        """Store the version unless a newer or equal one is there; returns what is stored."""
        doc = _document(article)
        history = {
            **doc,
            "_id": f"{article.article_id}:{article.version}",
            "article_id": article.article_id,
        }
        with contextlib.suppress(DuplicateKeyError):
            await self.versions.insert_one(history)
        current = dict(doc)
        article_id = current.pop("_id")
        try:
            result = await self.articles.update_one(
                {"_id": article_id, "version": {"$lt": article.version}},
                {"$set": current},
                upsert=True,
            )
            if result.modified_count == 1 or result.upserted_id is not None:
                return article
        except DuplicateKeyError:
            pass
        stored = await self.get(article_id)
        if stored is None:
            raise RuntimeError(f"article {article_id} neither stored nor found")
        return stored

    async def get(self, article_id: str) -> ArticlePublished | None:
        doc = await self.articles.find_one({"_id": article_id})
        return _article(doc) if doc else None

    async def get_by_slug(self, slug: str) -> ArticlePublished | None:
        doc = await self.articles.find_one({"slug": slug})
        return _article(doc) if doc else None
