"""Every setting is documented, and the environment overrides defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.settings import BUNDLED_MODEL, Settings


def test_every_setting_has_a_description() -> None:
    missing = [name for name, field in Settings.model_fields.items() if not (field.description or "").strip()]
    assert missing == []


def test_environment_variables_override_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(tmp_path / "idx"))
    monkeypatch.setenv("ASSISTANT_CHUNK_MAX_TOKENS", "120")
    settings = Settings()
    assert settings.index_dir == tmp_path / "idx" and settings.chunk_max_tokens == 120


def test_bundled_model_name_resolves_to_the_assembled_folder(tmp_path: Path) -> None:
    settings = Settings(cache_dir=tmp_path)
    assert settings.model_path_or_name == str(tmp_path / "models" / BUNDLED_MODEL)
    assert Settings(embedding_model="intfloat/multilingual-e5-small").model_path_or_name == (
        "intfloat/multilingual-e5-small"
    )


def test_an_int8_index_is_refused_by_an_fp32_service_and_back(corpus, store, embedder, cache) -> None:
    """int8 vectors are not comparable with fp32 ones: switching ASSISTANT_EMBEDDING_INT8 must force a rebuild."""
    from assistant.components import embedder_identity
    from assistant.retriever import ModelMismatch
    from assistant.service import KnowledgeService, ServiceConfig
    from ingest.sync import sync_folder
    from tests.fakes import FakeEmbedder

    fp32, int8 = embedder_identity(Settings()), embedder_identity(Settings(embedding_int8=True))
    assert int8 == fp32 + "+int8"
    sync_folder(corpus, store, FakeEmbedder(embedder.dim, model_id=int8), cache)
    with pytest.raises(ModelMismatch, match=r"\+int8"):
        KnowledgeService(store, FakeEmbedder(embedder.dim, model_id=fp32), ServiceConfig(0.4)).load()
    KnowledgeService(store, FakeEmbedder(embedder.dim, model_id=int8), ServiceConfig(0.4)).load()


def test_the_database_url_must_be_postgresql() -> None:
    assert Settings(database_url=" postgresql://app@db/assistant ").database_url == "postgresql://app@db/assistant"
    with pytest.raises(ValueError, match="postgresql://"):
        Settings(database_url="mysql://app@db/assistant")


def test_reading_settings_loads_neither_faiss_nor_the_answerer() -> None:
    import subprocess
    import sys

    code = "import sys, assistant.settings; print(sorted(m for m in ('faiss', 'assistant.answer') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_ingest_and_service_defaults_are_the_settings_defaults(tmp_path: Path) -> None:
    import inspect

    from assistant.condense import LLMCondenser
    from assistant.dictionary import DICTD_DIR
    from assistant.llm_answer import LLMAnswerer
    from assistant.llm_draft import LLMDrafter
    from assistant.reranker import CrossEncoderReranker
    from assistant.retriever import Retriever
    from assistant.service import ServiceConfig
    from ingest.store.backends import DEFAULT_VECTORS
    from ingest.store.base import Connection
    from ingest.store.faiss_index import FaissParams
    from ingest.store.layout import IndexStore
    from ingest.sync import SyncOptions

    settings, sync, service = Settings(), SyncOptions(), ServiceConfig()
    assert tuple(settings.languages) == sync.languages == service.languages
    assert (settings.chunk_max_tokens, settings.chunk_min_tokens) == (sync.chunk_max_tokens, sync.chunk_min_tokens)
    assert (settings.max_file_bytes, settings.parse_timeout_s) == (sync.max_file_bytes, sync.parse_timeout_s)
    assert settings.keep_versions == sync.keep_versions
    assert settings.keyword_weight == service.keyword_weight
    assert settings.min_confidence == service.min_confidence
    assert settings.vector_approximate_above == FaissParams().approximate_above
    assert settings.translated_keyword_weight == service.translated_keyword_weight
    assert settings.translated_keyword_weight == inspect.signature(Retriever).parameters["translated_weight"].default
    assert settings.dictionary_dir == DICTD_DIR
    connection = Connection(tmp_path)
    assert (settings.qdrant_collection, settings.qdrant_shards, settings.qdrant_replicas) == (
        connection.name,
        connection.shards,
        connection.replicas,
    )
    assert settings.vector_backend == DEFAULT_VECTORS == IndexStore(tmp_path).vector_backend
    assert settings.query_batch_size == service.query_batch_size
    assert (settings.llm_timeout_s, settings.condense_timeout_s, settings.llm_min_support) == (
        service.llm_timeout_s,
        service.condense_timeout_s,
        service.llm_min_support,
    )
    for llm in (LLMAnswerer, LLMDrafter):
        parameters = inspect.signature(llm).parameters
        assert (parameters["timeout_s"].default, parameters["min_support"].default) == (
            settings.llm_timeout_s,
            settings.llm_min_support,
        )
    assert inspect.signature(LLMCondenser).parameters["timeout_s"].default == settings.condense_timeout_s
    assert inspect.signature(CrossEncoderReranker).parameters["candidates"].default == settings.reranker_candidates
    assert inspect.signature(Retriever).parameters["candidates"].default == service.candidates
