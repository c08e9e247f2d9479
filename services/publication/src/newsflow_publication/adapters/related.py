"""Related lists in Redis, written by the related indexer and read by the API.

- `<prefix>:list:<article id>`: sorted set of the article's most related articles, scored by
  second-order similarity (0 to 1), at most `KEEP` of them;
- `<prefix>:status`: hash of the indexer's state (articles indexed, lists waiting for a
  refresh, when the last full rebuild ran), for operators and benchmarks.

The indexer builds these from the published topic at every start, so they need no replay
of their own and belong to no read-model generation; the prefix is `newsflow:related`."""

import json
import time
from collections.abc import Iterable, Mapping
from typing import cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from ..domain.related import KEEP
from .changes import related_tag

PREFIX = "newsflow:related"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisRelated:
    def __init__(
        self, redis: Redis, prefix: str = PREFIX, keep: int = KEEP, changes_channel: str | None = None
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.keep = keep
        self.changes_channel = changes_channel
        """Where the rewritten lists are announced (adapters/changes.py), in the same pipeline."""

    def _announce(self, pipe: Pipeline, article_ids: Iterable[str]) -> None:
        if self.changes_channel is not None:
            pipe.publish(self.changes_channel, json.dumps([related_tag(a) for a in article_ids]))

    def key(self, article_id: str) -> str:
        return f"{self.prefix}:list:{article_id}"

    async def replace(self, lists: Mapping[str, Mapping[str, float]]) -> None:
        """Write whole lists, each replacing the article's list at once."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for article_id, related in lists.items():
                pipe.delete(self.key(article_id))
                if related:
                    pipe.zadd(self.key(article_id), dict(related))
            self._announce(pipe, lists)
            await pipe.execute()

    async def offer(self, article_id: str, partners: Mapping[str, float]) -> None:
        """Put a new article into its partners' lists, where its score earns it a place."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for partner, score in partners.items():
                pipe.zadd(self.key(partner), {article_id: score})
                pipe.zremrangebyrank(self.key(partner), 0, -(self.keep + 1))
            self._announce(pipe, partners)
            await pipe.execute()

    async def forget(self, article_id: str, partners: Iterable[str]) -> None:
        partners = list(partners)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.delete(self.key(article_id))
            for partner in partners:
                pipe.zrem(self.key(partner), article_id)
            self._announce(pipe, [article_id, *partners])
            await pipe.execute()

    async def related(self, article_id: str, count: int = KEEP) -> dict[str, float]:
        rows = await self.redis.zrevrange(self.key(article_id), 0, count - 1, withscores=True)
        return {_text(member): float(score) for member, score in cast(list[tuple[bytes, float]], rows)}

    async def set_status(self, *, articles: int, waiting: int, rebuilt_at: float | None) -> None:
        status: dict[str, str | int | float] = {
            "articles": articles,
            "waiting": waiting,
            "updated_at": time.time(),
        }
        if rebuilt_at is not None:
            status["rebuilt_at"] = rebuilt_at
        await self.redis.hset(f"{self.prefix}:status", mapping=status)  # type: ignore[arg-type]

    async def status(self) -> dict[str, str]:
        raw = await self.redis.hgetall(f"{self.prefix}:status")
        return {_text(k): _text(v) for k, v in raw.items()}
