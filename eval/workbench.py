"""Evaluate one target (a JSONL eval set against an index, or a BEIR folder) into the `--json` document."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.answer import ExtractiveAnswerer
from assistant.components import (
    build_cache,
    build_embedder,
    build_service,
    build_store,
    build_sync_options,
)
from assistant.exceptions import AssistantError
from assistant.retriever import Mode, Retriever
from assistant.settings import Settings
from eval import beir
from eval.judges import Judge, Judged, QrelsJudge, Question, QuoteJudge, RankedItem, eval_set_questions
from eval.report import build_report
from eval.runner import ASK_K, SEARCH_K, run_questions, score_question, without_query_cache
from eval.sets import load_eval_set
from ingest.documents import Chunk
from ingest.embedder import Embedder
from ingest.sync import Progress

MAX_NOTES = 200


class TargetError(AssistantError, ValueError):
    """The eval target is neither a .jsonl eval set nor a BEIR folder."""


@dataclass
class EvalRequest:
    """What to evaluate and how; mirrors the `assistant eval` options."""

    target: Path
    modes: Sequence[Mode] = ("hybrid",)
    index_dir: Path | None = None
    limit: int | None = None
    lang: str | None = None
    negatives: Sequence[Path] = ()  # eval sets or BEIR folders written for other collections
    negatives_limit: int | None = 200  # questions taken from each negatives file
    # How many of the set's own answerable questions to ask again with their answering passages
    # withheld: near-topic questions the collection cannot answer, on any set (0: none).
    withhold: int = 0


class _NoGold:
    """Judge for questions written for another collection: nothing here is relevant to them."""

    def rank(self, question: Question, chunks: Sequence[Chunk], depth: int) -> Judged:
        return Judged([RankedItem(c.source, c.text, 0.0) for c in chunks[:depth]], [], 0, 0)

    def relevant(self, question: Question, chunk: Chunk) -> bool:
        return False

    def key(self, chunk: Chunk) -> str:
        return chunk.source

    def gold_spans(self, question: Question, chunk: Chunk) -> list[tuple[int, int]] | None:
        return None


def negative_questions(path: Path, limit: int | None) -> list[Question]:
    """Questions of another collection (a .jsonl eval set or a BEIR folder), marked unanswerable here."""
    if beir.is_beir_folder(path):
        found = beir.questions(beir.load_beir(path, limit))
    elif path.is_file() and path.suffix == ".jsonl":
        found = eval_set_questions(load_eval_set(path)[: limit or None])
    else:
        raise TargetError(f"negatives {path} is neither a .jsonl eval set nor a BEIR folder")
    return [Question(f"{path.stem}:{q.id}", q.text, q.lang, False) for q in found]


def withheld_questions(
    questions: Sequence[Question], judge: Judge, chunks: dict[int, Chunk], limit: int
) -> list[tuple[Question, frozenset[int]]]:
    """The first `limit` answerable questions with answering passages in the index, each marked
    unanswerable, with the ids of those passages (every passage the judge counts as answering)."""
    out: list[tuple[Question, frozenset[int]]] = []
    for question in questions:
        if len(out) >= limit:
            break
        if not question.answerable:
            continue
        answering = frozenset(i for i, chunk in chunks.items() if judge.relevant(question, chunk))
        if answering:
            out.append((Question(f"withheld:{question.id}", question.text, question.lang, False), answering))
    return out


def _retriever(settings: Settings, index_dir: Path | None, embedder: Embedder) -> Retriever:
    """The service's own retriever (same candidates, reranker, model check) over `index_dir`."""
    return without_query_cache(build_service(settings, index_dir).retriever(), embedder)


def _eval_set(
    request: EvalRequest, settings: Settings, embedder: Embedder
) -> tuple[Retriever, list[Question], Judge, list[str]]:
    items = load_eval_set(request.target)[: request.limit or None]
    retriever = _retriever(settings, request.index_dir, embedder)
    judge = QuoteJudge(items, retriever.index.chunks.values())
    return retriever, eval_set_questions(items, request.lang), judge, []


