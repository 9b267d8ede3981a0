"""Security headers on every response: a content policy per kind of page, framing, referrer and no sniffing."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The panel and the manage page: only our own files, no inline script, no eval.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"
)
# The passage viewer is escaped text and one stylesheet: it needs no script at all.
VIEW_POLICY = "default-src 'none'; style-src 'self'; img-src data:; base-uri 'none'; form-action 'none'"
# Swagger UI, served from our own /static/docs/ (it sets styles through the DOM, which CSP allows).
DOCS_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'"
)
# Every original document, whatever its type: a sandbox without allow-scripts runs no script, event
# handler, javascript: URL or meta refresh, and gives the page an opaque origin, so it could not
# read the assistant's cookies or storage either. Chromium's PDF viewer still opens inside it.
SANDBOX_POLICY = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
)
# JSON, server-sent events and errors: nothing to load, nothing to run.
API_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'"
CSP = "content-security-policy"


def frame_ancestors(origins: Sequence[str]) -> str:
    """The frame-ancestors directive: the configured origins, or 'none'."""
    return "frame-ancestors " + (" ".join(origins) if origins else "'none'")


def with_framing(policy: str, origins: Sequence[str]) -> str:
    return f"{policy}; {frame_ancestors(origins)}"


class SecurityHeaders:
    """ASGI middleware: every response gets nosniff, a referrer policy, a CSP and consistent framing rules.

    A route sets the policy of its kind of content (PAGE_POLICY, SANDBOX_POLICY, ...) in its
    Content-Security-Policy header; this adds frame-ancestors to it, or API_POLICY when a route set
    none. X-Frame-Options cannot list origins, so it is DENY without origins and absent with them.
    """

    def __init__(self, app: ASGIApp, origins: Sequence[str] = ()) -> None:
        self.app = app
        self.origins = tuple(origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.apply(MutableHeaders(scope=message))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def apply(self, headers: MutableHeaders) -> None:
        policy = headers.get(CSP) or API_POLICY
        if "frame-ancestors" not in policy:
            policy = with_framing(policy, self.origins)
        headers[CSP] = policy
        headers["X-Content-Type-Options"] = "nosniff"
        headers.setdefault("Referrer-Policy", "same-origin")
        if self.origins:
            if "x-frame-options" in headers:
                del headers["x-frame-options"]
        else:
            headers["X-Frame-Options"] = "DENY"
