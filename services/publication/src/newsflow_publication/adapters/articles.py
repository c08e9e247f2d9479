"""The article read model in MongoDB: current state in `articles`, every version in
`article_versions` (`_id` = `<article id>:<version>`), slugs in `article_slugs`.

Writes are versioned: an older or equal version changes nothing, so a redelivered or stale
event is harmless; the one exception is the same version enriched by other enricher
versions (ingested events replayed after an enricher changed), which replaces it. The
check and the write are two operations, which is safe because each article has a single
writer: its events reach one consumer, in order (see the consumer). FerretDB v1 makes that
design necessary twice over: it does not apply concurrent updates of one document
atomically, and it pushes down only `_id` filters (anything else scans the
collection), so every read and write here goes by `_id`; the one exception is a takedown's
`update_many` over an article's versions, by `article_id` (rare).

A published version is stored compact: its content is one binary field, `zjson`, the JSON
of the ArticlePublished (zlib level 1, about a fifth of its size), beside the few fields
that are read without decoding it: `version`, `slug` and `enriched_by` (the enricher
versions it was enriched by, which decide whether the same version enriched again replaces
it). FerretDB v1 spends its CPU encoding every field of a document as SQLite JSON (and
SQLite parsing it again): a ~13 KB article as fields costs it about six times the CPU of
the same article as one 3 KB binary field (bench/replay.py), and it is what bounded the
replay. Documents stored before that, with the content as fields, are still read
(`_stored`), so a read model built before keeps working until it is replayed; `decoded`
shows either shape with the content as fields, for people and tests.

A retracted article keeps its id, slug and version with a `retracted` record (a small
subdocument, kept readable) and no content; a takedown also erases the content of its
earlier versions (their `state`).

The enrichment signature is not kept: it is a few hundred terms for machines (Related), which
read it from the topics; the read model and the read API are lighter without it."""

import contextlib
import json
import zlib
from typing import Any, Protocol

from newsflow_contracts.events import ArticlePublished, ArticleRetracted, Duplicate
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

StoredArticle = ArticlePublished | ArticleRetracted
"""The current state of an article: its live version, or the retraction that ended it."""

RETRACTED = "retracted"
CONTENT = "zjson"
"""The field holding a published version's content: zlib-compressed ArticlePublished JSON."""
ENRICHED_BY = "enriched_by"
COMPRESSION_LEVEL = 1
"""zlib's fastest: level 6 saves a tenth of the bytes for a third more CPU."""
_NOT_KEPT: Any = {"enrichment": {"signature"}}


class ArticleRepository(Protocol):
    async def save(self, article: ArticlePublished) -> StoredArticle: ...
    async def retract(self, retraction: ArticleRetracted) -> StoredArticle: ...
    async def record_duplicate(self, article: ArticlePublished, duplicate: Duplicate) -> None: ...
    async def get(self, article_id: str) -> StoredArticle | None: ...
    async def get_by_slug(self, slug: str) -> StoredArticle | None: ...


def _document(state: StoredArticle) -> dict[str, Any]:
    """What is stored for a state: the current state's document and a version's `state`."""
    if isinstance(state, ArticleRetracted):
        return {"version": state.version, "slug": state.slug, RETRACTED: state.model_dump(mode="json")}
    content = state.model_dump_json(by_alias=True, exclude_none=True, exclude=_NOT_KEPT)
    return {
        "version": state.version,
        "slug": state.slug,
        ENRICHED_BY: [{"enricher": e, "version": v} for e, v in _runs(state)],
        CONTENT: zlib.compress(content.encode(), COMPRESSION_LEVEL),
    }


def _stored(doc: dict[str, Any]) -> StoredArticle:
    """The state a document holds, in either shape (content compressed, or as fields)."""
    if RETRACTED in doc:
        return ArticleRetracted.model_validate(doc[RETRACTED])
    if CONTENT in doc:
        return ArticlePublished.model_validate_json(zlib.decompress(doc[CONTENT]))
    return ArticlePublished.model_validate({**doc, "article_id": doc["_id"]})  # stored as fields


def decoded(document: dict[str, Any]) -> dict[str, Any]:
    """A stored document (current state or version record) with its compressed content
    replaced by that content's fields: for comparing and reading them. Either shape."""
    found = dict(document)
    if CONTENT in found:
        found[CONTENT] = json.loads(zlib.decompress(found[CONTENT]))
    if isinstance(found.get("state"), dict):
        found["state"] = decoded(found["state"])
    return found


def _runs(article: ArticlePublished) -> list[tuple[str, str]]:
    return sorted((run.enricher, run.version) for run in article.enrichment.runs)


def _enriched_by(current: dict[str, Any]) -> list[tuple[str, str]]:
    """The enricher versions of a stored document, in either shape."""
    if ENRICHED_BY in current:
        return sorted((run["enricher"], run["version"]) for run in current[ENRICHED_BY])
    runs = current.get("enrichment", {}).get("runs", ())
    return sorted((run["enricher"], run["version"]) for run in runs)


def _re_enriched(current: dict[str, Any], state: StoredArticle) -> bool:
    """The same version again, enriched by other enricher versions (a replay of ingested
    events after an enricher changed): it replaces what is stored."""
    if not isinstance(state, ArticlePublished) or RETRACTED in current:
        return False
    return _runs(state) != _enriched_by(current)


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
            await self.erase_versions(retraction.article_id)
        return stored

    async def erase_versions(self, article_id: str) -> None:
        """A takedown: the content of every version on record goes, retractions stay. Their
        `state` holds the content in either shape, and a retraction in both."""
        await self.versions.update_many(
            {"article_id": article_id, f"state.{RETRACTED}": {"$exists": False}},
            {"$unset": {"state": ""}, "$set": {"taken_down": True}},
        )

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
