"""Webhook subscriptions in `webhook_subscriptions`, `_id` = subscription id.

A small collection: the consumer reads it whole for every record (one query; FerretDB
scans it either way), so a new subscription gets the events published after it at once.
The signing secret is kept as is: every attempt signs with it."""

import secrets
from datetime import UTC, datetime
from typing import Any, Protocol

from pymongo import AsyncMongoClient

from ..domain.webhook_signing import SECRET_BYTES, secret_from_bytes
from ..domain.webhooks import Subscription


class SubscriptionStore(Protocol):
    async def all(self) -> list[Subscription]: ...
    async def get(self, subscription_id: str) -> Subscription | None: ...


def _subscription(doc: dict[str, Any]) -> Subscription:
    return Subscription(
        id=doc["_id"],
        owner=doc["owner"],
        url=doc["url"],
        event_types=tuple(doc["event_types"]),
        description=doc.get("description", ""),
        created_at=doc["created_at"],
        secret=doc["secret"],
    )


class MongoSubscriptionStore:
    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self.subscriptions = client[database]["webhook_subscriptions"]

    async def create(
        self, *, owner: str, url: str, event_types: tuple[str, ...], description: str = ""
    ) -> Subscription:
        subscription = Subscription(
            id=f"wh_{secrets.token_hex(8)}",
            owner=owner,
            url=url,
            event_types=tuple(dict.fromkeys(event_types)),
            description=description,
            created_at=datetime.now(UTC),
            secret=secret_from_bytes(secrets.token_bytes(SECRET_BYTES)),
        )
        await self.subscriptions.insert_one(
            {
                "_id": subscription.id,
                "owner": owner,
                "url": url,
                "event_types": list(subscription.event_types),
                "description": description,
                "created_at": subscription.created_at,
                "secret": subscription.secret,
            }
        )
        return subscription

    async def all(self) -> list[Subscription]:
        found = [_subscription(doc) async for doc in self.subscriptions.find({})]
        return sorted(found, key=lambda s: (s.created_at, s.id))

    async def get(self, subscription_id: str) -> Subscription | None:
        doc = await self.subscriptions.find_one({"_id": subscription_id})
        return _subscription(doc) if doc else None

    async def delete(self, subscription_id: str) -> bool:
        """Its pending deliveries are cancelled when their turn comes."""
        return (await self.subscriptions.delete_one({"_id": subscription_id})).deleted_count == 1
