"""insurance: Insurance products, quotes, policies and claims paid out through accounts.

It starts, owns its database, runs its outbox relay and answers /healthz and
/readyz; its routes and consumers arrive with its issue."""

from __future__ import annotations

from fastapi import FastAPI

from services.insurance import store
from shared.service import Runtime, build_app, serve
from shared.settings import Settings, service_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or service_settings("insurance")
    runtime = Runtime(settings, metadata=store.Base.metadata, tables=store.messaging)
    return build_app(
        runtime,
        title="Sandbank insurance",
        description="Insurance products, quotes, policies and claims paid out through accounts.",
        routers=[],
    )


def main() -> None:
    serve(create_app, service_settings("insurance"))


if __name__ == "__main__":
    main()
