"""The site's one way to the platform: the public read API over HTTP, as any downstream
site uses it. `ReadApi` is what the handlers need; unit tests give them a fake."""

import uuid
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from ..domain.pages import NotFound, Page, Retracted, Teaser, Unavailable
from ..domain.readership import View


class ReadApi(Protocol):
    async def latest(self, section: str | None, *, limit: int) -> list[Teaser]: ...

    async def popular(self, section: str | None, *, limit: int) -> list[Teaser]: ...

    async def page(self, article_id: str) -> Page: ...

    async def article_id_of(self, slug: str) -> str: ...

    async def record_view(self, view: View, *, site: str) -> None: ...

    async def check(self) -> str | None: ...


class HttpReadApi:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def _get(self, path: str, **params: Any) -> Any:
        try:
            response = await self.client.get(path, params={k: v for k, v in params.items() if v is not None})
        except httpx.HTTPError as error:
            raise Unavailable(f"read API: {type(error).__name__}") from error
        if response.status_code == 404:
            raise NotFound(path)
        if response.status_code == 410:
            raise Retracted(path)
        if response.status_code != 200:
            raise Unavailable(f"read API answered {response.status_code} for {path}")
        return response.json()

    async def latest(self, section: str | None, *, limit: int) -> list[Teaser]:
        found = await self._get("/v1/articles", section=section, limit=limit)
        return [Teaser.model_validate(t) for t in found["items"]]

    async def popular(self, section: str | None, *, limit: int) -> list[Teaser]:
        found = await self._get("/v1/popular", section=section, limit=limit)
        return [Teaser.model_validate(t) for t in found["items"]]

    async def page(self, article_id: str) -> Page:
        return Page.of(await self._get(f"/v1/pages/{_segment(article_id)}"))

    async def article_id_of(self, slug: str) -> str:
        found = await self._get(f"/v1/articles/by-slug/{_segment(slug)}")
        return str(found["article_id"])

    async def record_view(self, view: View, *, site: str) -> None:
        """What a reader's browser sends: the beacon, with a browser's user agent."""
        body = {
            "article_id": view.article_id,
            "site": site,
            "visitor_id": view.visitor_id,
            "view_id": str(uuid.uuid4()),
        }
        try:
            await self.client.post("/v1/views", json=body, headers={"User-Agent": view.user_agent})
        except httpx.HTTPError as error:
            raise Unavailable(f"beacon: {type(error).__name__}") from error

    async def check(self) -> str | None:
        response = await self.client.get("/livez")
        response.raise_for_status()
        return "read API answers"


def _segment(value: str) -> str:
    return quote(value, safe="")
