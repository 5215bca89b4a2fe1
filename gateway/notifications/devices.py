"""Where and what a customer is pushed: their devices' push tokens, and which kinds of
notification they want pushed. Every notification stays in the in-app list either way."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from gateway.deps import ClockDep, Customer, GatewayDep
from gateway.identity.devices import NOTIFICATION_PREFERENCES, only_own_device, only_trusted_device
from gateway.notifications import store
from gateway.notifications.notify import ALWAYS_PUSHED, KINDS
from gateway.notifications.schemas import (
    PreferencePublic,
    Preferences,
    PreferencesSet,
    PushTokenList,
    PushTokenPublic,
    PushTokenSet,
)
from shared.auth import Principal
from shared.problems import PROBLEM, Problem, documents, not_found

router = APIRouter(prefix="/v1/me", tags=["notifications"], responses={401: PROBLEM, 422: PROBLEM})
# As the login's `device_id`, kept to characters a path segment carries as they are.
DeviceId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:\-]+$")]
MAX_DEVICES = 10


def _public(row: store.PushToken) -> PushTokenPublic:
    return PushTokenPublic.model_validate(row, from_attributes=True)


@router.get("/push-tokens", response_model=PushTokenList)
async def list_push_tokens(principal: Customer, gw: GatewayDep) -> PushTokenList:
    """The devices your notifications are pushed to, each with its push token."""
    async with gw.runtime.db.read() as session:
        return PushTokenList(items=[_public(r) for r in await store.devices(session, principal.subject)])


@router.put("/push-tokens/{device_id}", response_model=PushTokenPublic, responses={403: PROBLEM})
async def set_push_token(
    device_id: DeviceId, body: PushTokenSet, principal: Customer, gw: GatewayDep, clock: ClockDep
) -> PushTokenPublic:
    """Register (or replace) this device's push token, under the `device_id` the app logged
    in with (a device with no live session of yours is a 422 `device-not-logged-in`); call it
    at every launch, as the platform may rotate the token. From now on each notification of
    a kind you have not muted is pushed to it while you are logged in on it (in the sandbox:
    written to `GET /v1/sandbox/push-deliveries`); after logout it gets none. A token
    registered before by another login moves here. At most 10 devices (422 `too-many-devices`).
    A device signed in less than a day ago may set only its own token (403 `device-too-new`):
    pushes meant for the customer's trusted phone are not to be sent elsewhere."""
    now = clock.now()
    await only_own_device(principal, gw.sessions, now, device_id)
    async with gw.runtime.db.write() as session, session.begin():
        if not await store.logged_in_on(session, principal.subject, device_id, now):
            raise Problem(
                422, "device-not-logged-in", f"no live session on device {device_id}: log in on it first, with this id"
            )
        known = {d.device_id for d in await store.devices(session, principal.subject)}
        if device_id not in known and len(known) >= MAX_DEVICES:
            raise Problem(
                422, "too-many-devices", f"at most {MAX_DEVICES} devices get pushes: remove one you no longer use"
            )
        row = await store.register_device(session, principal.subject, device_id, body.platform, body.token, now)
    gw.hub.devices.mark()
    return _public(row)


@router.delete(
    "/push-tokens/{device_id}", status_code=204, response_class=Response, responses={403: PROBLEM, 404: PROBLEM}
)
async def delete_push_token(device_id: DeviceId, principal: Customer, gw: GatewayDep) -> Response:
    """Stop pushing to this device (on logout, or when the customer turns pushes off in the
    phone's settings). A device without a token is a 404. A device signed in less than a
    day ago may stop only its own pushes (403 `device-too-new`), so it cannot silence the
    alerts of the customer's trusted phone."""
    await only_own_device(principal, gw.sessions, gw.clock.now(), device_id)
    async with gw.runtime.db.write() as session, session.begin():
        if not await store.forget_device(session, principal.subject, device_id):
            raise not_found("push token", device_id)
    return Response(status_code=204)


def _preferences(muted: set[str]) -> Preferences:
    return Preferences(
        items=[
            PreferencePublic(kind=k, push=k in ALWAYS_PUSHED or k not in muted, locked=k in ALWAYS_PUSHED)
            for k in KINDS
        ]
    )


@router.get("/notification-preferences", response_model=Preferences)
async def get_preferences(principal: Customer, gw: GatewayDep) -> Preferences:
    """Which kinds of notification are pushed to your devices. Every kind is, until you
    turn it off; `locked` kinds (step-up codes sent) are security alerts and always are.
    The in-app list (`GET /v1/notifications`) keeps every kind either way."""
    async with gw.runtime.db.read() as session:
        return _preferences(await store.muted(session, principal.subject))


@documents({403: "`device-too-new`: a device signed in less than a day ago may not change them"})
async def _trusted_device(principal: Customer, clock: ClockDep) -> Principal:
    """Preferences mute pushes on every device of the customer: whoever has just got in on a
    new device must not silence the alerts of the customer's trusted phone."""
    only_trusted_device(principal, clock.now(), NOTIFICATION_PREFERENCES)
    return principal


@router.put("/notification-preferences", response_model=Preferences)
async def set_preferences(
    body: PreferencesSet, principal: Annotated[Principal, Depends(_trusted_device)], gw: GatewayDep, clock: ClockDep
) -> Preferences:
    """Replace your choices: the kinds with `push: false` are no longer pushed, every other
    kind is. Who may first: a device signed in less than a day ago may read them but not
    change them, whatever the body says (403 `device-too-new`, with `new_until`). Then what:
    an unknown kind is a 422 `unknown-kind`; turning off a `locked` one is a 422
    `preference-locked`, on any device."""
    named = [c.kind for c in body.items]
    if len(named) != len(set(named)):
        raise Problem(422, "validation-error", "name each kind once")
    unknown = sorted(set(named) - set(KINDS))
    if unknown:
        raise Problem(422, "unknown-kind", f"no notification kind {', '.join(unknown)}", kinds=unknown)
    muted = {c.kind for c in body.items if not c.push}
    locked = sorted(muted & ALWAYS_PUSHED)
    if locked:
        raise Problem(422, "preference-locked", f"security alerts are always pushed: {', '.join(locked)}", kinds=locked)
    async with gw.runtime.db.write() as session, session.begin():
        await store.replace_muted(session, principal.subject, muted, clock.now())
    return _preferences(muted)
