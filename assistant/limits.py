"""Request limits: a per-key token bucket, a body-size cap (ASGI middleware) and a timeout for slow work."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.errors import ApiError, error_response

T = TypeVar("T")


class RateLimiter:
    """A token bucket per name: `per_minute` tokens refill evenly; a full bucket allows that many at once."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, name: str) -> float:
        """Spend one token; 0.0 when allowed, else the seconds until a token is available."""
        with self._lock:
            now = self.clock()
            tokens, then = self._buckets.get(name, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - then) * self.rate)
            if tokens >= 1.0:
                self._buckets[name] = (tokens - 1.0, now)
                return 0.0
            self._buckets[name] = (tokens, now)
            return (1.0 - tokens) / self.rate


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    """Answer 413 in the common error shape when a request body is larger than its route allows.

    `limit_for(path)` gives the limit in bytes. A declared Content-Length is checked before
    anything is read; a body without one is read up to the limit and then handed on.
    """

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > limit
            except ValueError:
                too_large = False
            if too_large:
                await self._refuse(scope, receive, send, limit)
                return
            await self.app(scope, receive, send)
            return
        try:
            messages = await self._read_bounded(receive, limit)
        except _TooLarge:
            await self._refuse(scope, receive, send, limit)
            return
        replay = iter(messages)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replayed, send)

    @staticmethod
    async def _read_bounded(receive: Receive, limit: int) -> list[Message]:
        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            size += len(message.get("body", b""))
            if size > limit:
                raise _TooLarge
            if not message.get("more_body", False):
                return messages

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = error_response(
            413, "request_too_large", f"The request body is larger than the limit of {limit:,} bytes."
        )
        await response(scope, receive, send)


async def run_with_timeout(timeout_s: float, fn: Callable[..., T], *args: Any) -> T:
    """Run blocking `fn(*args)` in a worker thread; 503 if it takes longer than `timeout_s`.

    The thread cannot be stopped and finishes in the background; the client is answered at once.
    """
    try:
        with anyio.fail_after(timeout_s):
            return await anyio.to_thread.run_sync(lambda: fn(*args), abandon_on_cancel=True)
    except TimeoutError as exc:
        raise ApiError(
            503, "timeout", f"The request took longer than {timeout_s:g} s; try again or narrow the question."
        ) from exc
