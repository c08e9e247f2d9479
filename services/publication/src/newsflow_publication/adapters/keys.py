"""Publication's API keys, for webhook subscribers and operators: each belongs to an owner,
with scopes. The storage, hashing and lookup are the chassis's (`newsflow_chassis.api_keys`)."""

from dataclasses import dataclass
from typing import Any, Protocol

from newsflow_chassis.api_keys import MongoApiKeys
from pymongo import AsyncMongoClient

SCOPES = ("webhooks",)


@dataclass(frozen=True, slots=True)
class Caller:
    key_id: str
    owner: str
    scopes: frozenset[str]


class KeyStore(Protocol):
    async def authenticate(self, key: str) -> Caller | None: ...


class MongoKeyStore(MongoApiKeys[Caller]):
    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        super().__init__(client, database, holder_field="owner", scopes=SCOPES, make=Caller)

    async def create(self, *, owner: str, scopes: tuple[str, ...] = SCOPES) -> tuple[str, str]:
        return await self.create_for(owner, scopes)
