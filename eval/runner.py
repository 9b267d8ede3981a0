"""Score questions through the real query path: Retriever.search for rankings, the extractive answerer for answers."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.answer import Answer, ExtractiveAnswerer, null_for, question_evidence
from assistant.retriever import Filters, Mode, QueryEmbeddingCache, Retriever
from assistant.timing import ms_since
from eval.judges import Judge, Question
from ingest.embedder import Embedder
from ingest.sync import Progress

MODES: tuple[Mode, ...] = ("dense", "bm25", "hybrid")
SEARCH_K = 100  # passages (or BEIR documents) scored per question
ASK_K = 5  # passages the answerer sees, as /v1/ask by default
SHOWN = 10  # retrieved items kept per question for reports
PREVIEW_CHARS = 200


@dataclass
class QuestionResult:
    """Everything measured for one question in one mode; the JSON output lists exactly this."""

    id: str
    lang: str
    question: str
    answerable: bool
    expected: list[dict[str, str]]
    retrieved: list[dict[str, Any]]  # top SHOWN: source (or doc id), first PREVIEW_CHARS of text, gain
    relevant_ranks: list[tuple[int, float]]  # (1-based rank, gain) of every gaining item in the top SEARCH_K
    ideal_gains: list[float]
    recall_found: int
    recall_total: int
    first_relevant_rank: int | None
    found: bool
    answer: str
    cited: list[dict[str, Any]]  # source (or doc id) and whether it is relevant
    best_dense_score: float | None  # best cosine similarity among the passages the answerer saw
    abstention_score: float | None  # what the answerer compares with its threshold (confidence, or evidence_score)
    search_ms: float
    ask_ms: float
    notes: list[str] = field(default_factory=list)
    # The retrieval signals (ingest.calibration.Evidence) and the collection's null for them.
    evidence: dict[str, float] | None = None
    null_mean: dict[str, float] | None = None
    null_std: dict[str, float] | None = None  # with null_mean, enough to replay the rule from the report alone
    # Asked in another language than the passages that answer it (None: no answering passage retrieved).
    cross_lingual: bool | None = None
    # Answerable and answered with a cited passage that holds the gold (None for unanswerable questions).
    answer_hit: bool | None = None
    # A relevant cited passage's highlight overlaps the gold quote (None: no quotes known, or nothing relevant cited).
    highlight_hit: bool | None = None
    negative: bool = False  # a question written for another collection: must abstain
    # Asked with its answering passages withheld from the collection (`--withhold`): must abstain.
    withheld: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["relevant_ranks"] = [list(pair) for pair in self.relevant_ranks]
        return data


def without_query_cache(retriever: Retriever, embedder: Embedder) -> Retriever:
    """Make `retriever` embed every query afresh (with `embedder`), so repeated questions do not look free."""
    # Size 0: each vector is evicted as soon as it is stored.
    retriever.embed_query = QueryEmbeddingCache(embedder, size=0)
    return retriever


def score_question(
    question: Question,
    retriever: Retriever,
    answerer: ExtractiveAnswerer,
    judge: Judge,
    mode: Mode,
    search_k: int = SEARCH_K,
    depth: int = SEARCH_K,
    negative: bool = False,
    withheld: frozenset[int] = frozenset(),
) -> QuestionResult:
    """Search `search_k` passages for the ranking, then ask like /v1/ask (its own top-ASK_K search).

    `withheld`: passages searched as if they were not in the collection (the question's own gold, so
    that it becomes a near-topic question the collection cannot answer).
    """
    filters = Filters(withheld=withheld)
    started = time.perf_counter()
    result = retriever.search(question.text, top_k=search_k, mode=mode, filters=filters)
    search_ms = ms_since(started)
    judged = judge.rank(question, [h.chunk for h in result.hits], depth)

    started = time.perf_counter()
    small = retriever.search(question.text, top_k=ASK_K, mode=mode, filters=filters)
    answer = answerer.answer(question.text, small)
    ask_ms = ms_since(started)

    ranks = [(rank, item.gain) for rank, item in enumerate(judged.items, start=1) if item.gain > 0]
    dense = [h.dense_score for h in small.hits if h.dense_score is not None]
    decision, _ = answerer.decision_score(small)
    evidence = question_evidence(small)
    null = null_for(small)
    answering = {h.chunk.language for h in result.hits if judge.relevant(question, h.chunk)}
    lang = question.lang or result.language
    return QuestionResult(
        id=question.id,
        lang=lang,
        question=question.text,
        answerable=question.answerable,
        expected=[dict(e) for e in question.expected],
        retrieved=[
            {"source": item.key, "text": item.text[:PREVIEW_CHARS], "gain": item.gain} for item in judged.items[:SHOWN]
        ],
        relevant_ranks=ranks,
        ideal_gains=judged.ideal[:SHOWN],
        recall_found=judged.found,
        recall_total=judged.total,
        first_relevant_rank=ranks[0][0] if ranks else None,
        found=answer.found,
        answer=answer.text,
        cited=[
            {"source": judge.key(c.hit.chunk), "relevant": judge.relevant(question, c.hit.chunk)}
            for c in answer.citations
        ],
        best_dense_score=round(max(dense), 6) if dense else None,
        abstention_score=None if decision is None else round(decision, 6),
        search_ms=search_ms,
        ask_ms=ask_ms,
        notes=judged.notes,
        evidence=None if evidence is None else {k: round(v, 6) for k, v in asdict(evidence).items()},
        null_mean=None if null is None else dict(null.mean),
        null_std=None if null is None else dict(null.std),
        cross_lingual=(lang not in answering) if answering else None,
        answer_hit=_answer_hit(question, answer, judge),
        highlight_hit=_highlight_hit(question, answer, judge),
        negative=negative,
        withheld=bool(withheld),
    )


def _answer_hit(question: Question, answer: Answer, judge: Judge) -> bool | None:
    if not question.answerable:
        return None
    return answer.found and any(judge.relevant(question, c.hit.chunk) for c in answer.citations)


def _highlight_hit(question: Question, answer: Answer, judge: Judge) -> bool | None:
    """Whether a highlighted span overlaps a gold quote, among the relevant cited passages."""
    judged = False
    for citation in answer.citations:
        spans = judge.gold_spans(question, citation.hit.chunk) if judge.relevant(question, citation.hit.chunk) else None
        if not spans:
            continue
        judged = True
        if citation.highlight is not None and any(
            s < citation.highlight[1] and citation.highlight[0] < e for s, e in spans
        ):
            return True
    return False if judged else None


def warm_up(questions: Sequence[Question], retriever: Retriever, modes: Sequence[Mode]) -> None:
    """One untimed search per mode and question language: loads the model, Thai segmenter and stemmers."""
    by_language = {q.lang: q for q in questions}
    for question in by_language.values():
        for mode in modes:
            retriever.search(question.text, top_k=1, mode=mode)


def run_questions(
    questions: Sequence[Question],
    retriever: Retriever,
    answerer: ExtractiveAnswerer,
    judge: Judge,
    modes: Sequence[Mode],
    search_k: int = SEARCH_K,
    progress: Progress | None = None,
) -> dict[str, list[QuestionResult]]:
    """Every question in every mode; results keyed by mode, in question order."""
    # Without this the first question of each language would carry one-off loading time.
    warm_up(questions, retriever, modes)
    out: dict[str, list[QuestionResult]] = {}
    for mode in modes:
        if progress is not None:
            progress.begin(mode, len(questions))
        results = []
        for question in questions:
            results.append(score_question(question, retriever, answerer, judge, mode, search_k))
            if progress is not None:
                progress.advance(mode)
        out[mode] = results
    return out
