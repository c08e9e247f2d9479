"""The one wiring point of publication: clients, repository, consumer and read API."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from newsflow_chassis.kafka import build_broker, running_broker
from newsflow_chassis.problems import install_problem_handlers
from pymongo import AsyncMongoClient
from pymongo.errors import ConnectionFailure, PyMongoError

from .adapters.articles import ArticleRepository, MongoArticleRepository
from .entrypoints import consumer, http
from .settings import Settings


def create_app(settings: Settings | None = None, articles: ArticleRepository | None = None) -> FastAPI:
    settings = settings or Settings()
    broker = build_broker(settings, client_id="newsflow-publication", transient=(ConnectionFailure,))
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url, serverSelectionTimeoutMS=5000, tz_aware=True
    )
    repository = articles or MongoArticleRepository(mongo, settings.publication_db)
    consumer.register(broker, settings, repository)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if isinstance(repository, MongoArticleRepository):
            await repository.create_indexes()
        try:
            async with running_broker(broker, settings):
                yield
        finally:
            await mongo.close()

    app = FastAPI(
        title="newsflow publication",
        version="1.0.0",
        description="Read API for downstream sites: published articles as IPTC ninjs.",
        lifespan=lifespan,
    )
    app.state.broker = broker
    app.state.articles = repository
    install_problem_handlers(app, unavailable=(PyMongoError,))
    app.include_router(http.router)
    return app
