"""The one wiring point of ingest: clients, adapters, routes and the Kafka publishers."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiokafka.errors import KafkaError
from fastapi import FastAPI
from newsflow_chassis.health import mongodb_check, redis_check
from newsflow_chassis.kafka import EventPublisher, build_broker, running_broker
from newsflow_chassis.metrics import time_redis
from newsflow_chassis.operations import operate
from newsflow_chassis.problems import install_problem_handlers
from newsflow_contracts.events import ArticleIngested, ArticleRetracted
from newsflow_contracts.topics import ARTICLE_INGESTED, ARTICLE_RETRACTED
from pymongo import AsyncMongoClient
from pymongo.errors import ConnectionFailure, PyMongoError
from redis.asyncio import Redis

from .adapters.feed_sources import MongoFeedStore
from .adapters.fingerprints import MongoFingerprintStore
from .adapters.heads import MongoHeadStore
from .adapters.idempotency import MongoIdempotencyStore
from .adapters.keys import MongoKeyStore
from .adapters.rate_limit import RedisRateLimiter
from .dedup_service import Deduplicator, DedupPolicy
from .domain.articles import AcceptedEvent
from .entrypoints import feed_status, feeds, http, submissions
from .entrypoints.limits import BodySizeLimit
from .service import ConcurrentUpdate, release_due, resend_unsent
from .settings import Settings

log = logging.getLogger("newsflow.ingest")


def mongo_client(settings: Settings) -> AsyncMongoClient[dict[str, Any]]:
    return AsyncMongoClient(settings.mongo_url, serverSelectionTimeoutMS=5000, tz_aware=True)


def deduplicator(mongo: AsyncMongoClient[dict[str, Any]], settings: Settings) -> Deduplicator | None:
    """Duplicate finding over ingest's database; None when it is disabled."""
    if not settings.dedup_enabled:
        return None
    policy = DedupPolicy(threshold=settings.dedup_near_threshold, min_words=settings.dedup_min_words)
    return Deduplicator(MongoFingerprintStore(mongo, settings.ingest_db), policy)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    broker = build_broker(
        settings, client_id="newsflow-ingest", transient=(ConnectionFailure, ConcurrentUpdate)
    )
    ingested = EventPublisher(
        broker,
        ARTICLE_INGESTED,
        ArticleIngested,
        source=settings.event_source,
        description="Every accepted article version, keyed by article id.",
    )
    retracted = EventPublisher(
        broker,
        ARTICLE_RETRACTED,
        ArticleRetracted,
        source=settings.event_source,
        description="Every accepted retraction (unpublish, kill, takedown), keyed by article id.",
    )

    async def publish_accepted(event: AcceptedEvent, event_id: str) -> None:
        topic = retracted if isinstance(event, ArticleRetracted) else ingested
        await topic.publish(event, key=event.article_id, event_id=event_id)

    async def release_embargoes(app: FastAPI) -> None:
        while True:
            await asyncio.sleep(settings.embargo_tick_s)
            try:
                await release_due(heads=app.state.heads, publish=publish_accepted)
            except (PyMongoError, KafkaError, OSError) as error:
                log.warning("embargo release postponed: %r", error)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        mongo = mongo_client(settings)
        redis = time_redis(Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2))
        app.state.mongo, app.state.redis = mongo, redis
        app.state.heads = MongoHeadStore(mongo, settings.ingest_db)
        app.state.keys = MongoKeyStore(mongo, settings.ingest_db)
        app.state.idempotency = MongoIdempotencyStore(mongo, settings.ingest_db)
        app.state.rate_limiter = RedisRateLimiter(redis, per_second=settings.rate_limit_per_second)
        app.state.dedup = deduplicator(mongo, settings)
        app.state.publish_ingested = publish_accepted
        app.state.feeds = MongoFeedStore(mongo, settings.ingest_db)
        await app.state.heads.create_indexes()
        try:
            async with running_broker(broker, settings):
                await resend_unsent(heads=app.state.heads, publish=publish_accepted)
                releaser = asyncio.create_task(release_embargoes(app))
                try:
                    async with feeds.polling(app.state, settings) as app.state.feed_poller:
                        yield
                finally:
                    releaser.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await releaser
        finally:
            await redis.aclose()
            await mongo.close()

    app = FastAPI(
        title="newsflow ingest",
        version="1.0.0",
        description="The front door for newsroom systems: submit articles, new versions and retractions.",
        lifespan=lifespan,
    )
    app.state.broker = broker
    app.state.dedup = None  # a Deduplicator from start when enabled
    app.state.publish_ingested = publish_accepted  # also for one-shot commands (feeds poll)
    submissions.register(broker, settings, lambda: app.state)
    install_problem_handlers(app, unavailable=(PyMongoError, KafkaError, ConnectionError, TimeoutError))
    app.include_router(http.router)
    app.include_router(feed_status.router)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    operate(
        app,
        broker,
        settings,
        service="ingest",
        checks={"mongodb": mongodb_check(lambda: app.state.mongo)},
        # requests are let through when the rate limit's Redis is down: reported, not required
        optional={"redis": redis_check(lambda: app.state.redis)},
    )
    return app
