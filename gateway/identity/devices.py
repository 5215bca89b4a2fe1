"""Trusted devices: a customer's logins bind the devices they come from.

The first device a customer logs in on is trusted. A login from a device they have not
used is challenged by step-up before any session is issued: the password is right, so a
six-digit code goes by SMS (the sandbox inbox, as for payments, gateway/identity/stepup.py)
and the login is answered 401 `step-up-required` with a `challenge_id`; the same login
sent again with `challenge_id` and `code` binds the device and opens the session. For
`AUTH_DEVICE_NEW_S` (24 hours) of sandbox time after that the device is new: the gateway
signs until when in every token of its sessions (claim `ndu`, shared/auth.py), and
payments holds such a session's payments to lower limits
(`AUTH_NEW_DEVICE_PER_PAYMENT_MINOR`, `AUTH_NEW_DEVICE_DAILY_MINOR`). Nothing a phone
sends says whether its device is trusted. A customer lists and removes their devices;
removing one ends its sessions, and a later login from it is a new device again. While a
session's device is new it may sign itself out but not remove another device, end
another device's sessions or set or remove its push token, nor change the notification
preferences or create, change or remove a webhook endpoint (403 `device-too-new`): whoever
has just got in with a stolen password and an intercepted code must not lock the owner out
of their trusted phone, nor stop or take its alerts, nor have the customer's events sent
where they can read them after the device is gone.

Sandbox rule, so a test harness is never challenged unexpectedly: in sandbox mode a
device id starting with one of `SANDBOX_TRUSTED_PREFIXES` is bound trusted at once, as are
the devices of the seeded demo customers (docs/sandbox.md)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from gateway.errors import Refused
from gateway.identity import store
from gateway.identity.stepup import Challenges
from gateway.notifications import notify
from gateway.notifications import store as notifications
from gateway.notifications.hub import NotificationHub
from shared.auth import ROLE_CUSTOMER, Principal
from shared.clock import Clock
from shared.runtime import Runtime
from shared.sandbox import DEMO_USERS
from shared.settings import AuthSettings
from shared.stepup import Payment

if TYPE_CHECKING:
    from gateway.identity.sessions import Sessions

# The step-up challenge of a login names the device as its payee and moves no money.
DEVICE_LOGIN = "device_login"
NEW_DEVICE_REASON = "new_device"
# Sandbox: device ids bound trusted on sight (the project's own test harnesses use them).
SANDBOX_TRUSTED_PREFIXES = ("trusted-", "pytest", "sandbank-", "unknown-device")
DEMO_CUSTOMERS = frozenset(u.id for u in DEMO_USERS if ROLE_CUSTOMER in u.roles)


class NewDeviceChallenged(Refused):
    code = "step-up-required"
    title = "Step-up authentication required"

    def __init__(self, challenge: store.Challenge) -> None:
        super().__init__(
            "this device has not been used with your account: a one-time code was sent to your phone by SMS; "
            "log in again with the same device_id, challenge_id and the code",
            challenge_id=challenge.id,
            reason=NEW_DEVICE_REASON,
            expires_at=challenge.expires_at.isoformat(),
        )


class DeviceNotFound(Refused):
    code = "not-found"

    def __init__(self, device: str) -> None:
        super().__init__(f"device {device} was not found")


# What a new device may not do, as its refusal says: act on another device, or change what
# every device of the customer lives by and where the customer's events are sent.
ACTS_ON_ITSELF = (
    "a device signed in less than a day ago acts on itself only: it may sign itself out, but not remove "
    "another device, end its sessions or change its pushes"
)
WEBHOOKS = "a device signed in less than a day ago may list webhook endpoints but not create, change or remove them"
NOTIFICATION_PREFERENCES = (
    "a device signed in less than a day ago may read the notification preferences but not change them: "
    "they mute pushes on every device of the customer"
)


class DeviceTooNew(Refused):
    code = "device-too-new"
    title = "This device is too new"

    def __init__(self, until: datetime, rule: str = ACTS_ON_ITSELF) -> None:
        super().__init__(
            f"{rule}; this one may from {until.isoformat(timespec='seconds')} (sandbox clock), or use a trusted device",
            new_until=until.isoformat(),
        )


@dataclass(frozen=True)
class NewDevice:
    """The calling session's device while it is new: it may act on itself only."""

    device_id: str | None
    until: datetime

    def may_act_on(self, device_id: str) -> None:
        if device_id != self.device_id:
            raise DeviceTooNew(self.until)


async def calling_new_device(principal: Principal, sessions: Sessions, now: datetime) -> NewDevice | None:
    """The calling session's device while it is new (it may then act on itself only), or
    None: a trusted device, whose calls read nothing more for this."""
    until = new_device_of(principal, now)
    if until is None:
        return None
    device_id = await sessions.device_of(principal.session_id) if principal.session_id else None
    return NewDevice(device_id, until)


async def only_own_device(principal: Principal, sessions: Sessions, now: datetime, device_id: str) -> None:
    """Refuse (`DeviceTooNew`) a call from a new device about another device; a trusted
    device's calls read nothing for this."""
    caller = await calling_new_device(principal, sessions, now)
    if caller is not None:
        caller.may_act_on(device_id)


def only_trusted_device(principal: Principal, now: datetime, rule: str) -> None:
    """Refuse (`DeviceTooNew`, saying `rule`) a call from a new device that a trusted
    device alone may make: one that changes what every device of the customer lives by."""
    until = new_device_of(principal, now)
    if until is not None:
        raise DeviceTooNew(until, rule)


def new_device_of(principal: Principal, now: datetime) -> datetime | None:
    """Until when the calling session's device is new, as its token says (claim `ndu`,
    the notion payments' lower limits read); None: a trusted device."""
    until = principal.new_device_until
    if until is None or now.timestamp() >= until:
        return None
    return datetime.fromtimestamp(until, UTC)


