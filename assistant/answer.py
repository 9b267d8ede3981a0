"""Extractive answers: the most relevant sentences of the top passages, each cited, or an honest "not found"."""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from assistant import defaults
from assistant.retriever import Hit, SearchResult
from assistant.timing import ms_since
from ingest.analyzer import analyze
from ingest.calibration import SENTENCE_POOL, Evidence, NullStats, evidence_of, sentence_similarities
from ingest.store.sentence_index import quotable_spans

NOT_FOUND = {
    "en": "I could not find an answer to this in the knowledge base.",
    "fi": "En löytänyt tähän vastausta tietopankista.",
    "pl": "Nie znalazłem odpowiedzi na to pytanie w bazie wiedzy.",
    "th": "ไม่พบคำตอบของคำถามนี้ในฐานความรู้",
}
# Adaptive abstention's threshold, in null spreads (why this value: assistant/defaults.py).
DEFAULT_MIN_CONFIDENCE = defaults.MIN_CONFIDENCE
CONFIDENCE_WEIGHTS = {"dense_top": 0.5, "dense_margin": 0.25, "sentence_top": 0.25}
# Keyword coverage is added raw (0-1): off-topic questions cover ~0, so its spread says little.
COVERAGE_WEIGHT = 2.0
# The least spread a null may have: a collection of a handful of passages gives a tight null (every
# off-topic question scores near zero), and a question merely near its topic then looks strong.
# Below the spreads seen on real collections (0.036-0.069 for similarities, 0.025-0.052 for margins).
MIN_SPREAD = {"dense_top": 0.06, "sentence_top": 0.06, "dense_margin": 0.03}
# The fixed rule's threshold for an index without calibration (the demo-calibrated value of before).
UNCALIBRATED_MIN_DENSE_SCORE = 0.50
# Sentence choice: weight of shared words next to meaning, of the passage's rank, and how close to
# the best sentence another one must score to join the answer.
LEXICAL_WEIGHT = 0.1
PASSAGE_PRIOR = 1.0
SENTENCE_MARGIN = 0.15
# Raw tokens shared across languages: numbers, product and brand names (BLIK, InPost, 2FA...).
_RAW_TOKEN = re.compile(r"[^\W_]+")


@dataclass
class Citation:
    n: int
    hit: Hit
    highlight: tuple[int, int] | None


@dataclass
class Answer:
    text: str
    found: bool
    language: str
    citations: list[Citation]
    related: list[Citation]
    timings_ms: dict[str, float] = field(default_factory=dict)
    # The text retrieval ran on: the question, or its reading in the light of the conversation.
    searched_for: str = ""


@dataclass
class _Sentence:
    hit_index: int
    start: int
    end: int
    score: float


def _raw_terms(text: str) -> set[str]:
    text = unicodedata.normalize("NFKC", text).casefold()
    return {t for t in _RAW_TOKEN.findall(text) if len(t) > 2 or t.isdigit()}


def _sentence_scores(question: str, hit_index: int, hit: Hit) -> list[_Sentence]:
    """Score each sentence of a passage by the question words it shares (stemmed in its language)."""
    text = hit.chunk.text
    wanted = set(analyze(question, hit.chunk.language)) | _raw_terms(question)
    out = []
    for position, (start, end) in enumerate(quotable_spans(text)):
        sentence = text[start:end]
        terms = set(analyze(sentence, hit.chunk.language)) | _raw_terms(sentence)
        overlap = len(wanted & terms)
        # Earlier sentences win ties: a passage usually states its point first.
        out.append(_Sentence(hit_index, start, end, overlap / (1 + len(terms)) ** 0.5 - position * 1e-3))
    return out


def evidence_score(result: SearchResult) -> float | None:
    """The fixed-threshold rule's score: the best passage's cosine similarity plus half its margin over
    the next 19. Used when an operator sets `min_dense_score`, or for an index made before
    calibration existed; otherwise `confidence` decides."""
    scores = result.dense_scores
    if len(scores) == 0:
        return None
    top = float(scores[0])
    rest = scores[1:]
    return top + 0.5 * (top - float(rest.mean())) if len(rest) else top


def language_shift(result: SearchResult) -> Callable[[str], float]:
    """What to subtract from the similarity of a sentence in a given passage language (Calibration.shift)."""
    calibration = result.index.calibration if result.index is not None else None
    if calibration is None:
        return lambda passage_language: 0.0
    return lambda passage_language: calibration.shift(result.language, passage_language)


def question_evidence(result: SearchResult) -> Evidence | None:
    """The retrieval signals of one question (see ingest.calibration), as measured at ingest for the null bank."""
    if result.query_vector is None or result.index is None:
        return None
    index, shift = result.index, language_shift(result)

    def shift_of(chunk_int: int) -> float:
        chunk = index.chunks.get(chunk_int)
        return shift(chunk.language) if chunk is not None else 0.0

    sentences = sentence_similarities(
        result.query_vector, result.dense_ids[:SENTENCE_POOL].tolist(), index.sentences, shift_of
    )
    return evidence_of(result.dense_scores, sentences, result.coverage)


def null_for(result: SearchResult) -> NullStats | None:
    """The collection's null distribution (all bank languages pooled), when the index has one."""
    calibration = result.index.calibration if result.index is not None else None
    return calibration.pooled if calibration is not None else None


def confidence(evidence: Evidence, null: NullStats) -> float:
    """How many null spreads the question's evidence stands above the off-topic questions', plus keyword coverage."""
    total = COVERAGE_WEIGHT * evidence.coverage
    for signal, weight in CONFIDENCE_WEIGHTS.items():
        spread = max(null.std[signal], MIN_SPREAD[signal])
        total += weight * (evidence.value(signal) - null.mean[signal]) / spread
    return total


