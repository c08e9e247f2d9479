"""The one wiring point of the reader site: the read API client, the renderer, the pages,
health, metrics and (when asked) the simulated readership."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from newsflow_chassis import health, metrics

from .adapters.read_api import HttpReadApi, ReadApi
from .entrypoints import http, readers
from .entrypoints.rendering import Renderer
from .settings import Settings

STATIC = Path(__file__).resolve().parent / "static"


def create_app(settings: Settings | None = None, api: ReadApi | None = None) -> FastAPI:
    settings = settings or Settings()
    client = httpx.AsyncClient(
        base_url=settings.site_api_url,
        timeout=settings.site_api_timeout_s,
        headers={"User-Agent": f"newsflow-site ({settings.site_name})"},
    )
    read_api = api or HttpReadApi(client)
    probe = health.Health()
    probe.add("read_api", read_api.check)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        probe.stop_on_signals(timeout_s=settings.shutdown_timeout_s)
        tasks = []
        if settings.site_simulated_readers:
            readership = readers.run(
                read_api, per_minute=settings.site_simulated_readers, site=settings.site_name
            )
            tasks.append(asyncio.create_task(readership))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await client.aclose()

    app = FastAPI(
        title="newsflow reader site", lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None
    )
    app.state.api = read_api
    health.install(app, probe)
    app.include_router(metrics.router)
    app.add_middleware(metrics.HttpMetrics)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    http.install(app, Renderer(settings))
    return app
