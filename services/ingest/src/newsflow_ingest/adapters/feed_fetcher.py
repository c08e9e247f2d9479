"""Fetch a feed over HTTP with a conditional GET, within a time and a size limit."""

import asyncio
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

import httpx

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)


def user_agent() -> str:
    try:
        return f"newsflow-ingest/{version('newsflow-ingest')}"
    except PackageNotFoundError:
        return "newsflow-ingest"


@dataclass(frozen=True, slots=True)
class Fetched:
    content: bytes
    content_type: str | None
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True, slots=True)
class NotModified:
    etag: str | None
    last_modified: str | None


class FetchFailed(Exception):
    """The feed could not be read: network error, timeout, HTTP error status, too large."""


class HttpFeedFetcher:
    def __init__(self, *, timeout_s: float, max_bytes: int, client: httpx.AsyncClient | None = None) -> None:
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self.client = client or httpx.AsyncClient(
            timeout=timeout_s,
            follow_redirects=True,
            max_redirects=5,
            headers={"User-Agent": user_agent(), "Accept": ACCEPT},
        )

    async def fetch(self, url: str, *, etag: str | None, last_modified: str | None) -> Fetched | NotModified:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            async with asyncio.timeout(self.timeout_s):  # the whole exchange: a trickling server too
                return await self._get(url, headers)
        except TimeoutError:
            raise FetchFailed(f"no complete answer within {self.timeout_s:g} s") from None
        except httpx.HTTPError as error:
            raise FetchFailed(f"{type(error).__name__}: {error}") from error

    async def _get(self, url: str, headers: dict[str, str]) -> Fetched | NotModified:
        async with self.client.stream("GET", url, headers=headers) as response:
            if response.status_code == 304:
                return NotModified(response.headers.get("etag"), response.headers.get("last-modified"))
            if not response.is_success:
                raise FetchFailed(f"HTTP {response.status_code} {response.reason_phrase}".strip())
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise FetchFailed(f"larger than {self.max_bytes} bytes")
            body = bytearray()
            async for chunk in response.aiter_bytes():  # decoded: a gzip bomb counts at full size
                body += chunk
                if len(body) > self.max_bytes:
                    raise FetchFailed(f"larger than {self.max_bytes} bytes")
            return Fetched(
                content=bytes(body),
                content_type=response.headers.get("content-type"),
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
            )

    async def aclose(self) -> None:
        await self.client.aclose()
