"""A careful HTTP client for sources: no internal addresses unless allowed, bounded size and time, polite pace.

The address check happens when the connection is made, on the very addresses connected to, so a
name that resolves to a public address for a check and a private one for the request (DNS
rebinding) cannot slip through. Redirects are followed by hand so every hop is checked the same way.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from ingest.sources.base import (
    BadResponse,
    BlockedAddress,
    NotFound,
    ResponseTooLarge,
    SourceTimeout,
    SourceUnauthorized,
    SourceUnavailable,
)

log = logging.getLogger(__name__)
REDIRECTS = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "support-assistant-sync/1.0"
# A server asking us to slow down is waited for this long at most, once per request.
MAX_RETRY_AFTER_S = 30.0


@dataclass(frozen=True)
class FetchPolicy:
    """Limits for one source's requests. `allow_private` lets it reach loopback and private networks."""

    allow_private: bool = False
    timeout_s: float = 20.0
    max_bytes: int = 20_000_000
    max_redirects: int = 5
    delay_s: float = 0.0  # pause between two requests, so a site is not hammered


@dataclass
class Response:
    url: str  # after redirects
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes
    redirected_from: list[str] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def safe_url(url: str) -> str:
    """The URL for logs and messages: no user name, password or query string (tokens live there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def is_internal(address: str) -> bool:
    """Loopback, private, link-local, multicast, reserved or unspecified (IPv4-mapped IPv6 too)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified
    )


def guarded_connection(
    address: tuple[str, int], timeout: float | None, source_address: Any = None, *, allow_private: bool
) -> socket.socket:
    """socket.create_connection that refuses internal addresses, checking every address the name resolves to."""
    host, port = address
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise SourceUnavailable(f"{host} could not be resolved: {exc.strerror or exc}") from exc
    if not allow_private:
        for *_, sockaddr in infos:
            if is_internal(str(sockaddr[0])):
                raise BlockedAddress(
                    f"{host} resolves to the internal address {sockaddr[0]}; set allow_private = true "
                    "on the source if it really is an internal server"
                )
    error: OSError | None = None
    for family, kind, proto, _, sockaddr in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error or OSError(f"no address for {host}")


