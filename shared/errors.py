"""The base of every domain error: a rule refused something, and nothing changed.

A domain error carries a stable `code` (the slug of its problem type) and a human
`detail`, never an HTTP status: each service's API maps its errors to statuses in one
table (`shared.problems.install_error_statuses`). Pure: domain modules raise these."""

from __future__ import annotations


class DomainError(Exception):
    code = "unprocessable"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class ServiceUnavailable(Exception):
    """Another Sandbank service did not answer (or answered with an error of its own):
    worth retrying shortly. Adapters raise it; every API answers it 503 with Retry-After."""

    def __init__(self, service: str) -> None:
        super().__init__(f"the {service} service is not answering; try again shortly")
        self.service = service