def _beir(
    request: EvalRequest, settings: Settings, embedder: Embedder, progress: Progress | None
) -> tuple[Retriever, list[Question], Judge, list[str]]:
    dataset = beir.load_beir(request.target, request.limit)
    cache = build_cache(settings)
    try:
        index_dir, doc_id_of, sync = beir.build_index(
            dataset,
            settings.cache_dir,
            embedder,
            cache,
            build_sync_options(settings),
            progress,
            lambda root: build_store(settings, root),
        )
    finally:
        cache.close()
    notes = [f"corpus document skipped: {f.source}: {f.message}" for f in sync.failed]
    questions = beir.questions(dataset, request.lang)
    retriever = build_service(settings, index_dir).retriever()
    # Thousands of queries: embed them in batches first. Latency then excludes query embedding.
    retriever.embed_query.prefill([q.text for q in questions])
    notes.append("BEIR: queries embedded in batches up front; latency figures exclude query embedding")
    return retriever, questions, QrelsJudge(dataset.qrels, doc_id_of), notes


def evaluate(request: EvalRequest, settings: Settings, progress: Progress | None = None) -> dict[str, Any]:
    """Run every question in every requested mode and return the report document.

    Raises:
        TargetError, EvalSetError, BeirError: the target cannot be read.
        IndexError_, ModelMismatch: the index is missing, unusable or built with another model.
    """
    target = request.target
    # One embedder for ingestion and queries: the model loads once, and only if needed.
    embedder = build_embedder(settings)
    if beir.is_beir_folder(target):
        retriever, questions, judge, notes = _beir(request, settings, embedder, progress)
        search_k = beir.chunks_to_search(retriever.index)
    elif target.is_file() and target.suffix == ".jsonl":
        retriever, questions, judge, notes = _eval_set(request, settings, embedder)
        search_k = SEARCH_K
    else:
        raise TargetError(f"{target} is neither a .jsonl eval set nor a BEIR folder (corpus.jsonl, qrels/test.tsv)")
    # The extractive answerer exactly as the service builds it.
    answerer = ExtractiveAnswerer(settings.min_dense_score, settings.min_confidence)
    runs = run_questions(questions, retriever, answerer, judge, request.modes, search_k, progress)
    negatives = [q for path in request.negatives for q in negative_questions(path, request.negatives_limit)]
    if negatives:
        retriever.embed_query.prefill([q.text for q in negatives])
        for mode in request.modes:
            runs[mode].extend(
                score_question(q, retriever, answerer, _NoGold(), mode, search_k, negative=True) for q in negatives
            )
    withheld = withheld_questions(questions, judge, retriever.index.chunks, request.withhold)
    for mode in request.modes:
        runs[mode].extend(
            score_question(q, retriever, answerer, _NoGold(), mode, search_k, withheld=answering)
            for q, answering in withheld
        )
    first_mode = next(iter(runs.values()), [])
    notes += [f"{r.id}: {note}" for r in first_mode for note in r.notes][:MAX_NOTES]
    if "bm25" in runs:
        notes.append("bm25 mode has no dense scores, so the answerer abstains on every question in that mode")
    reranker = getattr(retriever, "reranker", None)
    used = {
        "min_dense_score": settings.min_dense_score,
        "min_confidence": settings.min_confidence,
        # The threshold calibration suggests a value for: the operator's fixed one, else the adaptive one.
        "threshold_name": "min_dense_score" if settings.min_dense_score is not None else "min_confidence",
        "embedding_model": settings.embedding_model,
        "embedding_dim": settings.embedding_dim,
        "chunk_max_tokens": settings.chunk_max_tokens,
        "chunk_min_tokens": settings.chunk_min_tokens,
        "languages": list(settings.languages),
        "candidates": retriever.candidates,
        "reranker": type(reranker).__name__ if reranker is not None else None,
        "search_k": search_k,
        "ask_k": ASK_K,
        "limit": request.limit,
        "lang": request.lang,
        "negatives": [str(p) for p in request.negatives],
        "withhold": request.withhold,
    }
    index = retriever.index
    return build_report(str(target), index.version, index.manifest.model, used, runs, notes)
