"""Admin routes for outbound webhooks: subscriptions and their delivery logs (/api/v1/webhooks)."""

from __future__ import annotations

from typing import Any

from conversation.store import NotFound
from conversation.webhooks import MAX_EVENTS, MAX_URL, Subscription, WebhookDelivery, WebhookStatus
from hub.api.framework import ADMIN, Call, not_found
from hub.api.routes import ANY, api, hub_of, services_of
from hub.api.serialize import iso
from hub.schema import Arr, Bool, Int, Obj, Str

WEBHOOK = api.schema(
    "Webhook", {"type": "object", "description": "a webhook subscription (its secret is never listed)"}
)
DELIVERY_PAGE = api.schema("WebhookDeliveryPage", {"type": "object"})
EVENTS = Arr(
    Str(max_length=100, min_length=1),
    max_items=MAX_EVENTS,
    description="ticket.created, ticket.updated, message.created, record.*, a family (ticket.*) or *",
)
FIELDS = {
    "url": Str(max_length=MAX_URL, min_length=1, description="https URL that receives the POSTs"),
    "events": EVENTS,
    "include_private": Bool(description="also private notes and system events of threads (default false)"),
    "active": Bool(description="false pauses the subscription"),
    "description": Str(max_length=200),
}


def webhook_json(subscription: Subscription) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "url": subscription.url,
        "events": subscription.events,
        "include_private": subscription.include_private,
        "active": subscription.active,
        "description": subscription.description,
        "created_at": iso(subscription.created_at),
    }


def delivery_json(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "status": delivery.status.value,
        "attempts": delivery.attempts,
        "response_code": delivery.response_code,
        "last_error": delivery.last_error or None,
        "created_at": iso(delivery.created_at),
        "next_attempt_at": iso(delivery.next_attempt_at),
        "finished_at": iso(delivery.finished_at),
        "payload": delivery.payload,
    }


async def subscription_or_404(call: Call) -> Subscription:
    found = await hub_of(call).store.webhooks.get_subscription(call.path["webhook_id"])
    if found is None:
        raise not_found("webhook")
    return found


@api.route("GET", "/v1/webhooks", summary="Webhook subscriptions (admin)", tag="webhooks", auth=ADMIN, response=ANY)
async def list_webhooks(call: Call) -> dict[str, Any]:
    return {"items": [webhook_json(s) for s in await hub_of(call).store.webhooks.list_subscriptions()]}


@api.route(
    "POST",
    "/v1/webhooks",
    summary="Subscribe a URL to events; the answer carries its signing secret, shown this once (admin)",
    tag="webhooks",
    auth=ADMIN,
    body=Obj(FIELDS, required=("url", "events")),
    response=ANY,
    status=201,
)
async def add_webhook(call: Call) -> dict[str, Any]:
    subscription, secret = await services_of(call).webhooks.create(dict(call.body))
    return {**webhook_json(subscription), "secret": secret}


@api.route(
    "GET",
    "/v1/webhooks/{webhook_id}",
    summary="One webhook subscription (admin)",
    tag="webhooks",
    auth=ADMIN,
    response=WEBHOOK,
)
async def get_webhook(call: Call) -> dict[str, Any]:
    return webhook_json(await subscription_or_404(call))


@api.route(
    "PATCH",
    "/v1/webhooks/{webhook_id}",
    summary="Change a subscription's URL, events, private notes or pause it (admin)",
    tag="webhooks",
    auth=ADMIN,
    body=Obj(FIELDS, at_least_one=True),
    response=WEBHOOK,
)
async def change_webhook(call: Call) -> dict[str, Any]:
    return webhook_json(await services_of(call).webhooks.update(call.path["webhook_id"], dict(call.body)))


@api.route(
    "DELETE",
    "/v1/webhooks/{webhook_id}",
    summary="Remove a subscription and its log (admin)",
    tag="webhooks",
    auth=ADMIN,
    response=ANY,
)
async def delete_webhook(call: Call) -> dict[str, Any]:
    await services_of(call).webhooks.delete(call.path["webhook_id"])
    return {"ok": True}


@api.route(
    "POST",
    "/v1/webhooks/{webhook_id}/secret",
    summary="Replace the signing secret; the new one is shown this once (admin)",
    tag="webhooks",
    auth=ADMIN,
    response=ANY,
)
async def rotate_webhook_secret(call: Call) -> dict[str, Any]:
    subscription, secret = await services_of(call).webhooks.rotate_secret(call.path["webhook_id"])
    return {**webhook_json(subscription), "secret": secret}


@api.route(
    "GET",
    "/v1/webhooks/{webhook_id}/deliveries",
    summary="A subscription's delivery log, newest first: status, response code, attempts, last error (admin)",
    tag="webhooks",
    auth=ADMIN,
    query={
        "status": Str(choices=tuple(s.value for s in WebhookStatus)),
        "page": Int(minimum=1, maximum=100_000),
        "per_page": Int(minimum=1, maximum=100),
    },
    response=DELIVERY_PAGE,
)
async def list_webhook_deliveries(call: Call) -> dict[str, Any]:
    subscription = await subscription_or_404(call)
    page, per_page = call.query.get("page", 1), call.query.get("per_page", 25)
    status = WebhookStatus(call.query["status"]) if "status" in call.query else None
    items = await hub_of(call).store.webhooks.list_deliveries(
        subscription.id, status=status, limit=per_page + 1, offset=(page - 1) * per_page
    )
    return {
        "items": [delivery_json(d) for d in items[:per_page]],
        "page": page,
        "per_page": per_page,
        "has_more": len(items) > per_page,
    }


@api.route(
    "POST",
    "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
    summary="Send a failed delivery again (admin)",
    tag="webhooks",
    auth=ADMIN,
    response=ANY,
)
async def retry_webhook_delivery(call: Call) -> dict[str, Any]:
    try:
        delivery = await services_of(call).webhooks.redeliver(call.path["webhook_id"], call.path["delivery_id"])
    except NotFound:
        raise not_found("delivery") from None
    return delivery_json(delivery)
