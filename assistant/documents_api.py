"""Routes that open a cited document: the original file, and a passage view that scrolls to the passage."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.params import Depends
from fastapi.responses import FileResponse, HTMLResponse

from assistant.auth import Caller, CurrentCaller
from assistant.errors import ApiError
from assistant.retriever import Hit, can_see
from assistant.service import KnowledgeService


def documents_router(service: KnowledgeService, dependencies: Sequence[Depends]) -> APIRouter:
    """Document routes; `dependencies` must include the role check that identifies the caller."""
    router = APIRouter(dependencies=list(dependencies))

    def _document_path(source: str, who: Caller) -> tuple[Path | None, list[Hit]]:
        retriever = service.retriever()
        manifest = retriever.index.manifest
        record = manifest.documents.get(source)
        # A restricted document looks exactly like a missing one to a caller outside its groups.
        if record is None or not can_see(record.groups, who.groups):
            raise ApiError(404, "document_not_found", f"No indexed document is called {source}.")
        chunks = sorted((c for c in retriever.index.chunks.values() if c.source == source), key=lambda c: c.ordinal)
        path: Path | None = Path(manifest.root) / source
        if record.origin:
            # A folder source keeps its own root; other sources' items live at their URL, not on disk.
            folder = manifest.sources.get(record.origin, {}).get("state", {}).get("root")
            path = Path(folder) / record.item_id if folder else None
        return path, [Hit(c, 0.0) for c in chunks]

    @router.get("/v1/documents/{source:path}", summary="The original document file")
    def document(source: str, who: CurrentCaller) -> FileResponse:
        path, _ = _document_path(source, who)
        if path is None or not path.is_file():
            raise ApiError(404, "document_missing", f"{source} is indexed but no longer on disk.")
        return FileResponse(path, filename=Path(source).name, content_disposition_type="inline")

    @router.get(
        "/v1/view/{source:path}",
        response_class=HTMLResponse,
        summary="The document's passages, each addressable as #chunk-<id>",
    )
    def view(source: str, who: CurrentCaller) -> HTMLResponse:
        _, hits = _document_path(source, who)
        title = html.escape(hits[0].chunk.title or source) if hits else html.escape(source)
        rows, section = [], None
        for hit in hits:
            chunk = hit.chunk
            if chunk.section != section and chunk.section:
                rows.append(f"<h2>{html.escape(chunk.section)}</h2>")
            section = chunk.section
            rows.append(f'<p id="chunk-{chunk.chunk_id}">{html.escape(chunk.text)}</p>')
        raw = f"/v1/documents/{quote(source)}"
        page = (
            "<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'>"
            f"<title>{title}</title><style>body{{font:16px/1.5 system-ui,sans-serif;max-width:46em;"
            "margin:1em auto;padding:0 1em}p{white-space:pre-wrap}:target{background:#fff3b0;"
            "outline:2px solid #e0b000}</style>"
            f"<h1>{title}</h1><p><a href='{raw}'>Open the original file</a></p>" + "".join(rows)
        )
        return HTMLResponse(page)

    return router
