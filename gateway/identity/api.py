"""The identity routes: register (a code to the phone, then the account), log in, refresh,
log out, who is logged in, the user's own sessions, and approving step-up challenges.
Errors of the feature are answered as `ERRORS` says (gateway/errors.py registers them once)."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Body, Path
from fastapi.responses import Response

from gateway.deps import (
    Authenticated,
    ChallengesDep,
    ClientAddress,
    ClockDep,
    Customer,
    GatewayDep,
    RegistrationsDep,
    SessionsDep,
    UpstreamsDep,
)
from gateway.errors import ErrorMap
from gateway.identity import store
from gateway.identity.devices import (
    DeviceList,
    DeviceNotFound,
    DeviceTooNew,
    NewDeviceChallenged,
    calling_new_device,
    public,
)
from gateway.identity.passwords import PasswordsBusy, WeakPassword, check_password
from gateway.identity.registration import RegistrationCodeInvalid
from gateway.identity.schemas import (
    ChallengeApproval,
    ChallengePublic,
    LoginRequest,
    MeResponse,
    RefreshRequest,
    RegisterRequest,
    RegisterResponse,
    RegistrationStart,
    RegistrationStarted,
    SessionList,
    SessionPublic,
    TokenPair,
)
from gateway.identity.sessions import (
    InvalidCredentials,
    LoginLocked,
    PhoneTaken,
    RefreshTokenInvalid,
    RefreshTokenReused,
    SessionNotFound,
    login_phone,
)
from gateway.identity.stepup import (
    ChallengeAlreadyApproved,
    ChallengeExpired,
    ChallengeLocked,
    ChallengeNotFound,
    CodeInvalid,
    StepUpRequired,
    TooManyChallenges,
)
from gateway.routing.upstream import ITSELF
from shared.auth import ROLE_CUSTOMER
from shared.money import format_minor
from shared.problems import PROBLEM, Problem, not_found

NEW_CUSTOMER_CLASS = "II"


def _step_up_required(error: StepUpRequired | NewDeviceChallenged) -> Problem:
    # RFC 9470: the client learns that a stronger authentication is needed.
    return Problem(
        401,
        error.code,
        error.detail,
        title=error.title,
        headers={"WWW-Authenticate": 'Bearer error="insufficient_user_authentication"'},
        **error.facts,
    )


# What a login with the right password from a new device may be answered (devices.py).
DEVICE_CHALLENGE_ERRORS = (
    NewDeviceChallenged,
    CodeInvalid,
    ChallengeLocked,
    ChallengeExpired,
    ChallengeAlreadyApproved,
    ChallengeNotFound,
    TooManyChallenges,
)

ERRORS: ErrorMap = {
    PhoneTaken: 409,
    WeakPassword: 422,
    RegistrationCodeInvalid: 400,
    PasswordsBusy: 503,
    InvalidCredentials: 401,
    LoginLocked: 429,
    RefreshTokenInvalid: lambda error: Problem(
        401, error.code, error.detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
    ),
    RefreshTokenReused: 401,
    SessionNotFound: 404,
    StepUpRequired: _step_up_required,
    NewDeviceChallenged: _step_up_required,
    DeviceNotFound: 404,
    DeviceTooNew: 403,
    TooManyChallenges: 429,
    ChallengeNotFound: 404,
    CodeInvalid: 401,
    ChallengeLocked: 409,
    ChallengeExpired: 409,
    ChallengeAlreadyApproved: 409,
}

auth = APIRouter(prefix="/v1", tags=["auth"], responses={400: PROBLEM, 401: PROBLEM, 422: PROBLEM})


@auth.post("/auth/registrations", status_code=202, response_model=RegistrationStarted, responses={429: PROBLEM})
async def start_registration(
    body: RegistrationStart, gw: GatewayDep, address: ClientAddress, registrations: RegistrationsDep
) -> RegistrationStarted:
    """Ask for a registration code: it is sent by SMS to `phone` (in the sandbox, to the
    inbox: `GET /v1/sandbox/inbox`). The answer is the same whether or not the number
    already has an account; such a number is told so by SMS instead of getting a code.
    Asking again sends a new code. Limited per client address and per number (429)."""
    gw.register_limits.take(address, body.phone)
    expires_at = await registrations.start(body.phone)
    return RegistrationStarted(phone=body.phone, expires_at=expires_at)


@auth.post("/auth/register", status_code=201, response_model=RegisterResponse)
async def register(
    body: RegisterRequest,
    gw: GatewayDep,
    sessions: SessionsDep,
    registrations: RegistrationsDep,
    upstreams: UpstreamsDep,
) -> RegisterResponse:
    """Register a customer with the code sent to their phone (`POST /v1/auth/registrations`),
    a password and a name. A wrong, expired or spent code, or a number that cannot be
    registered, all answer 400 `registration-code-invalid`; a weak password answers 422
    `weak-password` naming the rule (`rule`: min_length, max_length, repeated_character,
    phone_number, common) before the code is tried. New customers start at KYC class II
    (remote-opened: daily payment limits apply)."""
    check_password(body.password, body.phone)
    # Guessing is bounded by the code itself: a few tries, then a new one must be asked for (limited).
    await registrations.verify(body.phone, body.code)
    if await sessions.phone_taken(body.phone):
        raise RegistrationCodeInvalid()  # a code was never sent to a taken number; a race at most
    # Derived from the phone so a registration interrupted between accounts and the
    # gateway can simply be repeated (accounts creates customers idempotently by id).
    customer_id = str(uuid.uuid5(gw.id_namespace, body.phone))
    response = await upstreams.call(
        "accounts",
        "POST",
        "/internal/customers",
        caller=ITSELF,
        json={"customer_id": customer_id, "phone": body.phone, "name": body.name, "kyc_class": NEW_CUSTOMER_CLASS},
    )
    if response.status_code == 409:
        raise RegistrationCodeInvalid()
    response.raise_for_problem()
    try:
        await sessions.add_user(
            user_id=customer_id, phone=body.phone, name=body.name, password=body.password, roles=[ROLE_CUSTOMER]
        )
    except PhoneTaken:
        raise RegistrationCodeInvalid() from None
    await registrations.finish(body.phone)
    return RegisterResponse(customer_id=customer_id, phone=body.phone, name=body.name, kyc_class=NEW_CUSTOMER_CLASS)


@auth.post("/auth/login", response_model=TokenPair, responses={404: PROBLEM, 409: PROBLEM, 429: PROBLEM, 503: PROBLEM})
async def login(body: LoginRequest, gw: GatewayDep, address: ClientAddress, sessions: SessionsDep) -> dict[str, object]:
    """Log in on a device. Returns a short-lived access token and a refresh token
    bound to a new session for `device_id`. Wrong passwords are limited per client
    address and per number (429 `rate-limited` with `Retry-After`), and five in a row lock
    the number for five minutes (429 `login-locked`). Each wrong one answers 401
    `invalid-credentials` with `attempts_left`, the wrong passwords left before the lock
    (0: this one locked it). A customer's login from a device they have not used (their
    first is trusted) answers 401 `step-up-required` with `challenge_id` and sends a
    six-digit code by SMS; the same login with `challenge_id` and `code` binds the device,
    new for 24 hours of sandbox time (lower payment limits; docs/compliance.md)."""
    phone = login_phone(body.phone)
    gw.login_limits.take(address, phone)
    admit = partial(gw.devices.admit, device_id=body.device_id, challenge_id=body.challenge_id, code=body.code)
    try:
        pair = await sessions.login(phone, body.password, body.device_id, admit)
    except DEVICE_CHALLENGE_ERRORS:
        gw.login_limits.refund(address, phone)  # the password was right: the device's code decides
        raise
    gw.login_limits.refund(address, phone)  # only wrong passwords count (and 503s, which the flood causes)
    return pair


@auth.post("/auth/refresh", response_model=TokenPair)
async def refresh(body: RefreshRequest, sessions: SessionsDep) -> dict[str, object]:
    """Trade a refresh token for a new pair. Each refresh token works once; using one
    twice revokes the session (401 `refresh-token-reused`). A token that is unknown,
    expired, revoked or not even shaped like one answers 401 `invalid-refresh-token`."""
    return await sessions.refresh(body.refresh_token)


@auth.post("/auth/logout", status_code=204, response_class=Response)
async def logout(principal: Authenticated, sessions: SessionsDep) -> Response:
    """End the current session: its access and refresh tokens stop working."""
    if principal.session_id is not None:  # always, once authenticated
        await sessions.revoke(principal.session_id, "logout")
    return Response(status_code=204)


@auth.get("/me", response_model=MeResponse)
async def me(principal: Authenticated, sessions: SessionsDep, upstreams: UpstreamsDep) -> MeResponse:
    """Who is logged in, with roles and (for customers) the KYC class."""
    user = await sessions.user(principal.subject)
    if user is None:
        raise not_found("user", principal.subject)
    kyc_class = None
    if principal.has(ROLE_CUSTOMER):
        profile = await upstreams.call("accounts", "GET", "/v1/customers/me", caller=principal)
        if profile.status_code == 200:
            kyc_class = profile.json().get("kyc_class")
    return MeResponse(
        id=user.id,
        phone=user.phone,
        name=user.name,
        roles=list(user.roles),
        kyc_class=kyc_class,
        session_id=principal.session_id,
    )


own_sessions = APIRouter(prefix="/v1/me", tags=["auth"], responses={401: PROBLEM})


@own_sessions.get("/sessions", response_model=SessionList)
async def list_sessions(principal: Authenticated, sessions: SessionsDep) -> SessionList:
    """Your live sessions, newest first: the device each is bound to, when it began and
    was last used, and which one is this."""
    views = await sessions.live_sessions(principal.subject)
    return SessionList(
        items=[
            SessionPublic(
                id=v.id,
                device_id=v.device_id,
                created_at=v.created_at,
                last_used_at=v.last_used_at,
                expires_at=v.expires_at,
                current=v.id == principal.session_id,
            )
            for v in views
        ]
    )


@own_sessions.delete(
    "/sessions/{session_id}", status_code=204, response_class=Response, responses={403: PROBLEM, 404: PROBLEM}
)
async def revoke_session(
    session_id: Annotated[str, Path(min_length=1, max_length=36)],
    principal: Authenticated,
    sessions: SessionsDep,
    clock: ClockDep,
) -> Response:
    """Log a device out: its access and refresh tokens stop working at once. Ending
    the current session is a logout. Someone else's session is a 404. From a device
    signed in less than a day ago only that device's sessions may be ended (403
    `device-too-new`)."""
    caller = await calling_new_device(principal, sessions, clock.now())
    await sessions.revoke_own(principal.subject, session_id, caller)
    return Response(status_code=204)


@own_sessions.get("/devices", response_model=DeviceList, responses={403: PROBLEM})
async def list_devices(principal: Customer, gw: GatewayDep) -> DeviceList:
    """The devices bound to your account, oldest first. A device is bound at its first
    login (a new one after a step-up code); it is not `trusted` until `new_until`, and
    until then its payments have lower limits."""
    now = gw.clock.now()
    return DeviceList(items=[public(d, now) for d in await gw.devices.of(principal.subject)])


@own_sessions.delete(
    "/devices/{device_row_id}", status_code=204, response_class=Response, responses={403: PROBLEM, 404: PROBLEM}
)
async def remove_device(
    device_row_id: Annotated[str, Path(min_length=1, max_length=36)], principal: Customer, gw: GatewayDep
) -> Response:
    """Remove a device: its sessions end at once, and a later login from it is
    challenged as a new device. Someone else's device is a 404. A device signed in less
    than a day ago may remove itself but no other device (403 `device-too-new`), so a
    stranger who has just got in cannot sign the owner's trusted phone out."""
    caller = await calling_new_device(principal, gw.sessions, gw.clock.now())
    row = await gw.devices.remove(principal.subject, device_row_id, caller)
    await gw.sessions.revoke_device(principal.subject, row.device_id)
    return Response(status_code=204)


