"""Static pages: the agents' side panel at /, the manage page, the API docs and the Chatwoot dashboard app."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.exceptions import HTTPException

from assistant.headers import CSP, DOCS_POLICY, PAGE_POLICY

WEB_DIR = Path(__file__).parent / "web"
# Swagger UI's files ship in the fastapi-offline wheel, so /docs works without a CDN or network.
SWAGGER_DIR = Path(fastapi_offline.__file__).parent / "static"
SWAGGER_FILES = ("swagger-ui-bundle.js", "swagger-ui.css")
# The Chatwoot dashboard app lives in the repository's integrations/ folder (with the renderer it shares
# with the Zendesk app); served from here, its calls to /v1/suggest are same-origin and need no CORS.
INTEGRATIONS_DIR = Path(__file__).resolve().parents[1] / "integrations"
CHATWOOT_FILES = {
    "index.html": "chatwoot",
    "main.js": "chatwoot",
    "conversation.js": "chatwoot",
    "app.css": "chatwoot",
    "suggestions.js": "shared",
}
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}


def _serve(path: Path, policy: str = PAGE_POLICY) -> FileResponse:
    media_type = MEDIA_TYPES.get(path.suffix)
    if media_type is None or not path.is_file():
        raise HTTPException(404, f"No page asset is called {path.name}.")
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "no-cache", CSP: policy})


def web_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def panel() -> FileResponse:
        return _serve(WEB_DIR / "index.html")

    @router.get("/manage")
    def manage() -> FileResponse:
        return _serve(WEB_DIR / "manage.html")

    # FastAPI's own /docs starts Swagger UI with an inline script from a CDN; ours is files only.
    @router.get("/docs")
    def docs() -> FileResponse:
        return _serve(WEB_DIR / "docs.html", DOCS_POLICY)

    @router.get("/static/docs/{name}")
    def swagger_asset(name: str) -> FileResponse:
        if name not in SWAGGER_FILES:
            raise HTTPException(404, f"No page asset is called {name}.")
        return _serve(SWAGGER_DIR / name, DOCS_POLICY)

    # Framed by Chatwoot: allowed only for the origins in frame_ancestors, like every page of ours.
    @router.get("/apps/chatwoot/")
    def chatwoot_app() -> FileResponse:
        return _serve(INTEGRATIONS_DIR / "chatwoot" / "index.html")

    @router.get("/apps/chatwoot/{name}")
    def chatwoot_asset(name: str) -> FileResponse:
        folder = CHATWOOT_FILES.get(name)
        if folder is None:
            raise HTTPException(404, f"No page asset is called {name}.")
        return _serve(INTEGRATIONS_DIR / folder / name)

    # One flat folder: a name with a slash never matches this route, so nothing outside it is served.
    @router.get("/static/{name}")
    def asset(name: str) -> FileResponse:
        return _serve(WEB_DIR / name)

    return router
