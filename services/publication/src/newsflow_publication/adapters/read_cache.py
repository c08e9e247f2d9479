"""A short-lived, in-process cache in front of the article repository, for the read API.

Hot articles are read far more often than they change: answering from memory for half a
second takes MongoDB off the request path without letting a change or a retraction go
unseen for more than that (the lists promise one second)."""

import time
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar

from ..domain.listings import Teaser
from .articles import ArticleRepository, StoredArticle
from .listings import Listings

TTL_SECONDS = 0.5
LIST_TTL_SECONDS = 0.3
"""Lists are shared for less: the indexer and the consumer need part of the second too."""
MAX_ENTRIES = 10_000
K = TypeVar("K")
V = TypeVar("V")


class ArticleReads(Protocol):
    async def get(self, article_id: str) -> StoredArticle | None: ...
    async def get_by_slug(self, slug: str) -> StoredArticle | None: ...


class CachedReads:
    """Caches what it finds, never a miss: a new article is readable as soon as it is stored."""

    def __init__(self, repository: ArticleRepository, *, ttl_s: float = TTL_SECONDS) -> None:
        self.repository = repository
        self.ttl_s = ttl_s
        self._by_id: dict[str, tuple[float, StoredArticle]] = {}

    async def get(self, article_id: str) -> StoredArticle | None:
        now = time.monotonic()
        hit = self._by_id.get(article_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        found = await self.repository.get(article_id)
        if found is None:
            return None
        if len(self._by_id) >= MAX_ENTRIES:
            self._by_id = {k: v for k, v in self._by_id.items() if v[0] > now}
            if len(self._by_id) >= MAX_ENTRIES:
                self._by_id.clear()
        self._by_id[article_id] = (now + self.ttl_s, found)
        return found

    async def get_by_slug(self, slug: str) -> StoredArticle | None:
        return await self.repository.get_by_slug(slug)


class ShortLived(Generic[K, V]):
    """Values computed at most once per `ttl_s` per key, for lists that many requests share
    (an article page's lists), so that nothing shown is more than that behind Redis."""

    def __init__(self, *, ttl_s: float = LIST_TTL_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}

    async def get(self, key: K, compute: Callable[[], Awaitable[V]]) -> V:
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = await compute()
        if len(self._entries) >= self.max_entries:
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        self._entries[key] = (now + self.ttl_s, value)
        return value


class CachedListings:
    """The lists for the read API: a list's first page (the newest articles: every section
    front, every More like this of the section) shared for `LIST_TTL_SECONDS`; everything
    else goes to the lists as it is."""

    def __init__(self, listings: Listings, *, ttl_s: float = LIST_TTL_SECONDS) -> None:
        self.listings = listings
        self.first_pages: ShortLived[tuple[str, int], tuple[list[Teaser], str | None]] = ShortLived(
            ttl_s=ttl_s
        )

    async def put(self, teaser: Teaser, lists: list[str]) -> None:
        await self.listings.put(teaser, lists)

    async def remove(self, article_id: str) -> None:
        await self.listings.remove(article_id)

    async def page(self, lst: str, *, cursor: str | None, limit: int) -> tuple[list[Teaser], str | None]:
        if cursor is not None:
            return await self.listings.page(lst, cursor=cursor, limit=limit)
        return await self.first_pages.get(
            (lst, limit), lambda: self.listings.page(lst, cursor=None, limit=limit)
        )

    async def teasers(self, article_ids: list[str]) -> list[Teaser]:
        return await self.listings.teasers(article_ids)
