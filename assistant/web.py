"""The agents' side panel at / and the knowledge-manager page at /manage: static files, no build step."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.exceptions import HTTPException

WEB_DIR = Path(__file__).parent / "web"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
# Only our own scripts and styles run on these pages, even if a document's text slipped through unescaped.
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"
)
HEADERS = {"Cache-Control": "no-cache", "Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff"}


def _serve(name: str) -> FileResponse:
    path = WEB_DIR / name
    media_type = MEDIA_TYPES.get(path.suffix)
    if media_type is None or not path.is_file():
        raise HTTPException(404, f"No page asset is called {name}.")
    return FileResponse(path, media_type=media_type, headers=HEADERS)


def web_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def panel() -> FileResponse:
        return _serve("index.html")

    @router.get("/manage")
    def manage() -> FileResponse:
        return _serve("manage.html")

    # One flat folder: a name with a slash never matches this route, so nothing outside it is served.
    @router.get("/static/{name}")
    def asset(name: str) -> FileResponse:
        return _serve(name)

    return router
