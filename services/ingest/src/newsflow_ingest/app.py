"""The one wiring point of ingest: clients, adapters, routes and the Kafka publisher."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiokafka.errors import KafkaError
from fastapi import FastAPI
from newsflow_chassis.kafka import EventPublisher, build_broker, running_broker
from newsflow_chassis.problems import install_problem_handlers
from newsflow_contracts.events import ArticleIngested
from newsflow_contracts.topics import ARTICLE_INGESTED
from pymongo import AsyncMongoClient
from pymongo.errors import ConnectionFailure, PyMongoError

from .adapters.heads import MongoHeadStore
from .adapters.keys import MongoKeyStore
from .entrypoints import http
from .entrypoints.limits import BodySizeLimit
from .service import resend_unsent
from .settings import Settings


def mongo_client(settings: Settings) -> AsyncMongoClient[dict[str, Any]]:
    return AsyncMongoClient(settings.mongo_url, serverSelectionTimeoutMS=5000, tz_aware=True)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    broker = build_broker(settings, client_id="newsflow-ingest", transient=(ConnectionFailure,))

    ingested = EventPublisher(
        broker,
        ARTICLE_INGESTED,
        ArticleIngested,
        source=settings.event_source,
        description="Every accepted article version, keyed by article id.",
    )

    async def publish_ingested(event: ArticleIngested, event_id: str) -> None:
        await ingested.publish(event, key=event.article_id, event_id=event_id)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        mongo = mongo_client(settings)
        app.state.heads = MongoHeadStore(mongo, settings.ingest_db)
        app.state.keys = MongoKeyStore(mongo, settings.ingest_db)
        app.state.publish_ingested = publish_ingested
        await app.state.heads.create_indexes()
        await app.state.keys.create_indexes()
        try:
            async with running_broker(broker, settings):
                await resend_unsent(heads=app.state.heads, publish=publish_ingested)
                yield
        finally:
            await mongo.close()

    app = FastAPI(
        title="newsflow ingest",
        version="1.0.0",
        description="The front door for newsroom systems: submit articles and new versions.",
        lifespan=lifespan,
    )
    app.state.broker = broker
    install_problem_handlers(app, unavailable=(PyMongoError, KafkaError, ConnectionError, TimeoutError))
    app.include_router(http.router)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app
