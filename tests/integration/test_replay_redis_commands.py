"""The replay's one-key Redis commands, sent as script calls, do what the same commands sent
one by one do: in order, with any text, split over calls and long ZADDs split in pieces."""

from collections.abc import AsyncIterator

import pytest
from newsflow_publication.adapters import redis_commands
from newsflow_publication.adapters.redis_commands import OneKeyCommands
from redis.asyncio import Redis

from tests.support.stack import REDIS, unique


@pytest.fixture
async def redis() -> AsyncIterator[tuple[Redis, str]]:
    client = Redis.from_url(REDIS)
    prefix = unique("replay_commands")
    yield client, prefix
    stale = [k async for k in client.scan_iter(match=f"{prefix}:*", count=10_000)]
    if stale:
        await client.delete(*stale)
    await client.aclose()


async def test_commands_run_in_order_with_any_text(redis: tuple[Redis, str]) -> None:
    client, prefix = redis
    commands = OneKeyCommands()
    text = 'Café "quoted" \\ back—slash, emoji 🗞, tab\t, and {"json": [1, 2]}'
    commands.add("SET", f"{prefix}:gone", "first")
    commands.add("DEL", f"{prefix}:gone")
    commands.add("SET", f"{prefix}:text", text)
    commands.add("SADD", f"{prefix}:set", "a", "b", "ü")
    commands.add_zadd(f"{prefix}:zset", {"x": 1_795_651_200_000.0, "y": 0.5, "é": -3.0})
    commands.add("ZREM", f"{prefix}:zset", "y")
    await commands.send(client)

    assert await client.exists(f"{prefix}:gone") == 0
    assert (await client.get(f"{prefix}:text")).decode() == text
    assert await client.smembers(f"{prefix}:set") == {b"a", b"b", "ü".encode()}
    assert await client.zrange(f"{prefix}:zset", 0, -1, withscores=True) == [
        ("é".encode(), -3.0),
        (b"x", 1_795_651_200_000.0),
    ]


async def test_large_batches_split_over_calls_and_long_zadds_in_pieces(
    redis: tuple[Redis, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, prefix = redis
    monkeypatch.setattr(redis_commands, "MAX_CALL_ARGS", 50)
    monkeypatch.setattr(redis_commands, "MAX_COMMAND_ARGS", 10)
    commands = OneKeyCommands()
    members = {f"m{n}": float(n) for n in range(37)}
    commands.add_zadd(f"{prefix}:zset", members)
    for n in range(30):
        commands.add("SET", f"{prefix}:k{n}", str(n))
    assert len(commands.calls) > 2
    await commands.send(client)

    assert await client.zrange(f"{prefix}:zset", 0, -1, withscores=True) == [
        (m.encode(), s) for m, s in members.items()
    ]
    assert [v.decode() for v in await client.mget([f"{prefix}:k{n}" for n in range(30)])] == [
        str(n) for n in range(30)
    ]
    with pytest.raises(ValueError):
        commands.add("SADD", f"{prefix}:set", *[str(n) for n in range(11)])
