"""The service follows the current read-model generation (see `adapters/generations.py`).

At start, before the broker runs, it reads the pointer: the read API and the article
consumer use that generation's database and keys, and the consumer joins that generation's
group. Then it reads the pointer every `POLL_S` seconds; when a replay (or the operator) has
moved it, the service switches:

1. it stops the article consumer, which finishes and commits the record in hand;
2. the read API, the caches in front of it and the consumer now use the new generation;
3. the consumer starts again in the new generation's group, which continues where the
   replay committed. Records that arrived after the replay caught up are handled then:
   they were published already by the old generation, and are published again with the
   same `ce_id` (at-least-once, as any redelivery).

Every process of the service does this on its own; each one's subscriber leaves the old
group and joins the new one."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiokafka.errors import KafkaError
from faststream.kafka.subscriber.usecase import DefaultSubscriber
from newsflow_chassis.background import in_background
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError
from redis.asyncio import Redis

from ..adapters.articles import MongoArticleRepository
from ..adapters.generations import (
    Generation,
    GenerationStore,
    SwitchableArticles,
    SwitchableListings,
    generation,
)
from ..adapters.listings import RedisListings
from ..settings import Settings

log = logging.getLogger("newsflow.publication.generations")

POLL_S = 2.0


class CurrentGeneration:
    def __init__(self, settings: Settings, mongo: AsyncMongoClient[dict[str, Any]], redis: Redis) -> None:
        self.mongo, self.redis = mongo, redis
        self.store = GenerationStore(mongo, settings)
        self.generation = generation(settings, 0)
        self.articles = SwitchableArticles(MongoArticleRepository(mongo, self.generation.database))
        self.listings = SwitchableListings(RedisListings(redis, self.generation.redis_prefix))
        self.consuming = True
        """False between a switch's stop and its successful start."""
        self.switched: Callable[[], None] = lambda: None
        """Called once the read API uses another generation (its caches forget the old one)."""

    async def _use(self, target: Generation) -> None:
        articles = MongoArticleRepository(self.mongo, target.database)
        await articles.create_indexes()
        self.articles.target = articles
        self.listings.target = RedisListings(self.redis, target.redis_prefix)
        self.generation = target
        self.switched()

    async def start(self, subscriber: DefaultSubscriber) -> None:
        """Before the broker starts: the current generation, and its consumer group."""
        await self._use(await self.store.current())
        subscriber.group_id = self.generation.group
        log.info("read model generation %s (database %s)", self.generation.name, self.generation.database)

    async def switch(self, subscriber: DefaultSubscriber, target: Generation) -> None:
        # warnings, so that the switch shows in the service's log at the default level
        log.warning("switching the read model from %s to %s", self.generation.name, target.name)
        self.consuming = False
        await subscriber.stop()
        await self._use(target)
        subscriber.group_id = target.group
        await subscriber.start()
        self.consuming = True
        log.warning("read model generation %s (database %s) in use", target.name, target.database)

    async def _follow(self, subscriber: DefaultSubscriber, poll_s: float) -> None:
        while True:
            await asyncio.sleep(poll_s)
            try:
                target = await self.store.current()
                if target != self.generation or not self.consuming:
                    await self.switch(subscriber, target)
            except asyncio.CancelledError:
                raise
            except (PyMongoError, KafkaError, OSError) as error:  # away: the next tick tries again
                log.warning("cannot follow the read model generation, retrying: %r", error)
            except Exception:
                log.exception("could not follow the read model generation; retrying")

    @contextlib.asynccontextmanager
    async def following(
        self, subscriber: DefaultSubscriber, *, enabled: bool = True, poll_s: float = POLL_S
    ) -> AsyncIterator[None]:
        """While the broker runs (enter after it started, leave before it stops)."""
        if not enabled:
            yield
            return
        async with in_background(self._follow(subscriber, poll_s)):
            yield
