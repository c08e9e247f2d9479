"""Webhook subscriptions over HTTP: register, list, delete; list and re-drive dead deliveries.

Every route needs a publication API key with the `webhooks` scope; a key sees and changes
only its owner's subscriptions and deliveries (another owner's are answered 404)."""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from newsflow_chassis.api_keys import authenticated
from newsflow_chassis.problems import Problem
from pydantic import BaseModel, ConfigDict, Field

from ..adapters.deliveries import DeliveryStore, NotDead, UnknownDelivery
from ..adapters.keys import Caller, KeyStore
from ..adapters.subscriptions import MongoSubscriptionStore
from ..domain.webhook_urls import InvalidUrl, check_url
from ..domain.webhooks import EventType, Subscription

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
bearer = HTTPBearer(
    auto_error=False, description="A publication API key with the webhooks scope: `Bearer nfk_...`"
)
ERRORS: dict[int | str, dict[str, Any]] = {401: {}, 403: {}, 503: {}}
SubscriptionId = Annotated[str, Path(max_length=64, pattern=r"^wh_[0-9a-f]+$")]
DeliveryId = Annotated[str, Path(max_length=160, pattern=r"^wh_[0-9a-f]+:[0-9A-Za-z._-]+$")]


class WebhookRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        max_length=2048,
        description="Where deliveries are POSTed: https, to a public address.",
        examples=["https://hooks.example.com/newsflow"],
    )
    event_types: list[EventType] = Field(min_length=1, max_length=2, description="The events wanted.")
    description: str = Field(default="", max_length=500, description="For the subscriber's own records.")


class Webhook(BaseModel):
    id: str = Field(description="The subscription's id.")
    url: str
    event_types: list[str]
    description: str
    created_at: datetime


class CreatedWebhook(Webhook):
    secret: str = Field(
        description="Signing secret (`whsec_...`) to verify `webhook-signature` with; shown only now."
    )


class WebhookList(BaseModel):
    items: list[Webhook]


class DeadDeliveryView(BaseModel):
    delivery_id: str = Field(description="`<subscription id>:<webhook-id>`")
    subscription_id: str
    dead_at: datetime
    attempts: int = Field(description="Attempts in its last round.")
    last_error: str | None = Field(description="What the last attempt got, e.g. 'HTTP 503'.")


class DeadDeliveries(BaseModel):
    items: list[DeadDeliveryView]


class Redriven(BaseModel):
    delivery_id: str
    state: str = Field(description="pending: due now, with a fresh round of attempts.")
    round: int = Field(description="How often the delivery has been re-driven.")


def _webhook(subscription: Subscription) -> Webhook:
    return Webhook(
        id=subscription.id,
        url=subscription.url,
        event_types=list(subscription.event_types),
        description=subscription.description,
        created_at=subscription.created_at,
    )


async def subscriber(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    keys: KeyStore = request.app.state.keys
    found: Caller = await authenticated(keys, credentials, realm="newsflow-publication")
    if "webhooks" not in found.scopes:
        raise Problem(403, "forbidden", "The API key lacks the 'webhooks' scope")
    return found


Subscriber = Annotated[Caller, Depends(subscriber)]


def _subscriptions(request: Request) -> MongoSubscriptionStore:
    return request.app.state.subscriptions  # type: ignore[no-any-return]


@router.post(
    "",
    status_code=201,
    response_model=CreatedWebhook,
    summary="Subscribe a URL to events; the answer carries the signing secret, once",
    responses={**ERRORS, 422: {}},
)
async def create_webhook(body: WebhookRequest, request: Request, who: Subscriber) -> CreatedWebhook:
    try:
        url = check_url(
            body.url, allow_http_localhost=request.app.state.settings.webhooks_allow_http_localhost
        )
    except InvalidUrl as error:
        raise Problem(
            422,
            "validation",
            "The request is not valid",
            f"url: {error}",
            errors=[{"field": "url", "message": str(error)}],
        ) from error
    created = await _subscriptions(request).create(
        owner=who.owner, url=url, event_types=tuple(body.event_types), description=body.description
    )
    return CreatedWebhook(**_webhook(created).model_dump(), secret=created.secret)


@router.get("", response_model=WebhookList, summary="Your subscriptions", responses=ERRORS)
async def list_webhooks(request: Request, who: Subscriber) -> WebhookList:
    mine = [s for s in await _subscriptions(request).all() if s.owner == who.owner]
    return WebhookList(items=[_webhook(s) for s in mine])


@router.delete(
    "/{subscription_id}",
    status_code=204,
    summary="Unsubscribe; deliveries not yet made are cancelled",
    responses={**ERRORS, 404: {}},
)
async def delete_webhook(subscription_id: SubscriptionId, request: Request, who: Subscriber) -> Response:
    store = _subscriptions(request)
    found = await store.get(subscription_id)
    if found is None or found.owner != who.owner or not await store.delete(subscription_id):
        raise Problem(404, "not-found", "No such webhook", f"No webhook {subscription_id} of yours")
    return Response(status_code=204)


@router.get(
    "/deliveries/dead",
    response_model=DeadDeliveries,
    summary="Your dead deliveries, oldest first: each can be re-driven",
    responses=ERRORS,
)
async def dead_deliveries(request: Request, who: Subscriber) -> DeadDeliveries:
    deliveries: DeliveryStore = request.app.state.deliveries
    mine = [d for d in await deliveries.dead() if d.owner == who.owner]
    return DeadDeliveries(
        items=[
            DeadDeliveryView(
                delivery_id=d.id,
                subscription_id=d.subscription_id,
                dead_at=d.dead_at,
                attempts=d.attempts,
                last_error=d.last_error,
            )
            for d in mine
        ]
    )


@router.post(
    "/deliveries/{delivery_id}/redrive",
    status_code=202,
    response_model=Redriven,
    summary="Send a dead delivery again, with a fresh round of attempts",
    responses={**ERRORS, 404: {}, 409: {}},
)
async def redrive_delivery(delivery_id: DeliveryId, request: Request, who: Subscriber) -> Redriven:
    deliveries: DeliveryStore = request.app.state.deliveries
    try:
        delivery = await deliveries.redrive(delivery_id, now=datetime.now(UTC), owner=who.owner)
    except UnknownDelivery as error:
        raise Problem(404, "not-found", "No such delivery", f"No delivery {delivery_id} of yours") from error
    except NotDead as error:
        raise Problem(409, "not-dead", "Only a dead delivery can be re-driven", str(error)) from error
    request.app.state.webhook_worker.wake()
    return Redriven(delivery_id=delivery.id, state=delivery.state, round=delivery.round)
