"""The simulated readership (`NEWSFLOW_SITE_SIMULATED_READERS` views a minute): it posts to
the beacon as readers' browsers would, so that Popular fills and moves in a demo."""

import asyncio
import logging
import random
import time

from ..adapters.read_api import ReadApi
from ..domain.pages import Unavailable
from ..domain.readership import Readership

log = logging.getLogger("newsflow.site.readers")
TICK_S = 1.0
REFRESH_S = 30.0
REFRESH_EMPTY_S = 3.0


async def run(api: ReadApi, *, per_minute: int, site: str, rng: random.Random | None = None) -> None:
    readership = Readership(rng or random.Random())
    refreshed, owed = float("-inf"), 0.0
    log.info("simulating %d page views a minute", per_minute)
    while True:
        now = time.monotonic()
        if now - refreshed >= (REFRESH_S if readership.ranking else REFRESH_EMPTY_S):
            try:
                readership.articles([t.article_id for t in await api.latest(None, limit=100)])
                refreshed = now
            except Unavailable as error:
                log.warning("simulated readers: %s", error)
        owed += per_minute * TICK_S / 60
        views = readership.draw(int(owed))
        owed -= int(owed)
        results = await asyncio.gather(
            *(api.record_view(v, site=site) for v in views), return_exceptions=True
        )
        failed = sum(isinstance(r, Exception) for r in results)
        if failed:
            log.warning("simulated readers: %d of %d views not sent", failed, len(results))
        await asyncio.sleep(TICK_S)
