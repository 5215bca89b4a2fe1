"""Webhook endpoints (register, list, change, rotate the secret, remove), their deliveries
with each attempt's answer, replays, and test events. A customer's endpoint hears that
customer's events; an operator's hears every customer's (a partner's backend)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.deps import Authenticated, ClockDep, GatewayDep
from gateway.errors import ErrorMap
from gateway.identity.devices import WEBHOOKS, only_trusted_device
from gateway.webhooks import rules, store
from gateway.webhooks.schemas import (
    AttemptPublic,
    DeliveryDetail,
    DeliveryPage,
    DeliveryPublic,
    DeliveryStatus,
    EndpointCreate,
    EndpointList,
    EndpointPublic,
    EndpointUpdate,
    EndpointWithSecret,
)
from shared.auth import ROLE_CUSTOMER, ROLE_OPERATOR, Principal
from shared.events.envelope import utcnow
from shared.pagination import MAX_SEQ, SmallPageDep, decode_seq, encode_seq
from shared.problems import PROBLEM, Problem, documents

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], responses={401: PROBLEM, 403: PROBLEM, 422: PROBLEM})
ERRORS: ErrorMap = {
    rules.InvalidEndpoint: 422,
    rules.UnknownEventType: 422,
    rules.TooManyEndpoints: 422,
    rules.EndpointNotFound: 404,
    rules.DeliveryNotFound: 404,
}
EndpointId = Annotated[str, Path(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
DeliveryId = Annotated[int, Path(ge=1, le=MAX_SEQ)]


@documents({403: "webhooks are for customers and operators"})
async def _owner(principal: Authenticated) -> Principal:
    if not (principal.has(ROLE_CUSTOMER) or principal.has(ROLE_OPERATOR)):
        raise Problem(403, "forbidden", "webhooks are for customers and operators")
    return principal


Owner = Annotated[Principal, Depends(_owner)]


@documents({403: "`device-too-new`: a device signed in less than a day ago may not create, change or remove endpoints"})
async def _trusted_device(owner: Owner, clock: ClockDep) -> None:
    """An endpoint outlives the session that made it and hears every event of the customer:
    one set up by whoever has just got in on a new device would go on telling them after
    the device is removed."""
    only_trusted_device(owner, clock.now(), WEBHOOKS)


FromTrustedDevice = [Depends(_trusted_device)]


def _scope(principal: Principal) -> str:
    return store.SCOPE_ALL if principal.has(ROLE_OPERATOR) else store.SCOPE_CUSTOMER


def _public(row: store.WebhookEndpoint) -> EndpointPublic:
    return EndpointPublic(
        id=row.id,
        url=row.url,
        events=row.events,
        description=row.description,
        enabled=row.enabled,
        scope="all" if row.scope == store.SCOPE_ALL else "customer",
        created_at=row.created_at,
        updated_at=row.updated_at,
        previous_secret_expires_at=row.previous_secret_until if row.previous_secret else None,
    )


def _with_secret(row: store.WebhookEndpoint) -> EndpointWithSecret:
    return EndpointWithSecret(**_public(row).model_dump(), secret=row.secret)


def _delivery(row: store.WebhookDelivery) -> DeliveryPublic:
    return DeliveryPublic.model_validate(row, from_attributes=True)


async def _endpoint(session: AsyncSession, endpoint_id: str, owner: Principal) -> store.WebhookEndpoint:
    row = await session.get(store.WebhookEndpoint, endpoint_id)
    if row is None or row.owner_id != owner.subject:
        raise rules.EndpointNotFound(f"webhook endpoint {endpoint_id} was not found")
    return row


async def _delivery_of(
    session: AsyncSession, endpoint: store.WebhookEndpoint, delivery_id: int
) -> store.WebhookDelivery:
    row = await session.get(store.WebhookDelivery, delivery_id)
    if row is None or row.endpoint_id != endpoint.id:
        raise rules.DeliveryNotFound(f"delivery {delivery_id} was not found")
    return row


@router.post("/endpoints", status_code=201, response_model=EndpointWithSecret, dependencies=FromTrustedDevice)
async def create_endpoint(body: EndpointCreate, owner: Owner, gw: GatewayDep, clock: ClockDep) -> EndpointWithSecret:
    """Register an endpoint: from now on each event of the types it names is POSTed to its
    URL, signed with the `secret` in this answer, shown this once (docs/webhooks.md
    verifies it). A customer's endpoint hears their own events; an operator's hears every
    customer's. The URL must be http or https with no user or password in it, and outside
    the sandbox may not name a loopback or private address (422 `invalid-endpoint`); an
    unknown event type is a 422 `unknown-event-type`. At most 10 endpoints each (422
    `too-many-endpoints`). A device signed in less than a day ago may list endpoints but
    not create, change, rotate or remove one (403 `device-too-new`, with `new_until`)."""
    url = rules.check_url(body.url, local_allowed=gw.settings.sandbox)
    events = rules.check_events(body.events)
    now = clock.now()
    limit = gw.settings.gateway.webhook_max_endpoints
    async with gw.runtime.db.write() as session, session.begin():
        if await store.count_of(session, owner.subject) >= limit:
            raise rules.TooManyEndpoints(f"at most {limit} webhook endpoints each: remove one you no longer use")
        row = store.WebhookEndpoint(
            id=str(uuid.uuid4()),
            owner_id=owner.subject,
            scope=_scope(owner),
            url=url,
            events=events,
            description=body.description,
            enabled=True,
            secret=rules.new_secret(),
            previous_secret=None,
            previous_secret_until=None,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
    gw.webhooks.endpoints.mark()
    return _with_secret(row)


@router.get("/endpoints", response_model=EndpointList)
async def list_endpoints(owner: Owner, gw: GatewayDep) -> EndpointList:
    """Your webhook endpoints (their secrets are not shown again)."""
    async with gw.runtime.db.read() as session:
        return EndpointList(items=[_public(r) for r in await store.endpoints_of(session, owner.subject)])


@router.get("/endpoints/{endpoint_id}", response_model=EndpointPublic, responses={404: PROBLEM})
async def get_endpoint(endpoint_id: EndpointId, owner: Owner, gw: GatewayDep) -> EndpointPublic:
    """One of your endpoints; another's is a 404."""
    async with gw.runtime.db.read() as session:
        return _public(await _endpoint(session, endpoint_id, owner))


