"""Waiting on another process over HTTP: there is no local event to wait on, so poll."""

import asyncio
import time

import httpx


async def wait_for_status(
    client: httpx.AsyncClient, url: str, status: int = 200, timeout_s: float = 20
) -> httpx.Response:
    """GET `url` until it answers `status` or the time is up; returns the last answer."""
    deadline = time.monotonic() + timeout_s
    while (response := await client.get(url)).status_code != status and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    return response


async def wait_until_listed(
    client: httpx.AsyncClient, publication: str, article_id: str, section: str, timeout_s: float = 20
) -> None:
    """Until the article heads its section's list: it is stored first and listed a moment
    later, so being readable does not mean being listed yet."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        newest = await client.get(f"{publication}/v1/articles", params={"section": section, "limit": 1})
        if [t["article_id"] for t in newest.json()["items"]] == [article_id]:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"article {article_id} not listed in section {section} within {timeout_s} s")
