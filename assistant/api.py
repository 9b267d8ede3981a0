"""FastAPI shell over the knowledge service: ask, search, documents, health, readiness and metrics."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.answer import Answer, Citation
from assistant.auth import OPEN_CALLER, CurrentCaller, build_authenticator
from assistant.components import build_conversation_store, build_feedback_log
from assistant.conversations import ConversationStore, Turn
from assistant.conversations_api import conversations_router
from assistant.documents_api import documents_router
from assistant.errors import error_response
from assistant.exceptions import AssistantError
from assistant.feedback_api import feedback_router
from assistant.headers import SecurityHeaders
from assistant.history_search import passage_key
from assistant.ingest_job import IngestJob
from assistant.limits import BodySizeLimit, run_with_timeout
from assistant.manage_api import manage_router
from assistant.responses import Groups, answer_out, citation_out, to_filters
from assistant.schemas import AskIn, AskOut, ErrorOut, SearchIn, SearchOut
from assistant.service import KnowledgeService
from assistant.session_api import session_router
from assistant.settings import Settings
from assistant.sources_api import install_sources
from assistant.suggest_api import suggest_router
from assistant.validation import validate_text, validate_top_k
from assistant.web import web_router

log = logging.getLogger(__name__)
UPLOAD_PATH = "/v1/manage/upload"
# Upload bodies may carry several files of up to max_file_bytes each; this many fit in one request.
UPLOAD_FILES_PER_REQUEST = 20
# Earlier turns a follow-up is read against (the resolution itself uses the last one).
HISTORY_TURNS = 5


class Conversation:
    """The conversation a request continues (or starts), read before the search and extended after it."""

    def __init__(self, store: ConversationStore | None, caller: str, conversation_id: str | None) -> None:
        self.store, self.caller = store, caller
        self.history: list[Turn] = []
        self.id: str | None = None
        if store is None:
            return
        if conversation_id is None:
            self.id = store.start(caller)
        else:
            self.history = store.history(caller, conversation_id, HISTORY_TURNS)
            self.id = conversation_id

    def remember(self, question: str, answer: Answer) -> tuple[str, str] | None:
        """Store the turn; (conversation_id, answer_id), or None without a store (the CLI)."""
        if self.store is None or self.id is None:
            return None
        cited = tuple(passage_key(c.hit) for c in answer.citations)
        turn = Turn(question, answer.searched_for or question, answer.language, cited)
        return self.id, self.store.add_turn(self.caller, self.id, turn)


def run_ask(
    service: KnowledgeService,
    settings: Settings,
    body: AskIn,
    groups: Groups = None,
    conversations: ConversationStore | None = None,
    caller: str = OPEN_CALLER.name,
) -> AskOut:
    """The /v1/ask response; the CLI prints the same body with `--json` (without a conversation)."""
    question = validate_text(body.question, "question", settings)
    top_k = validate_top_k(body.top_k, settings)
    conversation = Conversation(conversations, caller, body.conversation_id)
    answer, version = service.ask(question, top_k, to_filters(body.filters, groups), conversation.history)
    return answer_out(answer, version, conversation.remember(question, answer))


def stream_ask(
    service: KnowledgeService,
    settings: Settings,
    body: AskIn,
    groups: Groups = None,
    conversations: ConversationStore | None = None,
    caller: str = OPEN_CALLER.name,
) -> Iterator[str]:
    """Server-sent events: `draft` events with text as the model writes, then one `answer` event
    holding the checked /v1/ask body, which replaces the draft."""
    question = validate_text(body.question, "question", settings)
    top_k = validate_top_k(body.top_k, settings)
    conversation = Conversation(conversations, caller, body.conversation_id)
    filters = to_filters(body.filters, groups)
    pieces, result, version = service.ask_stream(question, top_k, filters, conversation.history)

    def events() -> Iterator[str]:
        for piece in pieces:
            if isinstance(piece, Answer):
                piece.timings_ms = {**result.timings_ms, **piece.timings_ms}
                out = answer_out(piece, version, conversation.remember(question, piece))
                yield f"event: answer\ndata: {out.model_dump_json()}\n\n"
            else:
                yield f"event: draft\ndata: {json.dumps({'text': piece}, ensure_ascii=False)}\n\n"

    return events()


def run_search(service: KnowledgeService, settings: Settings, body: SearchIn, groups: Groups = None) -> SearchOut:
    query = validate_text(body.query, "query", settings)
    top_k = validate_top_k(body.top_k, settings)
    result, version = service.search(query, top_k, to_filters(body.filters, groups))
    hits = [citation_out(Citation(n, hit, None)) for n, hit in enumerate(result.hits, start=1)]
    return SearchOut(hits=hits, index_version=version, timings_ms=result.timings_ms)


def create_app(service: KnowledgeService, settings: Settings) -> FastAPI:
    """The HTTP app. Raises InsecureSettings when the settings are unsafe for production."""
    auth = build_authenticator(settings)
    # Who may call what, in one place: agents query and read documents, managers also manage.
    agent, manager = auth.require("agent"), auth.require("manager")
    app = FastAPI(
        title="Support knowledge assistant",
        version="1",
        description=("Cited answers from the company's own documents, in Finnish, Polish, Thai and English."),
        # /docs is served by web_router from local files under a strict CSP; ReDoc would need a CDN.
        docs_url=None,
        redoc_url=None,
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
    app.state.feedback = feedback = build_feedback_log(settings, service.store.root)
    app.state.conversations = conversations = build_conversation_store(settings, service.store.root)
    app.state.ingest = IngestJob(service, settings)
    app.state.auth = auth
    upload_limit = settings.max_file_bytes * UPLOAD_FILES_PER_REQUEST + settings.max_request_bytes
    app.add_middleware(
        BodySizeLimit,
        limit_for=lambda path: upload_limit if path == UPLOAD_PATH else settings.max_request_bytes,
    )
    # Outside the routes and the size limit, so a 413 carries the headers too.
    app.add_middleware(SecurityHeaders, origins=settings.frame_ancestors)

    @app.middleware("http")
    async def measure(request: Request, call_next):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        name = getattr(route, "path", "unmatched")
        requests.labels(name, str(response.status_code)).inc()
        latency.labels(name).observe(time.perf_counter() - started)
        return response

    # Every error raised on purpose (bad input, index or model unusable, upload refused) has its own status.
    @app.exception_handler(AssistantError)
    async def assistant_error(request: Request, exc: AssistantError) -> JSONResponse:
        if exc.status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc.message)
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else first.get("msg", "")
        return error_response(422, "invalid_request", message or "The request body is not valid.")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, "http_error", str(exc.detail))

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
        # No counts here: the route is open, and a count would include restricted documents.
        # Managers see per-document counts under /v1/manage/documents.
        body: dict[str, object] = {"status": "ready", "index_version": service.retriever().index.version}
        backend = getattr(service.embedder, "backend", None)
        if backend:
            body["embedding_backend"] = backend
        if service.last_error:
            body["error"] = service.last_error
        return JSONResponse(body)

    @app.get("/metrics", summary="Prometheus metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    timeout = settings.request_timeout_s
    query_errors: dict[int | str, dict[str, object]] = {c: {"model": ErrorOut} for c in (401, 422, 429, 503)}
    # An ask may also name a conversation that is not (or no longer) there.
    ask_errors: dict[int | str, dict[str, object]] = {**query_errors, 404: {"model": ErrorOut}}

    @app.post("/v1/ask", response_model=AskOut, responses=ask_errors, dependencies=[Depends(agent)])
    async def ask(body: AskIn, caller: CurrentCaller) -> AskOut:
        def work() -> AskOut:
            response = run_ask(service, settings, body, caller.groups, conversations, caller.name)
            answers.labels(str(response.found).lower()).inc()
            feedback.record_question(body.question, response.language, response.found, response.index_version)
            return response

        return await run_with_timeout(timeout, work)

    @app.post(
        "/v1/ask/stream",
        summary="Ask, streaming the answer as server-sent events",
        responses=ask_errors,
        dependencies=[Depends(agent)],
    )
    async def ask_stream(body: AskIn, caller: CurrentCaller) -> StreamingResponse:
        events = await run_with_timeout(
            timeout, stream_ask, service, settings, body, caller.groups, conversations, caller.name
        )
        return StreamingResponse(events, media_type="text/event-stream")

    @app.post("/v1/search", response_model=SearchOut, responses=query_errors, dependencies=[Depends(agent)])
    async def search(body: SearchIn, caller: CurrentCaller) -> SearchOut:
        return await run_with_timeout(timeout, run_search, service, settings, body, caller.groups)

    app.include_router(suggest_router(service, settings, feedback, [Depends(agent)]))
    app.include_router(documents_router(service, [Depends(agent)]))
    app.include_router(feedback_router(feedback, [Depends(agent)], conversations))
    app.include_router(conversations_router(conversations, [Depends(agent)]))
    app.include_router(manage_router(service, settings, feedback, app.state.ingest, [Depends(manager)]))
    app.include_router(session_router(auth, llm_answers=service.condenser is not None))
    install_sources(app, service, settings, registry, [Depends(manager)])
    app.include_router(web_router())

    return app
