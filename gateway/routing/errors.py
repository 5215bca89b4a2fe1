"""How the public API answers the routing feature's errors (registered once by gateway/main.py)."""

from __future__ import annotations

from gateway.errors import ErrorMap
from gateway.routing.idempotency import KeyInFlight, KeyReused
from gateway.routing.upstream import UpstreamRefused
from shared.problems import Problem


def _passed_on(error: UpstreamRefused) -> Problem:
    """A service's refusal as the gateway's own; its server errors become 502."""
    status = error.status if error.status < 500 else 502
    return Problem(status, error.code, error.detail, **error.facts)


ERRORS: ErrorMap = {
    UpstreamRefused: _passed_on,
    KeyReused: 422,
    KeyInFlight: 409,
}