@router.patch(
    "/endpoints/{endpoint_id}", response_model=EndpointPublic, responses={404: PROBLEM}, dependencies=FromTrustedDevice
)
async def update_endpoint(
    endpoint_id: EndpointId, body: EndpointUpdate, owner: Owner, gw: GatewayDep, clock: ClockDep
) -> EndpointPublic:
    """Change an endpoint's URL, event types, description, or switch it off and on. What
    is left out stays. A disabled endpoint gets no new deliveries; those pending wait
    until it is enabled again. Not from a device signed in less than a day ago (403
    `device-too-new`)."""
    url = rules.check_url(body.url, local_allowed=gw.settings.sandbox) if body.url is not None else None
    events = rules.check_events(body.events) if body.events is not None else None
    async with gw.runtime.db.write() as session, session.begin():
        row = await _endpoint(session, endpoint_id, owner)
        if url is not None:
            row.url = url
        if events is not None:
            row.events = events
        if body.description is not None:
            row.description = body.description
        if body.enabled is not None:
            row.enabled = body.enabled
        row.updated_at = clock.now()
    if row.enabled:
        gw.webhooks.endpoints.mark()
        gw.webhooks.wake()
    return _public(row)


@router.delete(
    "/endpoints/{endpoint_id}",
    status_code=204,
    response_class=Response,
    responses={404: PROBLEM},
    dependencies=FromTrustedDevice,
)
async def delete_endpoint(endpoint_id: EndpointId, owner: Owner, gw: GatewayDep) -> Response:
    """Remove an endpoint, with its deliveries and their log. Not from a device signed in
    less than a day ago (403 `device-too-new`)."""
    async with gw.runtime.db.write() as session, session.begin():
        await _endpoint(session, endpoint_id, owner)
        await store.forget_endpoint(session, endpoint_id)
    return Response(status_code=204)


@router.post(
    "/endpoints/{endpoint_id}/rotate-secret",
    response_model=EndpointWithSecret,
    responses={404: PROBLEM},
    dependencies=FromTrustedDevice,
)
async def rotate_secret(
    endpoint_id: EndpointId,
    owner: Owner,
    gw: GatewayDep,
    clock: ClockDep,
    grace_s: Annotated[
        int | None,
        Query(ge=0, le=7 * 86400, description="How long the old secret still signs (default 24 h; 0: not at all)"),
    ] = None,
) -> EndpointWithSecret:
    """A new signing secret, shown this once. For `grace_s` seconds (24 h unless given)
    each delivery carries a signature with the new secret and one with the old, so the
    receiver can switch to the new secret without missing a delivery. Not from a device
    signed in less than a day ago (403 `device-too-new`)."""
    grace = gw.settings.gateway.webhook_rotation_grace_s if grace_s is None else grace_s
    async with gw.runtime.db.write() as session, session.begin():
        row = await _endpoint(session, endpoint_id, owner)
        now = utcnow()  # the grace period is wall-clock time, as the worker signs by it
        row.previous_secret = row.secret if grace else None
        row.previous_secret_until = now + timedelta(seconds=grace) if grace else None
        row.secret = rules.new_secret()
        row.updated_at = clock.now()
    return _with_secret(row)


