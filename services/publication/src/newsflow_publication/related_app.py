"""The wiring point of publication's second process, `newsflow-publication related`: the
Related indexer alone (entrypoints/related_indexer.py), with `/livez`, `/readyz` and `/metrics`
on `NEWSFLOW_RELATED_PORT`. One runs per deployment.

It imports nothing of the read API (no MongoDB client, no FastStream broker, no routes), so
that the process holds little beside the index."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from newsflow_chassis.health import kafka_check, redis_check
from newsflow_chassis.metrics import time_redis, watch_consumer
from newsflow_chassis.operations import operate
from redis.asyncio import Redis

from .adapters.related import RedisRelated
from .entrypoints import related_indexer
from .settings import Settings

LAG_GROUP = "newsflow-publication-related"
"""How the indexer's lag is labelled in `newsflow_consumer_lag` (it reads without a group)."""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    redis = time_redis(Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5))
    store = RedisRelated(redis, prefix=settings.related_prefix, changes_channel=settings.changes_channel)
    indexing = related_indexer.Indexing()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            async with related_indexer.running(settings, store, enabled=True, indexing=indexing):
                yield
        finally:
            await redis.aclose()

    app = FastAPI(title="newsflow related indexer", lifespan=lifespan, openapi_url=None)
    watch_consumer(LAG_GROUP, lambda: indexing.consumer)
    operate(
        app,
        None,
        settings,
        service="related",
        checks={
            "redis": redis_check(lambda: redis),
            "kafka": kafka_check(indexing.kafka_client),
            "indexer": indexing.check,
        },
    )
    return app
