"""Which requests reached an app's router: the lean path's tests (shared/lean.py) show a
plain request answered without FastAPI's routing, and every other one routed as before."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI


def count_routed(app: FastAPI) -> list[str]:
    """The list the paths of `app`'s routed requests are added to, from now on."""
    routed: list[str] = []
    inner = app.router.middleware_stack

    async def counted(scope: Any, receive: Any, send: Any) -> None:
        routed.append(scope["path"])
        await inner(scope, receive, send)

    app.router.middleware_stack = counted
    return routed
