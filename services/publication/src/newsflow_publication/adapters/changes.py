"""What changed in the read model, announced over Redis pub/sub, so that every read API
process can keep what it computed until something it depends on changes.

A message on the channel (`NEWSFLOW_CHANGES_CHANNEL`, default `newsflow:changes`) is a JSON
list of tags:

- `article:<id>`: the article was stored, updated or retracted (the article consumer);
- `list:<name>`: an article entered the list, e.g. `list:section:sport` (the article consumer);
- `related:<id>`: the article's Related list was rewritten (the Related indexer).

Pub/sub delivers at most once and only while connected, so a listener that is not subscribed
says so (`live` is False) and the caches fall back to keeping things for a fraction of a
second; every (re)subscription empties them."""

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Iterable
from typing import Protocol

from newsflow_chassis.background import in_background
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("newsflow.publication.changes")

CHANNEL = "newsflow:changes"
RETRY_S = 1.0


def article_tag(article_id: str) -> str:
    return f"article:{article_id}"


def list_tag(name: str) -> str:
    return f"list:{name}"


def related_tag(article_id: str) -> str:
    return f"related:{article_id}"


def must_not_be_served(tag: str) -> bool:
    """What an article's change touched must not be served again: it may show a retracted
    article. A list that gained an article, or a rewritten Related list, may be served once
    more while it is recomputed: it is only short of the newcomer."""
    return tag.startswith("article:")


class Invalidated(Protocol):
    def invalidate(self, tags: Iterable[str]) -> None: ...
    def clear(self) -> None: ...


class ChangeAnnouncer:
    def __init__(self, redis: Redis, channel: str = CHANNEL) -> None:
        self.redis = redis
        self.channel = channel

    async def announce(self, tags: Iterable[str]) -> None:
        await self.redis.publish(self.channel, json.dumps(list(tags)))


class ChangeListener:
    """Follows the channel and tells the caches. `epoch` counts the messages and
    (re)subscriptions: a cache keeps a value only if no change arrived while computing it."""

    def __init__(self, redis_url: str, channel: str = CHANNEL) -> None:
        self.redis_url = redis_url
        self.channel = channel
        self.live = False
        self.epoch = 0
        self.caches: list[Invalidated] = []

    def follow(self, cache: Invalidated) -> None:
        self.caches.append(cache)

    def reset(self) -> None:
        """Forget everything cached (a reconnection, a switch of read-model generation)."""
        self.epoch += 1
        for cache in self.caches:
            cache.clear()

    def changed(self, tags: Iterable[str]) -> None:
        self.epoch += 1
        tags = list(tags)
        for cache in self.caches:
            cache.invalidate(tags)

    async def run(self) -> None:
        # its own connection, without a read timeout: a quiet channel is not a dead one
        redis = Redis.from_url(
            self.redis_url,
            socket_connect_timeout=5,
            health_check_interval=5,
            client_name=f"newsflow-changes-{os.getpid()}",
        )
        try:
            while True:
                try:
                    await self._listen(redis)
                except (RedisError, OSError) as error:
                    log.warning("change feed lost, caches short-lived until it is back: %r", error)
                finally:
                    self.live = False
                    self.reset()
                await asyncio.sleep(RETRY_S)
        finally:
            await redis.aclose()

    async def _listen(self, redis: Redis) -> None:
        async with redis.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.subscribe(self.channel)
            self.reset()
            self.live = True
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is None or message.get("type") != "message":
                    continue
                try:
                    tags = json.loads(message["data"])
                except ValueError:
                    log.warning("ignoring a change message that is not JSON: %r", message["data"][:200])
                    continue
                if isinstance(tags, list):
                    self.changed(str(tag) for tag in tags)

    def running(self) -> contextlib.AbstractAsyncContextManager[asyncio.Task[None]]:
        return in_background(self.run())
