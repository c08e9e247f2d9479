"""In-process caches in front of the read model, for the read API.

Hot articles and their lists are read far more often than they change. `UntilChanged` keeps
what it computed until a change it depends on is announced (adapters/changes.py), so that
a retraction still leaves every answer within the second the lists promise; while the
announcements are not coming through, it keeps things for a fraction of a second only.
`ShortLived` keeps things for a fraction of a second, for what changes all the time
(Popular)."""

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, Protocol, TypeVar

from ..domain.listings import Teaser
from .articles import ArticleRepository, StoredArticle
from .changes import article_tag, list_tag, must_not_be_served
from .listings import Listings

TTL_SECONDS = 0.5
LIST_TTL_SECONDS = 0.3
"""Lists are shared for less: the indexer and the consumer need part of the second too."""
ARTICLE_MAX_AGE_S = 300.0
FIRST_PAGE_MAX_AGE_S = 60.0
log = logging.getLogger("newsflow.publication.read_cache")
MAX_ENTRIES = 5_000
MAX_ARTICLES = 1_000
"""Articles kept at most (each some tens of KB as Python objects; memory, issue 8)."""
K = TypeVar("K")
V = TypeVar("V")


class ChangeFeed(Protocol):
    """What `UntilChanged` needs of adapters/changes.py's listener."""

    live: bool
    epoch: int

    def follow(self, cache: "UntilChanged[K, V]") -> None: ...


class UntilChanged(Generic[K, V]):
    """Values kept until a change they depend on (their tags) is announced; for
    `fallback_ttl_s` only while the change feed is down.

    - An article's change (an `article:` tag) drops the values that depend on it.
    - Other changes (a list gained an article, a Related list was rewritten) make values
      due, and so does age: `max_age_s`, give or take a quarter so that values computed
      together do not fall due together (freshness and Popular drift with time). A due value
      is served while it is recomputed in the background.
    - A value is not kept when a change arrived while computing it: it may have missed it.
    - Requests for a value being computed wait for that computation rather than start their
      own, unless a change arrived since it started.
    - With `serve_due=False`, every change drops the values it touches and a value past its
      age is computed again before it is served: for what other values are computed from."""

    def __init__(
        self,
        changes: ChangeFeed,
        *,
        max_age_s: float,
        fallback_ttl_s: float = LIST_TTL_SECONDS,
        max_entries: int = MAX_ENTRIES,
        serve_due: bool = True,
    ) -> None:
        self.changes = changes
        self.max_age_s = max_age_s
        self.fallback_ttl_s = fallback_ttl_s
        self.max_entries = max_entries
        self.serve_due = serve_due
        self._entries: dict[K, tuple[float, V]] = {}
        self._keys_of: dict[str, set[K]] = {}
        self._evictions = 0
        self._computing: dict[tuple[K, int], asyncio.Future[V]] = {}
        self._background = asyncio.Semaphore(1)
        changes.follow(self)

    async def get(
        self, key: K, compute: Callable[[], Awaitable[V]], tags: Callable[[V], Iterable[str] | None]
    ) -> V:
        """The kept value, or `compute()`'s, kept under `tags(value)` unless that is None."""
        hit = self._entries.get(key)
        if hit is not None:
            due, value = hit
            if due > time.monotonic():
                return value
            if self.changes.live and self.serve_due:
                self._computation(key, compute, tags, background=True)
                return value
        return await asyncio.shield(self._computation(key, compute, tags))

    def _computation(
        self,
        key: K,
        compute: Callable[[], Awaitable[V]],
        tags: Callable[[V], Iterable[str] | None],
        *,
        background: bool = False,
    ) -> asyncio.Future[V]:
        running = (key, self.changes.epoch)
        found = self._computing.get(running)
        if found is None:
            computation = self._compute(key, compute, tags)
            if background:
                computation = self._in_turn(computation)
            found = self._computing[running] = asyncio.ensure_future(computation)
            found.add_done_callback(lambda done: self._computed(running, done))
        return found

    async def _in_turn(self, computation: Awaitable[V]) -> V:
        """Background computations one at a time: when many values fall due together (a
        busy section gained an article), requests wait for one computation at most, not for
        all of them; the due values are served meanwhile."""
        async with self._background:
            return await computation

    def _computed(self, running: tuple[K, int], done: asyncio.Future[V]) -> None:
        self._computing.pop(running, None)
        if not done.cancelled() and (error := done.exception()) is not None:
            log.debug("computing a cached value failed: %r", error)  # its requests got the error

    async def _compute(
        self, key: K, compute: Callable[[], Awaitable[V]], tags: Callable[[V], Iterable[str] | None]
    ) -> V:
        epoch = self.changes.epoch
        value = await compute()
        depends_on = tags(value)
        if depends_on is not None and self.changes.epoch == epoch:
            self.keep(key, value, depends_on)
        return value

    def state(self, key: K) -> str:
        """'kept', 'due' or 'absent' (for tests and operators' curiosity)."""
        entry = self._entries.get(key)
        return "absent" if entry is None else "kept" if entry[0] > time.monotonic() else "due"

    def keep(self, key: K, value: V, tags: Iterable[str]) -> None:
        if key not in self._entries and len(self._entries) >= self.max_entries:
            self._evict_oldest()
        ttl = self.max_age_s * random.uniform(0.75, 1.0) if self.changes.live else self.fallback_ttl_s
        self._entries[key] = (time.monotonic() + ttl, value)
        for tag in tags:
            self._keys_of.setdefault(tag, set()).add(key)

    def _evict_oldest(self) -> None:
        """The value kept longest goes (dicts keep insertion order); the tags' key sets are
        pruned now and then, so that keys evicted long ago do not pile up in them."""
        del self._entries[next(iter(self._entries))]
        self._evictions += 1
        if self._evictions >= self.max_entries:
            self._evictions = 0
            self._keys_of = {
                tag: kept for tag, keys in self._keys_of.items() if (kept := keys & self._entries.keys())
            }

    def invalidate(self, tags: Iterable[str]) -> None:
        for tag in tags:
            keys = self._keys_of.pop(tag, ())
            if must_not_be_served(tag) or not self.serve_due:
                for key in keys:
                    self._entries.pop(key, None)
                continue
            for key in keys:
                if (entry := self._entries.get(key)) is not None:
                    self._entries[key] = (0.0, entry[1])  # due: recomputed at its next request

    def clear(self) -> None:
        self._entries.clear()
        self._keys_of.clear()