async def _queue(gw: GatewayDep, row: store.WebhookDelivery) -> DeliveryPublic:
    async with gw.runtime.db.write() as session, session.begin():
        session.add(row)
    gw.webhooks.wake()
    return _delivery(row)


@router.post("/endpoints/{endpoint_id}/test", status_code=202, response_model=DeliveryPublic, responses={404: PROBLEM})
async def send_test_event(endpoint_id: EndpointId, owner: Owner, gw: GatewayDep, clock: ClockDep) -> DeliveryPublic:
    """Send a `webhook_test` event to the endpoint now, whatever types it subscribed to:
    signed, retried and logged like any other. Follow it at its delivery."""
    async with gw.runtime.db.read() as session:
        endpoint = await _endpoint(session, endpoint_id, owner)
    event_id = rules.new_event_id()
    data = {"endpoint_id": endpoint.id, "message": "A test event from Sandbank"}
    body = rules.event_body(event_id, rules.TEST_EVENT, clock.now(), data)
    return await _queue(
        gw, store.WebhookDelivery(**store.delivery_row(endpoint.id, event_id, rules.TEST_EVENT, body, utcnow()))
    )


@router.get(
    "/endpoints/{endpoint_id}/deliveries",
    response_model=DeliveryPage,
    responses={400: PROBLEM, 404: PROBLEM},
)
async def list_deliveries(
    endpoint_id: EndpointId,
    owner: Owner,
    gw: GatewayDep,
    page: SmallPageDep,
    status: Annotated[DeliveryStatus | None, Query(description="Only these")] = None,
) -> DeliveryPage:
    """The endpoint's deliveries, newest first: each event sent (or being sent) to it."""
    before = decode_seq(page.cursor, of="deliveries")
    async with gw.runtime.db.read() as session:
        await _endpoint(session, endpoint_id, owner)
        rows = await store.deliveries(session, endpoint_id, status=status, before=before, limit=page.limit + 1)
    shown = rows[: page.limit]
    return DeliveryPage(
        items=[_delivery(r) for r in shown],
        next_cursor=encode_seq(shown[-1].id, of="deliveries") if len(rows) > page.limit else None,
    )


@router.get(
    "/endpoints/{endpoint_id}/deliveries/{delivery_id}", response_model=DeliveryDetail, responses={404: PROBLEM}
)
async def get_delivery(
    endpoint_id: EndpointId, delivery_id: DeliveryId, owner: Owner, gw: GatewayDep
) -> DeliveryDetail:
    """One delivery: the event it sends and every attempt with the receiver's answer
    (status code, the start of its body, how long it took, or why no answer came)."""
    async with gw.runtime.db.read() as session:
        endpoint = await _endpoint(session, endpoint_id, owner)
        row = await _delivery_of(session, endpoint, delivery_id)
        attempts = await store.attempts_of(session, row.id)
    return DeliveryDetail(
        **_delivery(row).model_dump(),
        event=orjson.loads(row.payload),
        attempt_log=[AttemptPublic.model_validate(a, from_attributes=True) for a in attempts],
    )


@router.post(
    "/endpoints/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryPublic,
    responses={404: PROBLEM},
)
async def redeliver(endpoint_id: EndpointId, delivery_id: DeliveryId, owner: Owner, gw: GatewayDep) -> DeliveryPublic:
    """Send a delivery's event again, as a new delivery (`replay_of` names the first)
    with the same body and event id, so a receiver that keeps event ids sees a repeat."""
    async with gw.runtime.db.read() as session:
        endpoint = await _endpoint(session, endpoint_id, owner)
        first = await _delivery_of(session, endpoint, delivery_id)
    row = store.delivery_row(
        endpoint.id, first.event_id, first.event_type, first.payload.encode(), utcnow(), replay_of=first.id
    )
    return await _queue(gw, store.WebhookDelivery(**row))
