"""A small HTTP/1.1 server on 127.0.0.1 whose pages and API routes a test changes while it runs."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

Handler = Callable[[dict[str, list[str]], dict[str, str]], tuple[int, dict[str, str], bytes]]


@dataclass
class Page:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: bool = True


@dataclass
class Hit:
    path: str
    status: int
    headers: dict[str, str]


class Site:
    """Routes by exact path (query ignored) to a Page or a handler; records every request it answers."""

    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}
        self.handlers: dict[str, Handler] = {}
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        site = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                status, headers, body = site.answer(self.path, {k.lower(): v for k, v in self.headers.items()})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Site:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def html(self, path: str, body: str, etag: bool = True, **headers: str) -> None:
        self.pages[path] = Page(200, body.encode(), {"Content-Type": "text/html; charset=utf-8", **headers}, etag)

    def file(self, path: str, body: bytes, content_type: str) -> None:
        self.pages[path] = Page(200, body, {"Content-Type": content_type})

    def redirect(self, path: str, to: str, status: int = 301) -> None:
        self.pages[path] = Page(status, b"", {"Location": to}, etag=False)

    def gone(self, path: str, status: int = 404) -> None:
        self.pages[path] = Page(status, b"not here", {"Content-Type": "text/plain"}, etag=False)

    def paths(self, status: int | None = None) -> list[str]:
        with self._lock:
            return [h.path for h in self.hits if status is None or h.status == status]

    def answer(self, target: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(target)
        status, out, body = self._answer(parts.path, parse_qs(parts.query), headers)
        with self._lock:
            self.hits.append(Hit(target, status, headers))
        return status, out, body

    def _answer(
        self, path: str, query: dict[str, list[str]], headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        if path in self.handlers:
            return self.handlers[path](query, headers)
        page = self.pages.get(path)
        if page is None:
            return 404, {"Content-Type": "text/plain"}, b"no such page"
        if not page.etag:
            return page.status, page.headers, page.body
        etag = '"' + hashlib.sha256(page.body).hexdigest()[:16] + '"'
        if headers.get("if-none-match") == etag:
            return 304, {"ETag": etag}, b""
        return page.status, {**page.headers, "ETag": etag}, page.body