class ArticleReads(Protocol):
    async def get(self, article_id: str) -> StoredArticle | None: ...
    async def get_by_slug(self, slug: str) -> StoredArticle | None: ...


class CachedReads:
    """Caches what it finds by id until the article changes, never a miss: a new article is
    readable as soon as it is stored."""

    def __init__(self, repository: ArticleRepository, changes: ChangeFeed) -> None:
        self.repository = repository
        self._by_id: UntilChanged[str, StoredArticle | None] = UntilChanged(
            changes, max_age_s=ARTICLE_MAX_AGE_S, fallback_ttl_s=TTL_SECONDS, max_entries=MAX_ARTICLES
        )

    async def get(self, article_id: str) -> StoredArticle | None:
        return await self._by_id.get(
            article_id,
            lambda: self.repository.get(article_id),
            lambda found: None if found is None else (article_tag(article_id),),
        )

    async def get_by_slug(self, slug: str) -> StoredArticle | None:
        return await self.repository.get_by_slug(slug)


class ShortLived(Generic[K, V]):
    """Values computed at most once per `ttl_s` per key, for lists that many requests share
    (an article page's lists), so that nothing shown is more than that behind Redis.
    Requests for a value being computed wait for that computation."""

    def __init__(self, *, ttl_s: float = LIST_TTL_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}
        self._computing: dict[K, asyncio.Future[V]] = {}

    async def get(self, key: K, compute: Callable[[], Awaitable[V]]) -> V:
        hit = self._entries.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        running = self._computing.get(key)
        if running is None:
            running = self._computing[key] = asyncio.ensure_future(self._compute(key, compute))
            running.add_done_callback(lambda _: self._computing.pop(key, None))
        return await asyncio.shield(running)

    async def _compute(self, key: K, compute: Callable[[], Awaitable[V]]) -> V:
        value = await compute()
        now = time.monotonic()
        if len(self._entries) >= self.max_entries:
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        self._entries[key] = (now + self.ttl_s, value)
        return value


class CachedListings:
    """The lists for the read API: a list's first page (the newest articles: every section
    front, and the candidates of every More like this of the section) kept until an article
    on it changes or the list gains one; never served once due, since More like this is
    computed from it. Everything else goes to the lists as it is."""

    def __init__(self, listings: Listings, changes: ChangeFeed) -> None:
        self.listings = listings
        self.first_pages: UntilChanged[tuple[str, int], tuple[list[Teaser], str | None]] = UntilChanged(
            changes, max_age_s=FIRST_PAGE_MAX_AGE_S, serve_due=False, max_entries=MAX_ARTICLES
        )

    async def put(self, teaser: Teaser, lists: list[str]) -> None:
        await self.listings.put(teaser, lists)

    async def remove(self, article_id: str) -> None:
        await self.listings.remove(article_id)

    async def page(self, lst: str, *, cursor: str | None, limit: int) -> tuple[list[Teaser], str | None]:
        if cursor is not None:
            return await self.listings.page(lst, cursor=cursor, limit=limit)
        return await self.first_pages.get(
            (lst, limit),
            lambda: self.listings.page(lst, cursor=None, limit=limit),
            lambda page: [list_tag(lst), *(article_tag(t.article_id) for t in page[0])],
        )

    async def teasers(self, article_ids: list[str]) -> list[Teaser]:
        return await self.listings.teasers(article_ids)

    def list_key(self, lst: str) -> str:
        return self.listings.list_key(lst)
