"""Search one conversation turn: a follow-up is searched alone and with the previous question, fused.

The passages the previous answer cited get a small boost, so "and for furniture?" stays with the
document the agent was just reading unless the follow-up clearly points elsewhere. A new topic, or
pasted text, is searched on its own. With an LLM condenser, the standalone question it writes is
searched instead, and any failure falls back to the fusion.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from assistant.conversations import Turn
from assistant.followup import Reading, read_question
from assistant.retriever import Filters, Hit, Retriever, SearchResult
from assistant.timing import ms_since
from ingest.language import detect_language

log = logging.getLogger(__name__)

Strategy = Literal["resolved", "alone", "concatenated"]
# Weight of the search with the previous question, against the follow-up alone (tuned on the first
# two thirds of eval/sets/demo_conversations.jsonl, docs/benchmarks.md).
CONTEXT_WEIGHT = 0.7
# Added to the fused score of a passage the previous answer cited.
CITED_BOOST = 0.03
# Each variant is searched this much deeper than top_k, so fusion can lift a passage from lower down.
FUSION_DEPTH = 3
# The context carried forward stays short: a chain of follow-ups keeps only its latest words.
MAX_CONTEXT_CHARS = 400


class Condenser(Protocol):
    def condense(self, question: str, history: Sequence[Turn], language: str) -> str | None: ...


@dataclass
class TurnSearch:
    """The search result of a turn and the text that was searched (shown as "Searched for")."""

    result: SearchResult
    searched_for: str
    follow_up: bool = False
    condensed: bool = False
    timings_ms: dict[str, float] = field(default_factory=dict)


def passage_key(hit: Hit) -> str:
    """How a turn remembers a cited passage across index versions."""
    return f"{hit.chunk.source}#{hit.chunk.chunk_id}"


def reading_of(question: str, previous: Turn, languages: tuple[str, ...]) -> Reading:
    """Detection in the question's language, and in the previous turn's: short text fools the detector."""
    language = detect_language(question, languages)
    reading = read_question(question, language)
    if not reading.follow_up and not reading.pasted and previous.language != language:
        other = read_question(question, previous.language)
        if other.follow_up:
            return other
    return reading


def concatenated(previous: Turn, question: str) -> str:
    """The previous turn's searched text followed by the follow-up, trimmed from the front."""
    context = previous.searched_for or previous.question
    if len(context) > MAX_CONTEXT_CHARS:
        context = context[-MAX_CONTEXT_CHARS:].split(" ", 1)[-1]
    return f"{context} {question}"


def fuse(
    alone: SearchResult,
    contextual: SearchResult,
    cited: set[str],
    top_k: int,
    weight: float | None = None,
    boost: float | None = None,
) -> SearchResult:
    """Weighted score fusion of the two rankings plus the cited boost.

    A passage missing from one ranking counts that ranking's lowest score. The evidence signals
    (query vector, dense scores, coverage) are the contextual search's: it is the standalone
    reading of the question, which the answerer's abstention must judge.
    """
    weight = CONTEXT_WEIGHT if weight is None else weight
    boost = CITED_BOOST if boost is None else boost
    alone_scores = {h.chunk_int: h.score for h in alone.hits}
    context_scores = {h.chunk_int: h.score for h in contextual.hits}
    alone_floor = min(alone_scores.values(), default=0.0)
    context_floor = min(context_scores.values(), default=0.0)
    hits = {h.chunk_int: h for h in alone.hits} | {h.chunk_int: h for h in contextual.hits}
    scores = {
        i: (1.0 - weight) * alone_scores.get(i, alone_floor)
        + weight * context_scores.get(i, context_floor)
        + (boost if passage_key(hit) in cited else 0.0)
        for i, hit in hits.items()
    }
    ranked = sorted(hits, key=lambda i: -scores[i])[:top_k]
    fused = [Hit(hits[i].chunk, scores[i], hits[i].dense_score, hits[i].keyword_score, i) for i in ranked]
    timings = {k: alone.timings_ms.get(k, 0.0) + contextual.timings_ms.get(k, 0.0) for k in contextual.timings_ms}
    return SearchResult(
        fused,
        alone.language,
        contextual.query_vector,
        timings,
        contextual.index,
        contextual.dense_scores,
        contextual.dense_ids,
        contextual.coverage,
    )


def _embed_together(retriever: Retriever, texts: list[str]) -> list[np.ndarray]:
    """Both variants in one batched model call (cached), so a follow-up costs about one embedding."""
    return retriever.embed_query.many(texts)


def search_variants(
    retriever: Retriever, question: str, context: str, top_k: int, filters: Filters | None
) -> tuple[SearchResult, SearchResult]:
    started = time.perf_counter()
    alone_vector, context_vector = _embed_together(retriever, [question, context])
    embedding_ms = ms_since(started)
    depth = top_k * FUSION_DEPTH
    alone = retriever.search(question, depth, filters, vector=alone_vector)
    contextual = retriever.search(context, depth, filters, vector=context_vector)
    alone.timings_ms["embedding"] = embedding_ms
    contextual.timings_ms["embedding"] = 0.0
    return alone, contextual


def search_turn(
    retriever: Retriever,
    question: str,
    top_k: int,
    filters: Filters | None = None,
    history: Sequence[Turn] = (),
    condenser: Condenser | None = None,
    strategy: Strategy = "resolved",
) -> TurnSearch:
    """Search `question` in the light of the conversation so far (oldest turn first).

    `strategy` exists for evaluation: "alone" ignores the history, "concatenated" always searches
    the previous question plus this one; "resolved" is what the service does.
    """
    previous = history[-1] if history else None
    if previous is None or strategy == "alone":
        return TurnSearch(retriever.search(question, top_k, filters), question)
    if strategy == "concatenated":
        text = concatenated(previous, question)
        return TurnSearch(retriever.search(text, top_k, filters), text, follow_up=True)
    language = detect_language(question, retriever.languages)
    started = time.perf_counter()
    reading = reading_of(question, previous, retriever.languages)
    detect_ms = ms_since(started)
    if reading.pasted:
        return TurnSearch(retriever.search(question, top_k, filters), question)
    if condenser is not None:
        started = time.perf_counter()
        standalone = condenser.condense(question, history, language)
        if standalone:
            result = retriever.search(standalone, top_k, filters)
            result.timings_ms["condense"] = ms_since(started)
            result.language = language
            return TurnSearch(result, standalone, follow_up=standalone != question, condensed=True)
    if not reading.follow_up:
        return TurnSearch(retriever.search(question, top_k, filters), question)
    context = concatenated(previous, question)
    alone, contextual = search_variants(retriever, question, context, top_k, filters)
    result = fuse(alone, contextual, set(previous.cited), top_k)
    result.language = language
    result.timings_ms["follow_up"] = detect_ms
    return TurnSearch(result, context, follow_up=True)
