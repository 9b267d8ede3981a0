"""The live knowledge service: serves the published index version and switches to a new one without a restart."""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from langchain_core.language_models.chat_models import BaseChatModel

from assistant import defaults
from assistant.answer import DEFAULT_MIN_CONFIDENCE, Answer, ExtractiveAnswerer
from assistant.condense import LLMCondenser
from assistant.conversations import Turn
from assistant.dictionary import QueryTranslator
from assistant.history_search import TurnSearch, search_turn
from assistant.llm_answer import LLMAnswerer
from assistant.llm_draft import LLMDrafter
from assistant.query_batcher import QueryBatcher
from assistant.retriever import Filters, Fusion, Mode, QueryEmbeddingCache, Reranker, Retriever, SearchResult
from assistant.timing import ms_since
from ingest.embedder import Embedder
from ingest.store.layout import IndexCorrupt, IndexStore

log = logging.getLogger(__name__)
# One everyday question per language: the first real question in each language should not pay for
# loading its stemmer or word segmenter (0.7-1 s on this CPU), nor for the model's first runs.
WARM_UP_QUESTIONS = {
    "en": "How do I reset my password?",
    "fi": "Miten vaihdan salasanani?",
    "pl": "Jak zmienić hasło do konta?",
    "th": "เปลี่ยนรหัสผ่านได้อย่างไร",
}


class NoLoadableIndex(IndexCorrupt):
    """The live index version is corrupt and no earlier version on disk could be loaded either."""


@dataclass
class ServiceConfig:
    min_dense_score: float | None = None  # a fixed threshold; None = adaptive (min_confidence)
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    languages: tuple[str, ...] = defaults.LANGUAGES
    candidates: int = defaults.CANDIDATES
    llm_timeout_s: float = defaults.LLM_TIMEOUT_S
    condense_timeout_s: float = defaults.CONDENSE_TIMEOUT_S
    llm_min_support: float = defaults.LLM_MIN_SUPPORT
    fusion: Fusion = "score"
    keyword_weight: float = defaults.KEYWORD_WEIGHT
    query_batch_size: int = defaults.QUERY_BATCH_SIZE
    translator: QueryTranslator | None = None  # dictionary translations for keyword search; None = off
    translated_keyword_weight: float = defaults.TRANSLATED_KEYWORD_WEIGHT


