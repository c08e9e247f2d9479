"""Per-source request rate, counted in Redis so that every ingest replica shares it.

Key: `newsflow:ingest:rate:<source>:<unix second>`, an integer counter that expires after
two seconds. When Redis is unreachable the limiter lets requests through: an outage of a
safeguard must not stop newsrooms from publishing."""

import logging
import math
import time
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("newsflow.ingest.rate")
KEY_PREFIX = "newsflow:ingest:rate"


class RateLimiter(Protocol):
    async def retry_after(self, source: str) -> int | None:
        """Counts a request; None when it is allowed, else seconds to wait."""
        ...


class RedisRateLimiter:
    def __init__(self, redis: Redis, *, per_second: int) -> None:
        self.redis = redis
        self.per_second = per_second

    async def retry_after(self, source: str) -> int | None:
        now = time.time()
        key = f"{KEY_PREFIX}:{source}:{int(now)}"
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, 2)
                count, _ = await pipe.execute()
        except (RedisError, OSError) as error:
            log.warning("rate limit not enforced, Redis unavailable: %r", error)
            return None
        if count <= self.per_second:
            return None
        return max(1, math.ceil(math.floor(now) + 1 - now))
