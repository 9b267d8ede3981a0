"""Routes that open a cited document: the original file, and a passage view that scrolls to the passage."""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.params import Depends
from fastapi.responses import FileResponse, HTMLResponse

from assistant.auth import Caller, CurrentCaller
from assistant.document_files import file_headers, resolve_inside
from assistant.errors import ApiError
from assistant.headers import CSP, VIEW_POLICY
from assistant.retriever import Hit, can_see
from assistant.service import KnowledgeService

log = logging.getLogger(__name__)


def documents_router(service: KnowledgeService, dependencies: Sequence[Depends]) -> APIRouter:
    """Document routes; `dependencies` must include the role check that identifies the caller."""
    router = APIRouter(dependencies=list(dependencies))

    def _document(source: str, who: Caller) -> tuple[Path | None, str, list[Hit]]:
        """(folder, path inside it, passages) of a visible document; folder None for items that live at a URL."""
        retriever = service.retriever()
        manifest = retriever.index.manifest
        record = manifest.documents.get(source)
        # A restricted document looks exactly like a missing one to a caller outside its groups.
        if record is None or not can_see(record.groups, who.groups):
            raise ApiError(404, "document_not_found", f"No indexed document is called {source}.")
        chunks = sorted((c for c in retriever.index.chunks.values() if c.source == source), key=lambda c: c.ordinal)
        root: Path | None = Path(manifest.root)
        relative = source
        if record.origin:
            # A folder source keeps its own root; other sources' items live at their URL, not on disk.
            folder = manifest.sources.get(record.origin, {}).get("state", {}).get("root")
            root, relative = (Path(folder), record.item_id) if folder else (None, source)
        return root, relative, [Hit(c, 0.0) for c in chunks]

    @router.get("/v1/documents/{source:path}", summary="The original document file")
    def document(source: str, who: CurrentCaller) -> FileResponse:
        root, relative, _ = _document(source, who)
        path = resolve_inside(root, relative) if root is not None else None
        if path is None:
            if root is not None and ((root / relative).is_symlink() or (root / relative).exists()):
                log.warning("not serving %s: it leads outside the knowledge-base folder %s", source, root)
            raise ApiError(404, "document_missing", f"{source} is indexed but no longer on disk.")
        served = file_headers(Path(source).name)
        return FileResponse(path, media_type=served.media_type, headers=served.headers)

    @router.get(
        "/v1/view/{source:path}",
        response_class=HTMLResponse,
        summary="The document's passages, each addressable as #chunk-<id>",
    )
    def view(source: str, who: CurrentCaller) -> HTMLResponse:
        _, _, hits = _document(source, who)
        title = html.escape(hits[0].chunk.title or source) if hits else html.escape(source)
        rows, section = [], None
        for hit in hits:
            chunk = hit.chunk
            if chunk.section != section and chunk.section:
                rows.append(f"<h2>{html.escape(chunk.section)}</h2>")
            section = chunk.section
            rows.append(f'<p id="chunk-{html.escape(chunk.chunk_id)}">{html.escape(chunk.text)}</p>')
        raw = html.escape(f"/v1/documents/{quote(source)}")
        page = (
            "<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'>"
            f"<title>{title}</title><link rel=stylesheet href='/static/view.css'>"
            f"<h1>{title}</h1><p><a href='{raw}'>Open the original file</a></p>" + "".join(rows)
        )
        return HTMLResponse(page, headers={CSP: VIEW_POLICY})

    return router
