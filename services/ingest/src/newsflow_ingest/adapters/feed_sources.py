"""Configured feeds and their poll state, in ingest's own MongoDB database.

`feeds` holds what the operator configured and `feed_states` what the poller learnt, one
document each per feed, `_id` = feed name. Two collections, so that each document has one
writer: FerretDB v1 does not apply concurrent updates of one document atomically, and an
operator changing a feed must not be undone by a poll finishing at the same moment."""

import logging
from dataclasses import asdict
from typing import Any, Protocol

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from ..domain.feed_items import Skipped
from ..domain.feed_polls import Feed, FeedConfig, FeedState

log = logging.getLogger("newsflow.ingest.feeds")


class FeedStore(Protocol):
    async def all(self) -> list[Feed]: ...
    async def get(self, name: str) -> Feed | None: ...
    async def save_state(self, name: str, state: FeedState) -> None: ...


class MongoFeedStore:
    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self.configs: AsyncCollection[dict[str, Any]] = client[database]["feeds"]
        self.states: AsyncCollection[dict[str, Any]] = client[database]["feed_states"]

    async def all(self) -> list[Feed]:
        """Every feed, by name (a small collection: reading it whole is fine on FerretDB)."""
        configs: list[FeedConfig] = []
        async for doc in self.configs.find({}):
            try:
                configs.append(_config(doc))
            except (KeyError, TypeError, ValueError) as error:  # edited by hand: one bad feed stops no other
                log.error("feed %r is misconfigured, not polled: %s", doc.get("_id"), error)
        states = {doc["_id"]: _state(doc) async for doc in self.states.find({})}
        return [Feed(c, states.get(c.name, FeedState())) for c in sorted(configs, key=lambda c: c.name)]

    async def get(self, name: str) -> Feed | None:
        config = await self.configs.find_one({"_id": name})
        if config is None:
            return None
        state = await self.states.find_one({"_id": name})
        return Feed(_config(config), _state(state) if state else FeedState())

    async def save_config(self, config: FeedConfig) -> None:
        document = asdict(config)
        await self.configs.replace_one({"_id": document.pop("name")}, document, upsert=True)

    async def remove(self, name: str) -> bool:
        removed = await self.configs.delete_one({"_id": name})
        await self.states.delete_one({"_id": name})
        return removed.deleted_count == 1

    async def save_state(self, name: str, state: FeedState) -> None:
        await self.states.replace_one({"_id": name}, asdict(state), upsert=True)


def _config(doc: dict[str, Any]) -> FeedConfig:
    return FeedConfig(
        name=doc["_id"],
        source=doc["source"],
        url=doc["url"],
        format=doc.get("format", "auto"),
        interval_s=float(doc.get("interval_s", 300.0)),
        enabled=bool(doc.get("enabled", True)),
    )


def _state(doc: dict[str, Any]) -> FeedState:
    fields = {k: v for k, v in doc.items() if k in FeedState.__dataclass_fields__}
    fields["last_skipped"] = [Skipped(**s) for s in fields.get("last_skipped", [])]
    return FeedState(**fields)
