"""The one wiring point of publication: clients, repository, consumer and read API."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from newsflow_chassis.health import mongodb_check, redis_check
from newsflow_chassis.kafka import build_broker, running_broker
from newsflow_chassis.metrics import time_mongodb, time_redis
from newsflow_chassis.operations import operate
from newsflow_chassis.problems import install_problem_handlers
from pymongo import AsyncMongoClient
from pymongo.errors import ConnectionFailure, PyMongoError
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .adapters.articles import ArticleRepository
from .adapters.changes import ChangeAnnouncer, ChangeListener
from .adapters.deliveries import MongoDeliveryStore
from .adapters.keys import MongoKeyStore
from .adapters.listings import Listings
from .adapters.popularity import RedisPopularity
from .adapters.read_cache import CachedListings, CachedReads, ShortLived, UntilChanged
from .adapters.related import RedisRelated
from .adapters.subscriptions import MongoSubscriptionStore
from .entrypoints import (
    consumer,
    feeds,
    generation_follower,
    http,
    pages,
    popularity_consumer,
    related_indexer,
    serving_gc,
    views,
    webhook_consumer,
    webhook_worker,
    webhooks_http,
)
from .settings import Settings


def create_app(
    settings: Settings | None = None,
    articles: ArticleRepository | None = None,
    listings: Listings | None = None,
) -> FastAPI:
    settings = settings or Settings()
    broker = build_broker(
        settings,
        client_id="newsflow-publication",
        transient=(ConnectionFailure, RedisConnectionError, RedisTimeoutError),
    )
    time_mongodb()
    redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
    time_redis(redis)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url, serverSelectionTimeoutMS=5000, tz_aware=True
    )
    # the read model lives in the current generation (g0 until a replay builds another)
    current = generation_follower.CurrentGeneration(settings, mongo, redis)
    follows = articles is None and listings is None
    listings = listings or current.listings
    repository = articles or current.articles
    changes = ChangeListener(settings.redis_url, settings.changes_channel)
    current.switched = changes.reset
    subscriber = consumer.register(
        broker, settings, repository, listings, ChangeAnnouncer(redis, settings.changes_channel)
    )
    popularity = RedisPopularity(
        redis,
        prefix=settings.popular_prefix,
        dedup_ttl_s=settings.popular_dedup_ttl_s,
        cache_s=settings.popular_cache_s,
        list_key=listings.list_key,
    )
    if settings.popular_enabled:
        popularity_consumer.register(broker, settings, popularity)
    related = RedisRelated(redis, prefix=settings.related_prefix, changes_channel=settings.changes_channel)
    beacon = views.Beacon(broker, settings)
    subscriptions = MongoSubscriptionStore(mongo, settings.publication_db)
    deliveries = MongoDeliveryStore(mongo, settings.publication_db)
    worker = webhook_worker.build(settings, deliveries=deliveries, subscriptions=subscriptions)
    if settings.webhooks_enabled:
        webhook_consumer.register(
            broker, settings, subscriptions=subscriptions, deliveries=deliveries, created=worker.wake
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if follows:
            await current.start(subscriber)
        try:
            async with (
                changes.running(),
                running_broker(broker, settings),
                current.following(subscriber, enabled=follows),
                webhook_worker.running(
                    worker, enabled=settings.webhooks_enabled, grace_s=settings.webhook_timeout_s
                ),
                related_indexer.running(settings, related, enabled=settings.related_enabled),
                serving_gc.tuned(),
            ):
                yield
        finally:
            await redis.aclose()
            await mongo.close()

    app = FastAPI(
        title="newsflow publication",
        version="1.0.0",
        description="Read API for downstream sites: published articles as IPTC ninjs.",
        lifespan=lifespan,
    )
    app.state.broker = broker
    app.state.articles = repository
    app.state.reads = CachedReads(repository, changes)
    app.state.listings = CachedListings(listings, changes)
    install_problem_handlers(app, unavailable=(PyMongoError, RedisError))
    app.state.settings = settings
    app.include_router(http.router)
    app.include_router(pages.router)
    app.include_router(feeds.router)
    app.state.keys = MongoKeyStore(mongo, settings.publication_db)
    app.state.subscriptions = subscriptions
    app.state.deliveries = deliveries
    app.state.webhook_worker = worker
    app.include_router(webhooks_http.router)
    app.state.popularity = popularity
    app.state.beacon = beacon
    app.state.related = related
    app.state.page_lists = ShortLived[tuple[object, ...], list[Any]]()
    app.state.popular_shown = pages.PopularShown()
    app.state.related_shown = UntilChanged[tuple[str, int, int], pages.Shown](
        changes, max_age_s=pages.RELATED_MAX_AGE_S
    )
    app.state.more_like_this_shown = UntilChanged[tuple[str, int, int], pages.Shown](
        changes, max_age_s=pages.MORE_LIKE_THIS_MAX_AGE_S
    )
    app.include_router(views.router)
    operate(
        app,
        broker,
        settings,
        service="publication",
        checks={"mongodb": mongodb_check(lambda: mongo), "redis": redis_check(lambda: redis)},
    )
    return app
