"""In-memory stand-ins for the adapters, injected through the services' wiring points."""

from dataclasses import dataclass, field, replace

from newsflow_contracts.events import ArticleIngested, ArticlePublished, ArticleRetracted
from newsflow_ingest.adapters.keys import Publisher, hash_key
from newsflow_ingest.domain.articles import Head


@dataclass
class FakeHeadStore:
    docs: dict[str, tuple[Head, ArticleIngested]] = field(default_factory=dict)

    async def get(self, article_id: str) -> Head | None:
        found = self.docs.get(article_id)
        return found[0] if found else None

    async def save(self, event: ArticleIngested, *, event_id: str, previous_version: int) -> bool:
        current = self.docs.get(event.article_id)
        if (current[0].version if current else 0) != previous_version:
            return False
        head = Head(event.article_id, event.version, event.slug, event.content_hash, event_id, False)
        self.docs[event.article_id] = (head, event)
        return True

    async def mark_sent(self, article_id: str, version: int) -> None:
        head, event = self.docs[article_id]
        if head.version == version:
            self.docs[article_id] = (replace(head, sent=True), event)

    async def event_of(self, article_id: str) -> tuple[ArticleIngested, str] | None:
        found = self.docs.get(article_id)
        return (found[1], found[0].event_id) if found else None

    async def unsent(self) -> list[tuple[ArticleIngested, str]]:
        return [(e, h.event_id) for h, e in self.docs.values() if not h.sent]


@dataclass
class FakeKeyStore:
    keys: dict[str, Publisher] = field(default_factory=dict)

    def add(self, key: str, source: str, scopes: tuple[str, ...] = ("publish", "retract")) -> None:
        self.keys[hash_key(key)] = Publisher(key_id=key[-6:], source=source, scopes=frozenset(scopes))

    async def authenticate(self, key: str) -> Publisher | None:
        return self.keys.get(hash_key(key))


@dataclass
class RecordingPublisher:
    events: list[tuple[ArticleIngested, str]] = field(default_factory=list)
    fail_times: int = 0

    async def __call__(self, event: ArticleIngested, event_id: str) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise ConnectionError("kafka unreachable")
        self.events.append((event, event_id))


@dataclass
class FakeArticleRepository:
    articles: dict[str, ArticlePublished | ArticleRetracted] = field(default_factory=dict)

    async def save(self, article: ArticlePublished) -> ArticlePublished | ArticleRetracted:
        return self._newer(article)

    async def retract(self, retraction: ArticleRetracted) -> ArticlePublished | ArticleRetracted:
        return self._newer(retraction)

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
