"""Hybrid retrieval: dense (FAISS) and keyword (BM25) scores fused, with filters applied before ranking."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from assistant import defaults
from assistant.dictionary import QueryTranslator
from assistant.exceptions import AssistantError
from assistant.query_batcher import QueryEmbedder
from assistant.timing import ms_since
from ingest.analyzer import analyze
from ingest.calibration import EVIDENCE_POOL
from ingest.documents import Chunk
from ingest.embedder import Embedder
from ingest.language import detect_language
from ingest.store.layout import LoadedIndex

Mode = Literal["dense", "bm25", "hybrid"]
Fusion = Literal["score", "rrf"]
RRF_K = 60
# Passages whose vectors are this close are the same text in another file: show only one.
NEAR_DUPLICATE_COSINE = 0.97
SENTENCE_RERANK = 20
SENTENCE_WEIGHT = 0.25


class Reranker(Protocol):
    def rerank(self, query: str, hits: list[Hit]) -> list[Hit]: ...


class ModelMismatch(AssistantError):
    """The index was built with another embedding model than the one configured for queries."""

    # The server is up but cannot answer until the index is rebuilt or the setting fixed.
    status = 503
    code = "model_mismatch"


@dataclass(frozen=True)
class Filters:
    """Restrict retrieval before ranking. Empty fields do not filter."""

    source_prefix: str | None = None
    languages: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    groups: tuple[str, ...] | None = None  # access groups of the caller; None = unrestricted
    # Passages searched as if the collection did not hold them, keyword statistics included: how the
    # eval asks a question whose answering passages were never ingested (`assistant eval --withhold`).
    withheld: frozenset[int] = frozenset()

    def empty(self) -> bool:
        return not (self.source_prefix or self.languages or self.tags or self.withheld) and self.groups is None


def can_see(document_groups: frozenset[str] | list[str], caller_groups: tuple[str, ...] | None) -> bool:
    """A document without groups is public; one with groups needs a caller sharing one (None sees all)."""
    return caller_groups is None or not document_groups or not set(document_groups).isdisjoint(caller_groups)


@dataclass
class Hit:
    chunk: Chunk
    score: float  # fused score in hybrid mode, else the backend's own score
    dense_score: float | None = None  # cosine similarity, when the dense retriever saw this chunk
    keyword_score: float | None = None
    chunk_int: int = 0


@dataclass
class SearchResult:
    hits: list[Hit]
    language: str
    query_vector: np.ndarray | None
    timings_ms: dict[str, float] = field(default_factory=dict)
    index: LoadedIndex | None = None  # the version the hits came from (for passage vectors)
    # Best dense similarities among the allowed passages, before fusion and collapsing; the
    # answerer reads how far the best stands out from the rest.
    dense_scores: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    dense_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # of dense_scores
    # Share of the question's weighted words the best keyword passage holds (0 without keyword search).
    coverage: float = 0.0

    def passage_vector(self, hit: Hit) -> np.ndarray:
        assert self.index is not None
        return self.index.vectors.vectors(np.array([hit.chunk_int]))[0]


class QueryEmbeddingCache:
    """Small LRU: agents ask the same questions over and over. Safe to call from request threads."""

    def __init__(self, embedder: QueryEmbedder, size: int = 1024) -> None:
        self.embedder = embedder
        self.size = size
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # held for dictionary updates only, never while embedding

    def prefill(self, texts: list[str]) -> None:
        """Embed many queries in batches up front (evaluation runs); grows the cache to hold them."""
        vectors = self.embedder.embed_queries(texts)
        with self._lock:
            self.size = max(self.size, len(texts) + 16)
            for text, vector in zip(texts, vectors, strict=True):
                self._items[text] = vector

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def many(self, texts: list[str]) -> list[np.ndarray]:
        """Vectors for several queries; the ones not cached are embedded together in one batch."""
        with self._lock:
            found = {t: self._items[t] for t in texts if t in self._items}
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            vectors = self.embedder.embed_queries(missing)
            with self._lock:
                for text, vector in zip(missing, vectors, strict=True):
                    found[text] = self._items[text] = np.asarray(vector, dtype=np.float32)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return [found[t] for t in texts]

    def __call__(self, text: str) -> np.ndarray:
        with self._lock:
            vector = self._items.get(text)
            if vector is not None:
                self._items.move_to_end(text)
                return vector
        vector = self.embedder.embed_query(text)
        with self._lock:
            self._items[text] = vector
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return vector


class Retriever:
    """Searches one loaded index version. Cheap to create; holds per-version filter arrays."""

    def __init__(
        self,
        index: LoadedIndex,
        embedder: Embedder,
        languages: tuple[str, ...] = defaults.LANGUAGES,
        candidates: int = defaults.CANDIDATES,
        query_cache: QueryEmbeddingCache | None = None,
        reranker: Reranker | None = None,
        fusion: Fusion = "score",
        keyword_weight: float = defaults.KEYWORD_WEIGHT,
        translator: QueryTranslator | None = None,
        translated_weight: float = defaults.TRANSLATED_KEYWORD_WEIGHT,
    ) -> None:
        if index.manifest.model != embedder.model_id:
            raise ModelMismatch(
                f"index {index.version} was built with model '{index.manifest.model}' but the "
                f"configured model is '{embedder.model_id}'; re-run ingest or set ASSISTANT_EMBEDDING_MODEL"
            )
        self.index = index
        self.embedder = embedder
        self.languages = languages
        self.candidates = candidates
        self.embed_query = query_cache or QueryEmbeddingCache(embedder)
        self.reranker = reranker
        self.fusion = fusion
        self.keyword_weight = keyword_weight
        self.translator = translator
        self.translated_weight = translated_weight
        self._ids = np.fromiter(index.chunks.keys(), dtype=np.int64, count=len(index.chunks))
        chunks = list(index.chunks.values())
        self._sources = np.array([c.source for c in chunks], dtype=object)
        self._langs = np.array([c.language for c in chunks], dtype=object)
        # Passage ids per language, for searching a question's translations into each.
        self._ids_in = {lang: self._ids[self._langs == lang] for lang in sorted(set(self._langs.tolist()))}
        # One set per document, shared by its passages (a set each cost ~0.4 KB a passage).
        docs, none = index.manifest.documents, frozenset[str]()
        tags = {source: frozenset(record.tags) for source, record in docs.items()}
        groups = {source: frozenset(record.groups) for source, record in docs.items()}
        self._tags = [tags.get(c.source, none) for c in chunks]
        self._groups = [groups.get(c.source, none) for c in chunks]
        self._visible: dict[tuple[str, ...], np.ndarray] = {}

    def allowed_ids(self, filters: Filters) -> np.ndarray | None:
        """Chunk ids passing the filters, or None when nothing is filtered."""
        if filters.empty():
            return None
        mask = np.ones(len(self._ids), dtype=bool)
        if filters.source_prefix:
            prefix = filters.source_prefix
            mask &= np.array([s.startswith(prefix) for s in self._sources], dtype=bool)
        if filters.languages:
            mask &= np.isin(self._langs, list(filters.languages))
        if filters.tags:
            wanted = set(filters.tags)
            mask &= np.array([bool(t & wanted) for t in self._tags], dtype=bool)
        existing = self._existing_mask(filters)
        if existing is not None:
            mask &= existing
        return self._ids[mask]

    def _existing_mask(self, filters: Filters) -> np.ndarray | None:
        """The chunks that exist for this caller: their groups let them see it and it is not withheld (None: all).

        A new array when it is withheld from, never the cached group mask changed in place.
        """
        mask = self._visible_mask(filters.groups) if filters.groups is not None else None
        if filters.withheld:
            withheld = np.fromiter(filters.withheld, dtype=np.int64, count=len(filters.withheld))
            present = ~np.isin(self._ids, withheld)
            mask = present if mask is None else mask & present
        return mask

    def _visible_mask(self, groups: tuple[str, ...]) -> np.ndarray:
        """Which chunks a caller with these groups may see (cached: a deployment has few group sets)."""
        mask = self._visible.get(groups)
        if mask is None:
            mask = np.array([can_see(g, groups) for g in self._groups], dtype=bool)
            self._visible[groups] = mask
        return mask

    def visible_ids(self, filters: Filters) -> np.ndarray | None:
        """The chunks that exist for this caller, or None when nothing is hidden from them.

        Keyword statistics are counted over these, so a restricted document cannot be detected
        through the scores of the passages a caller does see.
        """
        mask = self._existing_mask(filters)
        return None if mask is None or mask.all() else self._ids[mask]

    def search(
        self,
        query: str,
        top_k: int = 10,
        filters: Filters | None = None,
        mode: Mode = "hybrid",
        vector: np.ndarray | None = None,
    ) -> SearchResult:
        """Rank passages for `query`; `vector` is its embedding when the caller already has it."""
        timings: dict[str, float] = {}
        started = time.perf_counter()
        language = detect_language(query, self.languages)
        filters = filters or Filters()
        allowed = self.allowed_ids(filters)
        visible = self.visible_ids(filters)
        timings["filter"] = ms_since(started)
        pool = max(self.candidates, top_k)
        dense: dict[int, float] = {}
        keyword: dict[int, float] = {}
        dense_scores = np.zeros(0, dtype=np.float32)
        dense_ids = np.zeros(0, dtype=np.int64)
        if mode in ("dense", "hybrid"):
            t = time.perf_counter()
            if vector is None:
                vector = self.embed_query(query)
            timings["embedding"] = ms_since(t)
            t = time.perf_counter()
            ids, scores = self.index.vectors.search(vector, pool, allowed)
            dense = dict(zip(ids.tolist(), scores.tolist(), strict=True))
            dense_scores, dense_ids = scores[:EVIDENCE_POOL], ids[:EVIDENCE_POOL]
            timings["dense_search"] = ms_since(t)
        max_keyword = 0.0
        if mode in ("bm25", "hybrid"):
            t = time.perf_counter()
            terms = analyze(query, language)
            ids, scores = self.index.keywords.search(terms, pool, allowed, collection=visible)
            keyword = dict(zip(ids.tolist(), scores.tolist(), strict=True))
            max_keyword = self.index.keywords.max_score(terms, collection=visible)
            if self.translator is not None:
                self._add_translated(query, language, keyword, max_keyword, pool, allowed, visible)
            timings["keyword_search"] = ms_since(t)
        t = time.perf_counter()
        if mode == "dense":
            fused = dense
        elif mode == "bm25":
            fused = keyword
        else:
            fused = (
                reciprocal_rank_fusion([list(dense), list(keyword)])
                if self.fusion == "rrf"
                else coverage_score_fusion(dense, keyword, max_keyword, self.keyword_weight)
            )
        if mode == "bm25":
            vector = None
        if vector is not None and mode == "hybrid" and SENTENCE_WEIGHT > 0:
            fused = self._with_sentence_evidence(fused, vector)
        ranked = sorted(fused, key=lambda i: -fused[i])
        hits = [Hit(self.index.chunks[i], float(fused[i]), dense.get(i), keyword.get(i), i) for i in ranked]
        if self.reranker is not None:
            fused_ms = ms_since(t)
            t = time.perf_counter()
            hits = self.reranker.rerank(query, hits)
            timings["rerank"] = ms_since(t)
            t = time.perf_counter() - fused_ms / 1000
        hits = self._collapse_near_duplicates(hits, top_k)
        timings["fusion"] = ms_since(t)
        timings["total"] = ms_since(started)
        coverage = max(keyword.values()) / max_keyword if keyword and max_keyword > 0 else 0.0
        return SearchResult(hits, language, vector, timings, self.index, dense_scores, dense_ids, coverage)

    def _add_translated(
        self,
        query: str,
        language: str,
        keyword: dict[int, float],
        max_keyword: float,
        pool: int,
        allowed: np.ndarray | None,
        visible: np.ndarray | None,
    ) -> None:
        """Add keyword matches of the question's dictionary translations, each in passages of its language.

        A translated match counts as the same share of the question's vocabulary (times
        `translated_weight`) as an untranslated one would; a passage keeps its better score.
        """
        assert self.translator is not None
        for target, in_target in self._ids_in.items():
            terms = self.translator.terms(query, language, target) if target != language else []
            if not terms:
                continue
            if allowed is not None:
                in_target = np.intersect1d(in_target, allowed)
            ids, scores = self.index.keywords.search(terms, pool, in_target, collection=visible)
            top = self.index.keywords.max_score(terms, collection=visible)
            scale = self.translated_weight * max(max_keyword, 1e-9) / max(top, 1e-9)
            for i, score in zip(ids.tolist(), scores.tolist(), strict=True):
                keyword[i] = max(keyword.get(i, 0.0), score * scale)

    def _with_sentence_evidence(self, fused: dict[int, float], vector: np.ndarray) -> dict[int, float]:
        """Add the best sentence's similarity to the top candidates' scores.

        A passage's vector blends its heading path with its text, so a two-line section under a
        heading that shares the question's topic ("Product care > Candles") outranks a long passage
        that holds the answer; its best single sentence says what it really holds.
        """
        top = sorted(fused, key=lambda i: -fused[i])[:SENTENCE_RERANK]
        out = dict(fused)
        floor = min(fused[i] for i in top) if top else 0.0
        for i in top:
            _, vectors = self.index.sentences.of(i)
            best = float((vectors @ vector).max()) if len(vectors) else 0.0
            out[i] = fused[i] + SENTENCE_WEIGHT * best
        # The rest keep their order, below every candidate weighed (a similarity is at least -1).
        for i in fused.keys() - set(top):
            out[i] = min(fused[i], floor) - SENTENCE_WEIGHT
        return out

    def _collapse_near_duplicates(self, hits: list[Hit], top_k: int) -> list[Hit]:
        kept: list[Hit] = []
        kept_vectors: list[np.ndarray] = []
        seen_texts: set[str] = set()
        for hit in hits:
            if len(kept) >= top_k:
                break
            key = " ".join(hit.chunk.text.casefold().split())
            if key in seen_texts:
                continue
            vector = self.index.vectors.vectors(np.array([hit.chunk_int]))[0]
            if any(float(vector @ other) >= NEAR_DUPLICATE_COSINE for other in kept_vectors):
                continue
            seen_texts.add(key)
            kept.append(hit)
            kept_vectors.append(vector)
        return kept


def coverage_score_fusion(
    dense: dict[int, float], keyword: dict[int, float], max_keyword: float, weight: float
) -> dict[int, float]:
    """Cosine similarity plus `weight * coverage²`, coverage = BM25 score / the query's maximum.

    The maximum is what a passage holding every query word once would score (sum of idfs), so
    coverage says how much of the question's weighted vocabulary a passage shares, in any corpus.
    A stray match of one common word (typical of cross-lingual questions) adds almost nothing;
    a passage sharing the question's rare words gains up to `weight`. Measured against reciprocal
    rank fusion in docs/benchmarks.md, where RRF let weak keyword matches outrank the right passage.
    A keyword-only hit gets the weakest dense score of the pool as its dense part.
    """
    floor = min(dense.values()) if dense else 0.0
    scale = max(max_keyword, 1e-9)
    return {
        i: dense.get(i, floor) + weight * min(1.0, keyword.get(i, 0.0) / scale) ** 2
        for i in dense.keys() | keyword.keys()
    }


def reciprocal_rank_fusion(rankings: list[list[int]], k: int = RRF_K) -> dict[int, float]:
    """Sum of 1 / (k + rank) over the rankings each id appears in (rank starts at 1)."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return scores