class Fetcher:
    """GET with conditional headers over kept-alive connections; one per source run, closed after it.

    `headers` (credentials) are sent only to the origin of `credentials_for`, never elsewhere.
    """

    def __init__(
        self, policy: FetchPolicy, headers: dict[str, str] | None = None, credentials_for: str | None = None
    ) -> None:
        self.policy = policy
        self._headers = dict(headers or {})
        self._credential_origin = _origin(credentials_for) if credentials_for else None
        self._connections: dict[tuple[str, str, int], http.client.HTTPConnection] = {}
        self._last_request = 0.0
        self.delay_s = policy.delay_s  # robots.txt may ask for more
        self.requests = 0

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()

    def get(
        self,
        url: str,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
        validators: dict[str, tuple[str | None, str | None]] | None = None,
    ) -> Response:
        """The response to GET `url` after redirects, whatever its status (304, 404... are the caller's to read).

        `etag`/`last_modified` are sent to `url`; `validators` maps where it may redirect to the
        (ETag, Last-Modified) remembered for that URL, so a redirected page can answer 304 too.

        Raises:
            BlockedAddress, SourceUnavailable, SourceTimeout, ResponseTooLarge, BadResponse.
        """
        seen: list[str] = []
        for _ in range(self.policy.max_redirects + 1):
            headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
            if accept:
                headers["Accept"] = accept
            # Credentials go to the configured server only, never to where it redirects or links.
            if self._credential_origin is not None and _origin(url) == self._credential_origin:
                headers.update(self._headers)
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
            response = self._request(url, headers)
            location = response.header("location")
            if response.status not in REDIRECTS or not location:
                response.redirected_from = seen
                return response
            seen.append(url)
            url = urljoin(url, location.strip())
            # A validator belongs to the URL it came from.
            etag, last_modified = (validators or {}).get(url, (None, None))
        raise BadResponse(f"{safe_url(url)} redirects more than {self.policy.max_redirects} times")

    def _request(self, url: str, headers: dict[str, str]) -> Response:
        for attempt in range(2):
            self._pace()
            try:
                response = self._exchange(url, headers)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                # A kept-alive connection the server had closed: one fresh try.
                self._drop(url)
                if attempt:
                    raise SourceUnavailable(f"{safe_url(url)}: the server closed the connection") from exc
                continue
            retry_after = _retry_after(response)
            if attempt == 0 and retry_after is not None:
                log.info("%s asks to wait %.0f s (HTTP %d)", safe_url(url), retry_after, response.status)
                time.sleep(retry_after)
                continue
            return response
        raise AssertionError("unreachable")

    def _pace(self) -> None:
        wait = self._last_request + self.delay_s - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_request = time.monotonic()

    def _drop(self, url: str) -> None:
        connection = self._connections.pop(_origin(url), None)
        if connection is not None:
            connection.close()

    def _connection(self, url: str) -> tuple[http.client.HTTPConnection, str]:
        parts = urlsplit(url)
        key = _origin(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BadResponse(f"{safe_url(url)} is not an http(s) URL")
        connection = self._connections.get(key)
        if connection is None:
            timeout = self.policy.timeout_s
            if parts.scheme == "https":
                connection = http.client.HTTPSConnection(
                    parts.hostname, key[2], timeout=timeout, context=ssl.create_default_context()
                )
            else:
                connection = http.client.HTTPConnection(parts.hostname, key[2], timeout=timeout)
            allow = self.policy.allow_private

            def connect(address: tuple[str, int], timeout: float | None, source: Any = None) -> socket.socket:
                return guarded_connection(address, timeout, source, allow_private=allow)

            connection._create_connection = connect  # type: ignore[attr-defined]
            self._connections[key] = connection
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        return connection, target

    def _exchange(self, url: str, headers: dict[str, str]) -> Response:
        connection, target = self._connection(url)
        deadline = time.monotonic() + self.policy.timeout_s
        self.requests += 1
        try:
            connection.request("GET", target, headers=headers)
            raw = connection.getresponse()
            names = {k.lower(): v for k, v in raw.getheaders()}
            body = self._read_body(raw, names, url, deadline)
        except TimeoutError as exc:
            self._drop(url)
            raise SourceTimeout(f"{safe_url(url)} did not answer within {self.policy.timeout_s:.0f} s") from exc
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            raise
        except (ResponseTooLarge, BlockedAddress, SourceUnavailable):
            self._drop(url)
            raise
        except (OSError, http.client.HTTPException) as exc:
            self._drop(url)
            raise SourceUnavailable(f"{safe_url(url)} could not be fetched: {exc}") from exc
        log.debug("GET %s -> %d (%d bytes)", safe_url(url), raw.status, len(body))
        return Response(url, raw.status, names, body)

    def _read_body(self, raw: http.client.HTTPResponse, headers: dict[str, str], url: str, deadline: float) -> bytes:
        limit = self.policy.max_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            size_mb = int(declared) / 1e6
            raise ResponseTooLarge(f"{safe_url(url)} is {size_mb:.1f} MB, over the {limit / 1e6:.1f} MB limit")
        parts: list[bytes] = []
        size = 0
        # Each read waits at most timeout_s (the socket's timeout); the deadline bounds them all.
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError
            block = raw.read(65536)
            if not block:
                return b"".join(parts)
            size += len(block)
            if size > limit:
                raise ResponseTooLarge(f"{safe_url(url)} is larger than the {limit / 1e6:.1f} MB limit")
            parts.append(block)


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or (443 if scheme == "https" else 80)


def _retry_after(response: Response) -> float | None:
    """Seconds to wait before one retry of a 429 or 503 that says how long, if it is reasonable."""
    if response.status not in (429, 503):
        return None
    value = (response.header("retry-after") or "").strip()
    if not value.isdigit() or int(value) > MAX_RETRY_AFTER_S:
        return None
    return float(value)


def get_json(fetcher: Fetcher, url: str) -> Any:
    """The JSON body of a 200 answer, with every other outcome typed for the sync report.

    Raises:
        SourceUnauthorized (401, 403), NotFound (404, 410), SourceUnavailable (429, 5xx, network),
        BadResponse (any other status, or a body that is not JSON).
    """
    response = fetcher.get(url, accept="application/json")
    status = response.status
    if status in (401, 403):
        raise SourceUnauthorized(f"{safe_url(url)} answered HTTP {status}: check the source's credentials")
    if status in (404, 410):
        raise NotFound(f"{safe_url(url)} answered HTTP {status}")
    if status == 429 or status >= 500:
        raise SourceUnavailable(f"{safe_url(url)} answered HTTP {status}")
    if status != 200:
        raise BadResponse(f"{safe_url(url)} answered HTTP {status}")
    try:
        return json.loads(response.body)
    except ValueError as exc:
        raise BadResponse(f"{safe_url(url)} did not answer with JSON: {exc}") from exc
