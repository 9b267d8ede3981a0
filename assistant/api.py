"""FastAPI shell over the knowledge service: ask, search, documents, health, readiness and metrics."""

from __future__ import annotations

import html
import logging
import time
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.answer import Citation
from assistant.retriever import Filters, Hit
from assistant.schemas import AskIn, AskOut, CitationOut, ErrorOut, FiltersIn, SearchIn, SearchOut
from assistant.service import KnowledgeService
from assistant.settings import Settings
from ingest.store.layout import IndexError_

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error the client caused or must know about; rendered in the common error shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str) -> JSONResponse:
    body = ErrorOut.model_validate({"error": {"status": status, "code": code, "message": message}})
    return JSONResponse(body.model_dump(), status_code=status)


def document_url(hit: Hit) -> str:
    """PDFs open at their page in the browser's viewer; other formats in our passage viewer."""
    source = quote(hit.chunk.source)
    if hit.chunk.source.lower().endswith(".pdf") and hit.chunk.page:
        return f"/v1/documents/{source}#page={hit.chunk.page}"
    return f"/v1/view/{source}#chunk-{hit.chunk.chunk_id}"


def citation_out(citation: Citation) -> CitationOut:
    chunk = citation.hit.chunk
    return CitationOut(
        n=citation.n,
        source=chunk.source,
        title=chunk.title,
        page=chunk.page,
        section=chunk.section,
        language=chunk.language,
        text=chunk.text,
        highlight=citation.highlight,
        score=round(citation.hit.score, 6),
        url=document_url(citation.hit),
    )


def to_filters(filters: FiltersIn | None) -> Filters:
    if filters is None:
        return Filters()
    return Filters(filters.source_prefix, tuple(filters.languages), tuple(filters.tags))


def _validate_text(text: str, field: str, settings: Settings) -> str:
    text = text.strip()
    if not text:
        raise ApiError(422, "empty_" + field, f"The {field} is empty; type what you are looking for.")
    if len(text) > settings.max_question_chars:
        raise ApiError(
            422,
            f"{field}_too_long",
            f"The {field} has {len(text)} characters; the limit is {settings.max_question_chars}.",
        )
    return text


def _validate_top_k(top_k: int, settings: Settings) -> int:
    if not 1 <= top_k <= settings.max_top_k:
        raise ApiError(422, "top_k_out_of_range", f"top_k must be between 1 and {settings.max_top_k}.")
    return top_k


def run_ask(service: KnowledgeService, settings: Settings, body: AskIn) -> AskOut:
    """The /v1/ask response; the CLI prints the same body with `--json`."""
    question = _validate_text(body.question, "question", settings)
    top_k = _validate_top_k(body.top_k, settings)
    answer, version = service.ask(question, top_k, to_filters(body.filters))
    return AskOut(
        answer=answer.text,
        found=answer.found,
        language=answer.language,
        citations=[citation_out(c) for c in answer.citations],
        related=[citation_out(c) for c in answer.related],
        index_version=version,
        timings_ms=answer.timings_ms,
    )


def run_search(service: KnowledgeService, settings: Settings, body: SearchIn) -> SearchOut:
    query = _validate_text(body.query, "query", settings)
    top_k = _validate_top_k(body.top_k, settings)
    result, version = service.search(query, top_k, to_filters(body.filters))
    hits = [citation_out(Citation(n, hit, None)) for n, hit in enumerate(result.hits, start=1)]
    return SearchOut(hits=hits, index_version=version, timings_ms=result.timings_ms)


def create_app(service: KnowledgeService, settings: Settings) -> FastAPI:
    app = FastAPI(
        title="Support knowledge assistant",
        version="1",
        description=("Cited answers from the company's own documents, in Finnish, Polish, Thai and English."),
    )
    registry = CollectorRegistry()
    requests = Counter("assistant_requests", "HTTP requests", ["route", "status"], registry=registry)
    latency = Histogram(
        "assistant_request_seconds",
        "Request latency",
        ["route"],
        registry=registry,
        buckets=(0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5),
    )
    answers = Counter("assistant_answers", "Answers by outcome", ["found"], registry=registry)
    app.state.service = service
    app.state.settings = settings

    @app.middleware("http")
    async def measure(request: Request, call_next):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        name = getattr(route, "path", "unmatched")
        requests.labels(name, str(response.status_code)).inc()
        latency.labels(name).observe(time.perf_counter() - started)
        return response

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else first.get("msg", "")
        return error_response(422, "invalid_request", message or "The request body is not valid.")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(IndexError_)
    async def index_error(_: Request, exc: IndexError_) -> JSONResponse:
        return error_response(503, "index_unavailable", str(exc))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return error_response(500, "internal_error", "Something went wrong on our side; try again.")

    @app.get("/healthz", summary="The process is up")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="The index and model are loaded")
    def readyz() -> JSONResponse:
        if not service.ready:
            return error_response(503, "not_ready", "The index or model is still loading.")
        retriever = service.retriever()
        return JSONResponse(
            {
                "status": "ready",
                "index_version": retriever.index.version,
                "chunks": len(retriever.index.chunks),
            }
        )

    @app.get("/metrics", summary="Prometheus metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/v1/ask", response_model=AskOut, responses={422: {"model": ErrorOut}})
    def ask(body: AskIn) -> AskOut:
        response = run_ask(service, settings, body)
        answers.labels(str(response.found).lower()).inc()
        return response

    @app.post("/v1/search", response_model=SearchOut, responses={422: {"model": ErrorOut}})
    def search(body: SearchIn) -> SearchOut:
        return run_search(service, settings, body)

    def _document_path(source: str) -> tuple[Path, list[Hit]]:
        retriever = service.retriever()
        manifest = retriever.index.manifest
        if source not in manifest.documents:
            raise ApiError(404, "document_not_found", f"No indexed document is called {source}.")
        chunks = sorted((c for c in retriever.index.chunks.values() if c.source == source), key=lambda c: c.ordinal)
        return Path(manifest.root) / source, [Hit(c, 0.0) for c in chunks]

    @app.get("/v1/documents/{source:path}", summary="The original document file")
    def document(source: str) -> FileResponse:
        path, _ = _document_path(source)
        if not path.is_file():
            raise ApiError(404, "document_missing", f"{source} is indexed but no longer on disk.")
        return FileResponse(path, filename=Path(source).name, content_disposition_type="inline")

    @app.get(
        "/v1/view/{source:path}",
        response_class=HTMLResponse,
        summary="The document's passages, each addressable as #chunk-<id>",
    )
    def view(source: str) -> HTMLResponse:
        _, hits = _document_path(source)
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

    return app
