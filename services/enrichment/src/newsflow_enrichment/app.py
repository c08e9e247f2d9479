"""The one wiring point of enrichment: the broker, the enrichers, the consumer."""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI
from newsflow_chassis.kafka import build_broker, running_broker
from newsflow_chassis.operations import operate

from .domain import build_enrichers
from .domain.pipeline import Enricher
from .entrypoints import consumer
from .settings import Settings


def create_app(settings: Settings | None = None, enrichers: Sequence[Enricher] | None = None) -> FastAPI:
    settings = settings or Settings()
    if enrichers is None:
        enrichers = build_enrichers(settings.languages)
    broker = build_broker(settings, client_id="newsflow-enrichment")
    consumer.register(broker, settings, enrichers)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running_broker(broker, settings):
            yield

    app = FastAPI(title="newsflow enrichment", version="1.0.0", lifespan=lifespan)
    app.state.broker = broker
    operate(app, broker, settings, service="enrichment")
    return app