# --- what the customer sees ------------------------------------------------------------------

DEVICE_EXAMPLE: dict[str, Any] = {
    "id": "0f6d2c1a-5b4e-4c3d-9a8b-7e6f5d4c3b2a",
    "device_id": "iphone-15-abc",
    "bound_at": "2026-12-01T02:00:00Z",
    "last_login_at": "2026-12-01T02:00:00Z",
    "trusted": False,
    "new_until": "2026-12-02T02:00:00Z",
}


class DevicePublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [DEVICE_EXAMPLE]})

    id: str = Field(description="Pass to DELETE /v1/me/devices/{id}")
    device_id: str = Field(description="As the phone named itself at login")
    bound_at: datetime
    last_login_at: datetime
    trusted: bool = Field(description="False while the device is new: its payments have lower limits")
    new_until: datetime | None = Field(description="When it becomes trusted; null: trusted from the start")


class DeviceList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [DEVICE_EXAMPLE]}]})

    items: list[DevicePublic]


def is_new(new_until: datetime | None, now: datetime) -> bool:
    return new_until is not None and now < new_until


def public(d: store.Device, now: datetime) -> DevicePublic:
    return DevicePublic(
        id=d.id,
        device_id=d.device_id,
        bound_at=d.bound_at,
        last_login_at=d.last_login_at,
        trusted=not is_new(d.new_until, now),
        new_until=d.new_until,
    )


def sandbox_trusted(device_id: str, user_id: str) -> bool:
    """Whether the sandbox binds this device trusted without a challenge."""
    return user_id in DEMO_CUSTOMERS or device_id.startswith(SANDBOX_TRUSTED_PREFIXES)


class Devices:
    def __init__(
        self,
        runtime: Runtime,
        challenges: Challenges,
        hub: NotificationHub,
        settings: AuthSettings,
        clock: Clock,
        *,
        sandbox: bool,
    ) -> None:
        self.runtime = runtime
        self.challenges = challenges
        self.hub = hub
        self.clock = clock
        self.sandbox = sandbox
        self.new_for = timedelta(seconds=settings.device_new_s)

    async def admit(
        self, user: store.User, device_id: str, challenge_id: str | None, code: str | None
    ) -> datetime | None:
        """Whether `user` (password checked) may have a session on `device_id`: until when
        the device is new (None: trusted). A device the customer has not used raises
        `NewDeviceChallenged` unless `challenge_id` and `code` approve exactly it."""
        if ROLE_CUSTOMER not in user.roles:
            return None
        now = self.clock.now()
        async with self.runtime.db.write() as session, session.begin():
            known = await session.scalar(
                select(store.Device).where(store.Device.user_id == user.id, store.Device.device_id == device_id)
            )
            if known is not None:
                known.last_login_at = now
                return known.new_until
            count = await session.scalar(
                select(func.count()).select_from(store.Device).where(store.Device.user_id == user.id)
            )
        if not count or (self.sandbox and sandbox_trusted(device_id, user.id)):
            return await self._bind(user.id, device_id, None, now)
        login = Payment(DEVICE_LOGIN, device_id, 0, "CNY", "")
        if challenge_id is not None and code is not None:
            row = await self.challenges.get(user.id, challenge_id)
            # A code already used binds nothing again (a device removed since is new again).
            if (row.operation, row.payee) == (DEVICE_LOGIN, device_id) and row.status != "approved":
                await self.challenges.approve(user.id, challenge_id, code)
                return await self._bind(user.id, device_id, now + self.new_for, now)
        raise NewDeviceChallenged(await self.challenges.challenge(user.id, device_id, login, NEW_DEVICE_REASON))

    async def _bind(self, user_id: str, device_id: str, new_until: datetime | None, now: datetime) -> datetime | None:
        async with self.runtime.unit_of_work() as uow:
            uow.session.add(
                store.Device(
                    id=str(uuid.uuid4()),
                    user_id=user_id,
                    device_id=device_id,
                    bound_at=now,
                    new_until=new_until,
                    last_login_at=now,
                )
            )
            uow.audit(
                actor=f"customer:{user_id}",
                action="device.bound",
                subject_kind="device",
                subject_id=device_id,
                customer_id=user_id,
                after={"trusted": new_until is None, "new_until": new_until},
            )
            if new_until is not None:
                writer = notifications.NotificationWriter(uow, self.hub, sandbox=self.sandbox)
                draft = notify.new_device_signed_in(user_id, device_id, new_until)
                await writer.add([draft], event_id=None, event_at=now, now=now)
        return new_until

    async def of(self, user_id: str) -> list[store.Device]:
        async with self.runtime.db.read() as session:
            rows = await session.scalars(
                select(store.Device).where(store.Device.user_id == user_id).order_by(store.Device.bound_at)
            )
            return list(rows.all())

    async def remove(self, user_id: str, device_row_id: str, caller: NewDevice | None = None) -> store.Device:
        """Forget one of the customer's devices; another's is a 404. A `caller` on a new
        device may forget only that device (`DeviceTooNew`)."""
        async with self.runtime.unit_of_work() as uow:
            row = await uow.session.get(store.Device, device_row_id)
            if row is None or row.user_id != user_id:
                raise DeviceNotFound(device_row_id)
            if caller is not None:
                caller.may_act_on(row.device_id)
            await uow.session.delete(row)
            uow.audit(
                actor=f"customer:{user_id}",
                action="device.removed",
                subject_kind="device",
                subject_id=row.device_id,
                customer_id=user_id,
                before={"device_id": row.device_id, "bound_at": row.bound_at},
            )
        return row
