"""Publisher API keys: each belongs to one source (a newsroom system), with scopes. The
storage, hashing and lookup are the chassis's (`newsflow_chassis.api_keys`)."""

from dataclasses import dataclass
from typing import Any, Protocol

from newsflow_chassis.api_keys import MongoApiKeys, hash_key
from pymongo import AsyncMongoClient

__all__ = ["DEFAULT_SCOPES", "SCOPES", "KeyStore", "MongoKeyStore", "Publisher", "hash_key"]

SCOPES = ("publish", "retract", "feeds")
DEFAULT_SCOPES = ("publish", "retract")


@dataclass(frozen=True, slots=True)
class Publisher:
    key_id: str
    source: str
    scopes: frozenset[str]


class KeyStore(Protocol):
    async def authenticate(self, key: str) -> Publisher | None: ...


class MongoKeyStore(MongoApiKeys[Publisher]):
    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        super().__init__(client, database, holder_field="source", scopes=SCOPES, make=Publisher)

    async def create_indexes(self) -> None:
        """Nothing to index: keys are found by `_id`."""

    async def create(self, *, source: str, scopes: tuple[str, ...] = DEFAULT_SCOPES) -> tuple[str, str]:
        return await self.create_for(source, scopes)

    async def sources(self) -> set[str]:
        """Sources with at least one active key: the registered publishers."""
        return await self.holders()
