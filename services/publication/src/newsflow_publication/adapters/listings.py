"""The lists of published articles, in Redis: every key can be rebuilt by replay.

- `newsflow:pub:list:<list>`: sorted set of article ids, scored by when the article entered
  the list (epoch milliseconds; a new version keeps its place), newest first on read;
- `newsflow:pub:teaser:<article id>`: the article's teaser as JSON;
- `newsflow:pub:in:<article id>`: set of the lists the article is in, so that a retraction
  or a change of section takes it out of exactly those.

These are read-model generation g0's keys; a generation rebuilt by `newsflow-publication
replay` has the same key spaces below its own prefix (see `adapters/generations.py`)."""

import base64
from datetime import datetime
from typing import Protocol, cast

from pydantic import ValidationError
from redis.asyncio import Redis

from ..domain.listings import Teaser, decode_cursor, encode_cursor

PREFIX = "newsflow:pub"
KEY_SPACES = ("list", "teaser", "in")
"""Every key below a prefix that RedisListings writes; dropping a generation deletes these."""


class Listings(Protocol):
    async def put(self, teaser: Teaser, lists: list[str]) -> None: ...
    async def remove(self, article_id: str) -> None: ...
    async def page(self, lst: str, *, cursor: str | None, limit: int) -> tuple[list[Teaser], str | None]: ...
    async def teasers(self, article_ids: list[str]) -> list[Teaser]: ...
    def list_key(self, lst: str) -> str: ...


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _score(moment: datetime) -> float:
    return float(int(moment.timestamp() * 1000))


class RedisListings:
    def __init__(self, redis: Redis, prefix: str = PREFIX) -> None:
        self.redis = redis
        self.prefix = prefix

    def list_key(self, lst: str) -> str:
        """The sorted set of the list's articles."""
        return f"{self.prefix}:list:{lst}"

    async def put(self, teaser: Teaser, lists: list[str]) -> None:
        """List the article (or move it to its new lists) and store its teaser. Idempotent."""
        in_key = f"{self.prefix}:in:{teaser.article_id}"
        before = {_text(m) for m in await self.redis.smembers(in_key)}
        score = _score(teaser.first_published_at or teaser.published_at)
        async with self.redis.pipeline(transaction=True) as pipe:
            for lst in before - set(lists):
                pipe.zrem(self.list_key(lst), teaser.article_id)
            for lst in lists:
                pipe.zadd(self.list_key(lst), {teaser.article_id: score}, nx=True)
            pipe.delete(in_key)
            pipe.sadd(in_key, *lists)
            pipe.set(f"{self.prefix}:teaser:{teaser.article_id}", teaser.model_dump_json())
            await pipe.execute()

    async def remove(self, article_id: str) -> None:
        in_key = f"{self.prefix}:in:{article_id}"
        lists = {_text(m) for m in await self.redis.smembers(in_key)}
        async with self.redis.pipeline(transaction=True) as pipe:
            for lst in lists:
                pipe.zrem(self.list_key(lst), article_id)
            pipe.delete(in_key, f"{self.prefix}:teaser:{article_id}")
            await pipe.execute()

    async def page(self, lst: str, *, cursor: str | None, limit: int) -> tuple[list[Teaser], str | None]:
        """Newest first, `limit` teasers after the cursor, and the cursor of the next page.
        A cursor names the last item shown, so articles arriving meanwhile shift nothing."""
        top, after = ("+inf", None) if cursor is None else (decode_cursor(cursor)[0], decode_cursor(cursor))
        rows = await self.redis.zrevrangebyscore(
            self.list_key(lst), top, "-inf", start=0, num=limit + 1 + (64 if after else 0), withscores=True
        )
        entries = [(_text(member), float(score)) for member, score in cast(list[tuple[bytes, float]], rows)]
        if after is not None:
            entries = [(m, s) for m, s in entries if s < after[0] or (s == after[0] and m < after[1])]
        shown, more = entries[:limit], len(entries) > limit
        teasers = await self.teasers([m for m, _ in shown])
        next_cursor = encode_cursor(shown[-1][1], shown[-1][0]) if more and shown else None
        return teasers, next_cursor

    async def teasers(self, article_ids: list[str]) -> list[Teaser]:
        if not article_ids:
            return []
        values = await self.redis.mget([f"{self.prefix}:teaser:{a}" for a in article_ids])
        teasers = []
        for value in values:
            if value is None:
                continue  # removed between the two reads
            try:
                teasers.append(Teaser.model_validate_json(value))
            except ValidationError:
                continue
        return teasers


def is_cursor(value: str) -> bool:
    try:
        decode_cursor(value)
    except (ValueError, UnicodeDecodeError, base64.binascii.Error):  # type: ignore[attr-defined]
        return False
    return True
