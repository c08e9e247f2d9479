"""Thousands of one-key Redis commands sent as a few script calls instead of a pipeline.

A replay writes a batch's list changes as one command per key (a ZADD per list, an SADD
and a SET per article, ...: about 8 an article on the BBC corpus). Pipelined, redis-py spent
85 µs of CPU an article packing them and parsing their replies, CPU a replay takes from
FerretDB on the cores they share. Here the commands travel as one JSON argument of a Lua
script that runs them in order and answers once: 35 µs an article. Redis runs a script
atomically, so a call carries at most `MAX_CALL_ARGS` arguments and blocks other clients
for milliseconds only."""

import json

from redis.asyncio import Redis

RUN_COMMANDS = """
-- KEYS[i] gets the i-th command of the JSON array ARGV[1]: its name, then its arguments.
local commands = cjson.decode(ARGV[1])
for i, key in ipairs(KEYS) do
  local command = commands[i]
  redis.call(command[1], key, unpack(command, 2))
end
return #KEYS
"""
MAX_COMMAND_ARGS = 2000
"""Arguments of one command (Lua's unpack takes about 8,000); a longer ZADD is split."""
MAX_CALL_ARGS = 50_000


class OneKeyCommands:
    """Commands on one key each, run in the order added by `send`. Arguments are strings
    (a score too: Redis parses it as it would in a ZADD of its own)."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], list[list[str]]]] = [([], [])]
        self.args_in_call = 0

    def add(self, command: str, key: str, *args: str) -> None:
        if len(args) > MAX_COMMAND_ARGS:
            raise ValueError(f"{command} with {len(args)} arguments: at most {MAX_COMMAND_ARGS}")
        keys, commands = self.calls[-1]
        if keys and self.args_in_call + len(args) > MAX_CALL_ARGS:
            keys, commands = [], []
            self.calls.append((keys, commands))
            self.args_in_call = 0
        keys.append(key)
        commands.append([command, *args])
        self.args_in_call += len(args) + 1

    def add_zadd(self, key: str, members: dict[str, float]) -> None:
        """ZADD of any number of members, as one command per `MAX_COMMAND_ARGS` arguments."""
        pairs: list[str] = []
        for member, score in members.items():
            pairs.append(repr(score))
            pairs.append(member)
            if len(pairs) == MAX_COMMAND_ARGS:
                self.add("ZADD", key, *pairs)
                pairs = []
        if pairs:
            self.add("ZADD", key, *pairs)

    async def send(self, redis: Redis) -> None:
        script = redis.register_script(RUN_COMMANDS)
        for keys, commands in self.calls:
            if keys:
                await script(keys=keys, args=[json.dumps(commands, ensure_ascii=False)])