def best_sentence_span(text: str, hit: Hit) -> tuple[int, int] | None:
    """The sentence of a passage that shares most words with `text` (for highlighting)."""
    scored = _sentence_scores(text, 0, hit)
    best = max(scored, key=lambda s: s.score, default=None)
    return (best.start, best.end) if best is not None and best.score > 0 else None


class ExtractiveAnswerer:
    """Builds answers only from the documents' own sentences; abstains when evidence is weak.

    By default the decision adapts to the collection: `confidence` (evidence measured against the
    off-topic questions' null distribution recorded at ingest) must reach `min_confidence`. An
    operator may instead fix `min_dense_score` (see `evidence_score`), which is also the rule for
    an index made before calibration existed.
    """

    def __init__(
        self,
        min_dense_score: float | None = None,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        max_sentences: int = 3,
        max_passages: int = 5,
    ) -> None:
        self.min_dense_score = min_dense_score
        self.min_confidence = min_confidence
        self.max_sentences = max_sentences
        self.max_passages = max_passages

    def decision_score(self, result: SearchResult) -> tuple[float | None, float]:
        """(score, threshold) the answer decision compares; score None when nothing was retrieved."""
        null = null_for(result) if self.min_dense_score is None else None
        evidence = question_evidence(result) if null is not None else None
        if null is None or evidence is None:
            fixed = self.min_dense_score if self.min_dense_score is not None else UNCALIBRATED_MIN_DENSE_SCORE
            return evidence_score(result), fixed
        return confidence(evidence, null), self.min_confidence

    def is_answerable(self, result: SearchResult) -> bool:
        score, threshold = self.decision_score(result)
        return score is not None and score >= threshold

    def answer(self, question: str, result: SearchResult) -> Answer:
        started = time.perf_counter()
        language = result.language
        hits = result.hits
        if not hits or not self.is_answerable(result):
            related = [Citation(n, hit, None) for n, hit in enumerate(hits, start=1)]
            return Answer(
                NOT_FOUND.get(language, NOT_FOUND["en"]),
                False,
                language,
                [],
                related,
                {"answer": ms_since(started)},
            )
        chosen = self._choose_sentences(question, result)
        # The passage holding the strongest sentence is cited first, and its sentences lead the answer.
        order: list[int] = []
        for sentence in sorted(chosen, key=lambda s: -s.score):
            if sentence.hit_index not in order:
                order.append(sentence.hit_index)
        number = {hit_index: n for n, hit_index in enumerate(order, start=1)}
        parts = []
        for sentence in sorted(chosen, key=lambda s: (number[s.hit_index], s.start)):
            text = hits[sentence.hit_index].chunk.text[sentence.start : sentence.end]
            parts.append(f"{text} [{number[sentence.hit_index]}]")
        citations = []
        for hit_index in order:
            spans = [s for s in chosen if s.hit_index == hit_index]
            highlight = (min(s.start for s in spans), max(s.end for s in spans))
            citations.append(Citation(number[hit_index], hits[hit_index], highlight))
        related = [
            Citation(len(order) + n, hit, None)
            for n, hit in enumerate((h for i, h in enumerate(hits) if i not in number), start=1)
        ]
        return Answer(" ".join(parts), True, language, citations, related, {"answer": ms_since(started)})

    def _candidates(self, question: str, result: SearchResult) -> list[_Sentence]:
        """Sentences of the top passages scored by meaning (sentence vectors), with shared words as a tie-break.

        Without sentence vectors (an index made before they existed) shared words decide alone.
        """
        out: list[_Sentence] = []
        top_score = result.hits[0].score
        query = result.query_vector
        sentences = result.index.sentences if result.index is not None and query is not None else None
        shift = language_shift(result)
        for index, hit in enumerate(result.hits[: self.max_passages]):
            lexical = {(s.start, s.end): s.score for s in _sentence_scores(question, index, hit)}
            spans, vectors = sentences.of(hit.chunk_int) if sentences is not None else (np.zeros((0, 2)), None)
            if len(spans) == 0 or vectors is None or query is None:
                out += [_Sentence(index, s, e, score) for (s, e), score in lexical.items()]
                continue
            # Languages compete on meaning: a Finnish question scores any Finnish sentence higher.
            meaning = vectors @ query - shift(hit.chunk.language)
            # A passage ranked well below the first needs a clearly better sentence to lead.
            prior = PASSAGE_PRIOR * (hit.score - top_score)
            for (start, end), similarity in zip(spans.tolist(), meaning.tolist(), strict=True):
                words = lexical.get((start, end), 0.0)
                out.append(_Sentence(index, start, end, similarity + LEXICAL_WEIGHT * max(words, 0.0) + prior))
        return out

    def _choose_sentences(self, question: str, result: SearchResult) -> list[_Sentence]:
        """The best sentence across the top passages, plus the next ones nearly as good (any passage)."""
        candidates = sorted(self._candidates(question, result), key=lambda s: -s.score)
        if not candidates:
            hit = result.hits[0]
            return [_Sentence(0, 0, len(hit.chunk.text), 0.0)]
        best = candidates[0]
        chosen = [best]
        for candidate in candidates[1:]:
            if len(chosen) >= self.max_sentences:
                break
            if candidate.score >= best.score - SENTENCE_MARGIN:
                chosen.append(candidate)
        return chosen
