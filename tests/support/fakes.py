"""In-memory stand-ins for the adapters, injected through the services' wiring points."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from newsflow_contracts.events import ArticlePublished, ArticleRetracted, Duplicate
from newsflow_ingest.adapters.idempotency import KeyInFlight, KeyReused, Replay
from newsflow_ingest.adapters.keys import Publisher, hash_key
from newsflow_ingest.domain.articles import AcceptedEvent, Head, retraction_hash


@dataclass
class FakeHeadStore:
    """Every accepted version by (article id, version), like the Mongo store."""

    versions: dict[tuple[str, int], tuple[Head, AcceptedEvent]] = field(default_factory=dict)

    def _latest(self, article_id: str) -> tuple[Head, AcceptedEvent] | None:
        mine = [key for key in self.versions if key[0] == article_id]
        return self.versions[max(mine)] if mine else None

    async def get(self, article_id: str) -> Head | None:
        found = self._latest(article_id)
        return found[0] if found else None

    async def save(
        self,
        event: AcceptedEvent,
        *,
        event_id: str,
        previous_version: int,
        hold_until: datetime | None = None,
    ) -> bool:
        current = self._latest(event.article_id)
        if (current[0].version if current else 0) != previous_version:
            return False
        if isinstance(event, ArticleRetracted):
            digest, retracted = retraction_hash(event.kind, event.reason), event.kind
        else:
            digest, retracted = event.content_hash, None
        head = Head(
            event.article_id,
            event.version,
            event.slug,
            digest,
            event_id,
            False,
            source=event.source,
            external_id=event.external_id,
            retracted=retracted,
            hold_until=hold_until,
        )
        self.versions[(event.article_id, event.version)] = (head, event)
        return True

    async def mark_sent(self, article_id: str, version: int, *, superseded: bool = False) -> None:
        head, event = self.versions[(article_id, version)]
        self.versions[(article_id, version)] = (replace(head, sent=True), event)

    async def event_of(self, article_id: str, version: int | None = None) -> tuple[AcceptedEvent, str] | None:
        found = self._latest(article_id) if version is None else self.versions.get((article_id, version))
        return (found[1], found[0].event_id) if found else None

    async def unsent(self) -> list[tuple[AcceptedEvent, str]]:
        now = datetime.now(UTC)
        return [
            (e, h.event_id)
            for key, (h, e) in sorted(self.versions.items())
            if not h.sent and (h.hold_until is None or h.hold_until <= now)
        ]

    async def due(self, now: datetime) -> list[tuple[str, int]]:
        return [
            key
            for key, (h, _) in sorted(self.versions.items())
            if not h.sent and h.hold_until is not None and h.hold_until <= now
        ]


@dataclass
class FakeKeyStore:
    keys: dict[str, Publisher] = field(default_factory=dict)

    def add(self, key: str, source: str, scopes: tuple[str, ...] = ("publish", "retract")) -> None:
        self.keys[hash_key(key)] = Publisher(key_id=key[-6:], source=source, scopes=frozenset(scopes))

    async def authenticate(self, key: str) -> Publisher | None:
        return self.keys.get(hash_key(key))


@dataclass
class RecordingPublisher:
    events: list[tuple[AcceptedEvent, str]] = field(default_factory=list)
    fail_times: int = 0

    async def __call__(self, event: AcceptedEvent, event_id: str) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise ConnectionError("kafka unreachable")
        self.events.append((event, event_id))


@dataclass
class FakeArticleRepository:
    articles: dict[str, ArticlePublished | ArticleRetracted] = field(default_factory=dict)
    duplicates: dict[tuple[str, int], tuple[ArticlePublished, Duplicate]] = field(default_factory=dict)

    async def save(self, article: ArticlePublished) -> ArticlePublished | ArticleRetracted:
        return self._newer(article)

    async def retract(self, retraction: ArticleRetracted) -> ArticlePublished | ArticleRetracted:
        return self._newer(retraction)

    async def record_duplicate(self, article: ArticlePublished, duplicate: Duplicate) -> None:
        self.duplicates.setdefault((article.article_id, article.version), (article, duplicate))

    def _newer(self, state: ArticlePublished | ArticleRetracted) -> ArticlePublished | ArticleRetracted:
        current = self.articles.get(state.article_id)
        if current is None or current.version < state.version:
            self.articles[state.article_id] = state
            return state
        return current

    async def get(self, article_id: str) -> ArticlePublished | ArticleRetracted | None:
        return self.articles.get(article_id)

    async def get_by_slug(self, slug: str) -> ArticlePublished | ArticleRetracted | None:
        return next((a for a in self.articles.values() if a.slug == slug), None)


@dataclass
class FakeRateLimiter:
    """Allows `limit` requests per source, then asks them to wait."""

    limit: int = 1_000_000
    counts: dict[str, int] = field(default_factory=dict)

    async def retry_after(self, source: str) -> int | None:
        self.counts[source] = self.counts.get(source, 0) + 1
        return None if self.counts[source] <= self.limit else 1


@dataclass
class FakeIdempotencyStore:
    records: dict[str, tuple[str, int | None, dict[str, Any] | None]] = field(default_factory=dict)

    async def begin(self, scope: str, key: str, fingerprint: str) -> Replay | None:
        found = self.records.get(f"{scope}:{key}")
        if found is None:
            self.records[f"{scope}:{key}"] = (fingerprint, None, None)
            return None
        if found[0] != fingerprint:
            raise KeyReused(key)
        if found[1] is None or found[2] is None:
            raise KeyInFlight(key)
        return Replay(status=found[1], body=found[2])

    async def complete(self, scope: str, key: str, status: int, body: dict[str, Any]) -> None:
        self.records[f"{scope}:{key}"] = (self.records[f"{scope}:{key}"][0], status, body)

    async def abandon(self, scope: str, key: str) -> None:
        self.records.pop(f"{scope}:{key}", None)


@dataclass
class FakeFingerprintStore:
    """The dedup index in dicts: exact claims, LSH buckets, signatures."""

    exact: dict[str, str] = field(default_factory=dict)
    buckets: dict[str, list[str]] = field(default_factory=dict)
    sigs: dict[str, tuple[int, ...]] = field(default_factory=dict)

    async def claim_exact(self, digest: str, article_id: str) -> str:
        return self.exact.setdefault(digest, article_id)

    async def candidates(self, band_keys: Sequence[str]) -> set[str]:
        return {a for key in band_keys for a in self.buckets.get(key, [])}

    async def signatures(self, article_ids: Iterable[str]) -> dict[str, tuple[int, ...]]:
        return {a: self.sigs[a] for a in article_ids if a in self.sigs}

    async def remember(self, article_id: str, signature: Sequence[int], band_keys: Sequence[str]) -> None:
        self.sigs.setdefault(article_id, tuple(signature))
        for key in band_keys:
            members = self.buckets.setdefault(key, [])
            if article_id not in members:
                members.append(article_id)
