import asyncio

import pytest
import redis.asyncio as aioredis
from aiokafka.admin import AIOKafkaAdminClient
from newsflow_chassis.kafka import ensure_topics
from newsflow_contracts.topics import topics_with_dead_letters
from pymongo import AsyncMongoClient

from tests.support.stack import KAFKA, MONGO, REDIS

HINT = "start the local stack with `make up` (see README)"


async def _check_servers() -> list[str]:
    down: list[str] = []
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA, request_timeout_ms=5000)
    try:
        await asyncio.wait_for(admin.start(), 10)
        await admin.list_topics()
    except Exception as error:
        down.append(f"Kafka at {KAFKA}: {error!r}")
    finally:
        await admin.close()
    mongo: AsyncMongoClient = AsyncMongoClient(MONGO, serverSelectionTimeoutMS=3000)
    try:
        await mongo.admin.command("ping")
    except Exception as error:
        down.append(f"FerretDB at {MONGO}: {type(error).__name__}")
    finally:
        await mongo.close()
    client = aioredis.from_url(REDIS, socket_connect_timeout=3)
    try:
        await client.ping()
    except Exception as error:
        down.append(f"Redis at {REDIS}: {error!r}")
    finally:
        await client.aclose()
    return down


@pytest.fixture(scope="session")
async def live_stack() -> None:
    """Server-backed tiers fail, never skip, when a server is missing."""
    down = await _check_servers()
    if down:
        pytest.fail("servers not reachable: " + "; ".join(down) + f" — {HINT}", pytrace=False)
    # as every service does at start, so tests can position consumer groups before starting them
    await ensure_topics(KAFKA, topics_with_dead_letters())
