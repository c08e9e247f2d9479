"""Python's garbage collection in the serving process: what has lived a while is frozen out of
the collector's scans.

The read API keeps a lot alive for long (articles, rendered lists, the Related index). A
full collection scanned all of it: 50 to 150 ms during which no request was answered, the
read API's worst latencies. Every `FREEZE_EVERY_S` what is alive is frozen (`gc.freeze`),
so collections scan only what is newer. Reference cycles that become garbage after being
frozen are found by a full collection of everything every `FULL_EVERY_S`: one long pause an
hour instead of one every minute or so. A freeze itself is cheap: it moves the
collector's lists."""

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator

from newsflow_chassis.background import in_background

log = logging.getLogger("newsflow.publication.gc")

FREEZE_EVERY_S = 10.0
FULL_EVERY_S = 3600.0


async def _freeze_forever(freeze_every_s: float, full_every_s: float) -> None:
    last_full = time.monotonic()
    while True:
        await asyncio.sleep(freeze_every_s)
        if time.monotonic() - last_full >= full_every_s:
            gc.unfreeze()
            started = time.perf_counter()
            gc.collect()
            log.info("full garbage collection took %.0f ms", (time.perf_counter() - started) * 1000)
            last_full = time.monotonic()
        gc.freeze()


@contextlib.asynccontextmanager
async def tuned(
    *, freeze_every_s: float = FREEZE_EVERY_S, full_every_s: float = FULL_EVERY_S
) -> AsyncIterator[None]:
    """While the service runs (enter once it has started)."""
    gc.collect()
    gc.freeze()
    try:
        async with in_background(_freeze_forever(freeze_every_s, full_every_s)):
            yield
    finally:
        gc.unfreeze()