class KnowledgeService:
    """Answers from one consistent index version per request; new versions load in the background.

    A request never waits for a reload and never sees a half-loaded index: the retriever reference
    is swapped in one assignment once the new version is fully loaded and verified.
    """

    def __init__(
        self,
        store: IndexStore,
        embedder: Embedder,
        config: ServiceConfig,
        chat_model: BaseChatModel | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.config = config
        self.reranker = reranker
        self.extractive = ExtractiveAnswerer(config.min_dense_score, config.min_confidence)
        self.answerer: ExtractiveAnswerer | LLMAnswerer = self.extractive
        self.condenser: LLMCondenser | None = None
        self.drafter: LLMDrafter | None = None
        if chat_model is not None:
            self.condenser = LLMCondenser(chat_model, config.condense_timeout_s)
            self.drafter = LLMDrafter(
                chat_model, embedder, timeout_s=config.llm_timeout_s, min_support=config.llm_min_support
            )
            self.answerer = LLMAnswerer(
                chat_model,
                self.extractive,
                embedder,
                timeout_s=config.llm_timeout_s,
                min_support=config.llm_min_support,
            )
        batched = QueryBatcher(embedder, config.query_batch_size) if config.query_batch_size > 1 else embedder
        self._query_cache = QueryEmbeddingCache(batched)
        self._retriever: Retriever | None = None
        self._loading: str | None = None
        self._failed: set[str] = set()
        self._lock = threading.Lock()
        self.last_error: str | None = None

    def load(self) -> None:
        """Load the live version now (blocking); raises if there is none or it is unusable.

        A corrupt live version is logged and the newest older version that loads is served
        instead, so one damaged file does not take the assistant down; /readyz reports it.

        Raises:
            IndexNotFound: nothing has been ingested.
            NoLoadableIndex: the live version is corrupt and no earlier version loads.
            IndexFormatMismatch, ModelMismatch: the index must be rebuilt for this software or model.
        """
        live = self.store.current_version()
        try:
            self._retriever = self._build(live)
            return
        except IndexCorrupt as exc:
            problem = str(exc)
        assert live is not None
        for version in self.store.finished_versions():
            if version >= live:
                continue
            try:
                self._retriever = self._build(version)
            except IndexCorrupt as exc:
                log.error("earlier index version %s is not loadable either: %s", version, exc)
                continue
            self._failed.add(live)
            self.last_error = f"{problem}; serving the earlier version {version} instead until a new ingest"
            log.error(self.last_error)
            return
        raise NoLoadableIndex(
            f"{problem}. No earlier version could be loaded instead; re-run `assistant ingest FOLDER` to rebuild it."
        )

    def _build(self, version: str | None) -> Retriever:
        index = self.store.load(version)
        # Before the swap, so the first question on a new version does not pay for it.
        index.keywords.warm()
        return Retriever(
            index,
            self.embedder,
            self.config.languages,
            self.config.candidates,
            self._query_cache,
            self.reranker,
            self.config.fusion,
            self.config.keyword_weight,
            self.config.translator,
            self.config.translated_keyword_weight,
        )

    def warm_up(self) -> None:
        """Search and compose an extractive answer once per configured language (never calls the LLM)."""
        retriever = self.retriever()
        for language in self.config.languages:
            question = WARM_UP_QUESTIONS.get(language)
            if question is not None:
                self.extractive.answer(question, retriever.search(question, 5))

    @property
    def ready(self) -> bool:
        return self._retriever is not None

    def retriever(self) -> Retriever:
        """The retriever of the newest loaded version; starts a background reload if CURRENT moved."""
        current = self._retriever
        if current is None:
            self.load()
            current = self._retriever
            assert current is not None
        live = self.store.current_version()
        if live and live != current.index.version:
            self._reload_in_background(live)
        return current

    def _reload_in_background(self, version: str) -> None:
        with self._lock:
            if self._loading == version or version in self._failed:
                return
            self._loading = version

        def work() -> None:
            try:
                self._retriever = self._build(version)
                self.last_error = None
                log.info("now serving index version %s", version)
            except Exception as exc:  # noqa: BLE001 - keep serving the old version, report why
                self._failed.add(version)
                self.last_error = f"could not load index version {version}: {exc}"
                log.error(self.last_error)
            finally:
                with self._lock:
                    self._loading = None

        threading.Thread(target=work, name=f"reload-{version}", daemon=True).start()

    def search(
        self, query: str, top_k: int, filters: Filters | None = None, mode: Mode = "hybrid"
    ) -> tuple[SearchResult, str]:
        retriever = self.retriever()
        return retriever.search(query, top_k, filters, mode), retriever.index.version

    def _search_turn(
        self, retriever: Retriever, question: str, top_k: int, filters: Filters | None, history: Sequence[Turn]
    ) -> TurnSearch:
        return search_turn(retriever, question, top_k, filters, history, self.condenser)

    def ask(
        self, question: str, top_k: int, filters: Filters | None = None, history: Sequence[Turn] = ()
    ) -> tuple[Answer, str]:
        """The answer to `question`; with `history` (the conversation so far) a follow-up is resolved first."""
        retriever = self.retriever()
        turn = self._search_turn(retriever, question, top_k, filters, history)
        answer = self.answerer.answer(turn.searched_for, turn.result)
        answer.timings_ms = {**turn.result.timings_ms, **answer.timings_ms}
        answer.searched_for = turn.searched_for
        return answer, retriever.index.version

    def ask_many(
        self, questions: Sequence[str], top_k: int, filters: Filters | None = None
    ) -> tuple[list[Answer], Retriever]:
        """Answers to several standalone questions (a ticket's) from one index version.

        The questions are embedded together in one batched forward pass, which on CPU costs far
        less than one pass each; the retriever is returned for the passage vectors of the draft.
        """
        retriever = self.retriever()
        started = time.perf_counter()
        vectors = retriever.embed_query.many(list(questions)) if questions else []
        embedding_ms = ms_since(started)
        results = [retriever.search(q, top_k, filters, vector=v) for q, v in zip(questions, vectors, strict=True)]
        if isinstance(self.answerer, LLMAnswerer) and len(questions) > 1:
            # The model calls wait on a server, not the CPU: side by side a ticket costs about one.
            with concurrent.futures.ThreadPoolExecutor(len(questions), thread_name_prefix="ticket") as pool:
                answers = list(pool.map(self.answerer.answer, questions, results))
        else:
            answers = [self.answerer.answer(q, r) for q, r in zip(questions, results, strict=True)]
        for question, result, answer in zip(questions, results, answers, strict=True):
            # The batch's cost is shared: each answer reports its part of the one model call.
            result.timings_ms["embedding"] = round(embedding_ms / len(questions), 2)
            answer.timings_ms = {**result.timings_ms, **answer.timings_ms}
            answer.searched_for = question
        return answers, retriever

    def ask_stream(
        self, question: str, top_k: int, filters: Filters | None = None, history: Sequence[Turn] = ()
    ) -> tuple[Iterator[str | Answer], SearchResult, str]:
        """Draft text pieces then the final Answer; extractive answers arrive as one final item."""
        retriever = self.retriever()
        turn = self._search_turn(retriever, question, top_k, filters, history)
        result, searched_for = turn.result, turn.searched_for

        def pieces() -> Iterator[str | Answer]:
            if isinstance(self.answerer, LLMAnswerer):
                items: Iterator[str | Answer] = self.answerer.stream(searched_for, result)
            else:
                items = iter([self.answerer.answer(searched_for, result)])
            for piece in items:
                if isinstance(piece, Answer):
                    piece.searched_for = searched_for
                yield piece

        return pieces(), result, retriever.index.version
