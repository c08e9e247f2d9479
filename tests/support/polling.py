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
