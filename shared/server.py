"""uvicorn's server for a Sandbank process, without its tenth-of-a-second tick."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from types import FrameType

import orjson
import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shared.aio import next_beat, within
from shared.problems import PROBLEM_JSON, Problem

# How often the server looks at its state while nothing asks it to stop: uvicorn refreshes
# its Date header (whole seconds) on this tick.
TICK_S = 1.0


class Server(uvicorn.Server):
    """uvicorn's main loop wakes ten times a second to see whether a signal asked it to
    stop: on an idle stack, a good share of each process's wake-ups. This one waits for
    that signal (which wakes the loop at once) and otherwise ticks once a second, as often
    as uvicorn's own loop refreshed the Date header, on the beat the process's other
    once-a-second loops share (`next_beat`): one wake-up for all of them."""

    _loop: asyncio.AbstractEventLoop | None = None
    _stop: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        ticks = 0
        should_exit = await self.on_tick(ticks)
        while not should_exit:
            # uvicorn's on_tick refreshes the headers every tenth tick of its own 0.1 s.
            ticks = (ticks + 10) % 864_000
            now = self._loop.time()
            with contextlib.suppress(TimeoutError):
                await within(self._stop.wait(), next_beat(now, TICK_S) - now)
            should_exit = await self.on_tick(ticks)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if self._loop is not None and self._stop is not None:
            # A signal handler runs in the loop's thread, between two of its steps.
            self._loop.call_soon_threadsafe(self._stop.set)


def run(config: uvicorn.Config) -> None:
    """`uvicorn.run` for one process of ours: serve until a signal, and exit as uvicorn
    does when the app did not start."""
    server = Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, refusing a request its parser cannot read (a control
    character in a header value, a broken request line or chunk) as every other refusal
    is: problem+json, where uvicorn answers it in plain text. No request was read, so its
    own id (if it sent one) is not known: the answer carries a new one, in the body and in
    X-Request-ID, as every answer does; the connection is closed as uvicorn closes it."""

    def send_400_response(self, msg: str) -> None:
        request_id = uuid.uuid4().hex
        problem = Problem(
            400, "malformed-request", "the request is not valid HTTP/1.1 (RFC 9112), so none of it was read"
        )
        body = orjson.dumps(problem.body() | {"request_id": request_id})
        head = [b"HTTP/1.1 400 Bad Request\r\n"]
        head += [b"%s: %s\r\n" % pair for pair in self.server_state.default_headers]
        head.append(b"x-request-id: %s\r\n" % request_id.encode())
        head.append(
            b"content-type: %s\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % (PROBLEM_JSON.encode(), len(body))
        )
        self.transport.write(b"".join(head) + body)
        self.transport.close()