challenges_router = APIRouter(
    prefix="/v1/auth", tags=["auth"], responses={401: PROBLEM, 404: PROBLEM, 409: PROBLEM, 422: PROBLEM}
)
ChallengeId = Annotated[str, Path(min_length=1, max_length=36, pattern=r"^[0-9a-f-]+$")]


def _problem_example(status: int, slug: str, detail: str, **extra: object) -> dict[str, object]:
    return {
        "content": {
            "application/problem+json": {
                "example": {"type": f"https://sandbank.dev/problems/{slug}", "status": status, "detail": detail} | extra
            }
        },
        "description": detail,
    }


def challenge_public(row: store.Challenge, max_attempts: int) -> ChallengePublic:
    return ChallengePublic(
        id=row.id,
        status=row.status,
        operation=row.operation,
        amount=format_minor(row.amount_minor, row.currency),
        amount_minor=row.amount_minor,
        currency=row.currency,
        reason=row.reason,
        attempts_left=max(0, max_attempts - row.attempts),
        expires_at=row.expires_at,
        approved_at=row.approved_at,
    )


@challenges_router.post(
    "/challenges/{challenge_id}",
    response_model=ChallengePublic,
    responses={
        401: _problem_example(401, "challenge-code-invalid", "the code is not right; 4 attempts left", attempts_left=4),
        409: _problem_example(409, "challenge-expired", "the code has expired: repeat the payment for a new code"),
    },
)
async def approve_challenge(
    challenge_id: ChallengeId,
    body: Annotated[ChallengeApproval, Body()],
    principal: Customer,
    challenges: ChallengesDep,
) -> ChallengePublic:
    """Approve a step-up challenge with the six-digit code from your notifications, then
    repeat the payment with the same Idempotency-Key. A wrong code answers 401 with
    `attempts_left`; five wrong codes lock the challenge (409 `challenge-locked`), and
    after five minutes it has expired (409 `challenge-expired`): repeat the payment for
    a new one. Another customer's challenge is a 404."""
    row = await challenges.approve(principal.subject, challenge_id, body.code)
    return challenge_public(row, challenges.settings.stepup_max_attempts)


@challenges_router.get("/challenges/{challenge_id}", response_model=ChallengePublic)
async def get_challenge(challenge_id: ChallengeId, principal: Customer, challenges: ChallengesDep) -> ChallengePublic:
    """A step-up challenge's state: pending, approved or locked, and the tries left."""
    row = await challenges.get(principal.subject, challenge_id)
    return challenge_public(row, challenges.settings.stepup_max_attempts)


routers = [auth, own_sessions, challenges_router]
