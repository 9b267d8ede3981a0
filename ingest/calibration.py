"""How strongly a collection answers a question, judged against how it scores questions it cannot answer.

Raw similarity means different things in different collections (a Wikipedia collection scores any
question higher than a returns policy does). So at ingest a bundled bank of off-topic questions in
every language is asked of the new collection, and the answerer compares a real question's evidence
with that null distribution instead of with one fixed number: no labelled questions, nothing tuned
by hand.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any

import numpy as np

from ingest.store.base import VectorIndex
from ingest.store.sentence_index import SentenceIndex

# Dense similarities of the best passages that describe how peaked a ranking is.
EVIDENCE_POOL = 20
# Passages whose sentences are weighed (those an agent is shown by default).
SENTENCE_POOL = 5
# Signals whose null is measured. Keyword coverage is not: off-topic questions cover ~0 of any
# collection, so the answerer adds it raw; leaving it out also spares ingest the Polish and Thai
# analyzers (seconds to load) when a collection holds neither language.
SIGNALS = ("dense_top", "dense_margin", "sentence_top")
# Sentences per passage language that measure the shift between languages (plenty for a mean).
SHIFT_SAMPLE = 5000


@dataclass(frozen=True)
class Evidence:
    """The signals a question's retrieval gives about whether the collection answers it."""

    dense_top: float  # best passage cosine similarity
    dense_margin: float  # how far the best stands out from the next EVIDENCE_POOL - 1
    sentence_top: float  # best single sentence's cosine similarity among the top passages
    coverage: float  # share of the question's weighted words the best keyword passage holds (0-1)

    def value(self, signal: str) -> float:
        return float(getattr(self, signal))


def evidence_of(dense_scores: np.ndarray, sentence_scores: np.ndarray, coverage: float) -> Evidence | None:
    """Evidence from the top dense similarities (best first) and the top passages' sentence similarities."""
    if len(dense_scores) == 0:
        return None
    top = float(dense_scores[0])
    rest = dense_scores[1:EVIDENCE_POOL]
    margin = top - float(rest.mean()) if len(rest) else 0.0
    sentence = float(sentence_scores.max()) if len(sentence_scores) else top
    return Evidence(top, margin, sentence, float(min(max(coverage, 0.0), 1.0)))


def sentence_similarities(
    query: np.ndarray, chunk_ints: list[int], sentences: SentenceIndex, shift: Callable[[int], float] | None = None
) -> np.ndarray:
    """Cosine similarity of the question with every quotable sentence of the given passages.

    `shift(passage id)` is subtracted from that passage's sentences (see Calibration.shift).
    """
    parts = []
    for chunk_int in chunk_ints:
        vectors = sentences.of(chunk_int)[1]
        if len(vectors):
            parts.append(vectors @ query - (shift(chunk_int) if shift is not None else 0.0))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


@dataclass
class NullStats:
    """Mean and spread of each signal over the off-topic bank in one question language."""

    questions: int
    mean: dict[str, float]
    std: dict[str, float]
    high: dict[str, float]  # 95th percentile: the strongest evidence an unanswerable question usually reaches


@dataclass
class Calibration:
    """The collection's null distribution, recorded in the manifest of the version it was made for.

    `pooled` (every language's off-topic questions together) is what the answerer compares with;
    `languages` shows how each question language fares. One null per question language was measured
    first and dropped: on Polish Wikipedia (poquad-pl) the Polish off-topic questions found related
    paragraphs (null mean 0.36 vs 0.24 for the other languages), which refused 31% of answerable
    questions; pooled, 17%, and no set got worse (docs/benchmarks.md).
    """

    bank: str  # identity of the question bank used
    languages: dict[str, NullStats]
    pooled: NullStats | None = None
    # sentence_shift[question language][passage language]: how much higher (or lower) off-topic
    # questions of one language score the sentences of another than those of their own.
    sentence_shift: dict[str, dict[str, float]] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Calibration | None:
        if not data:
            return None
        pooled = data.get("pooled")
        return cls(
            data["bank"],
            {k: NullStats(**v) for k, v in data["languages"].items()},
            NullStats(**pooled) if pooled else None,
            data.get("sentence_shift"),
        )

    def shift(self, question_language: str, passage_language: str) -> float:
        """What to subtract from a sentence's similarity so that languages compete on meaning alone."""
        row = (self.sentence_shift or {}).get(question_language, {})
        return float(row.get(passage_language, 0.0))


def off_topic_bank() -> dict[str, list[str]]:
    """The bundled off-topic questions per language (ingest/data/off_topic_questions.json)."""
    text = resources.files("ingest").joinpath("data/off_topic_questions.json").read_text(encoding="utf-8")
    data = json.loads(text)
    return {k: list(v) for k, v in data.items() if not k.startswith("_")}


def bank_questions(languages: tuple[str, ...]) -> list[str]:
    """The bank's questions in `languages`, in the order calibration asks them."""
    bank = off_topic_bank()
    return [question for language in languages for question in bank.get(language, [])]


def bank_identity(bank: dict[str, list[str]]) -> str:
    return hashlib.sha256(json.dumps(bank, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:12]


def is_current(calibration: Calibration | None) -> bool:
    """Whether a version's null was measured with today's bundled bank and holds the pooled null."""
    return (
        calibration is not None
        and calibration.pooled is not None
        and calibration.sentence_shift is not None
        and calibration.bank == bank_identity(off_topic_bank())
    )


def measure(
    query: np.ndarray, vectors: VectorIndex, sentences: SentenceIndex, shift: Callable[[int], float] | None = None
) -> Evidence | None:
    """A question's dense evidence over a whole collection, as the query side computes it without filters."""
    ids, scores = vectors.search(query, EVIDENCE_POOL)
    return _evidence(query, ids, scores, sentences, shift)


def _evidence(
    query: np.ndarray,
    ids: np.ndarray,
    scores: np.ndarray,
    sentences: SentenceIndex,
    shift: Callable[[int], float] | None,
) -> Evidence | None:
    return evidence_of(scores, sentence_similarities(query, ids[:SENTENCE_POOL].tolist(), sentences, shift), 0.0)


def calibrate(
    embed_queries: Callable[[list[str]], np.ndarray],
    vectors: VectorIndex,
    sentences: SentenceIndex,
    languages: tuple[str, ...],
    bank: dict[str, list[str]] | None = None,
    passage_languages: Mapping[int, str] | None = None,
) -> Calibration | None:
    """Ask the off-topic bank of every configured language of the collection; None for an empty collection.

    `passage_languages` (passage id -> language) lets the sentence shift between languages be measured.
    """
    if vectors.count() == 0:
        return None
    bank = bank if bank is not None else off_topic_bank()
    by_language = _sentences_by_language(sentences, passage_languages or {})
    out: dict[str, NullStats] = {}
    shift: dict[str, dict[str, float]] = {}
    everything: list[Evidence] = []
    for language in languages:
        questions = bank.get(language, [])
        if not questions:
            continue
        queries = embed_queries(questions)
        shift[language] = _sentence_shift(queries, language, by_language)
        shift_of = _shift_by_passage(shift[language], passage_languages or {})
        found_ids = vectors.search_many(queries, EVIDENCE_POOL)
        measured = [
            _evidence(q, ids, scores, sentences, shift_of) for q, (ids, scores) in zip(queries, found_ids, strict=True)
        ]
        found = [e for e in measured if e is not None]
        out[language] = _null_stats(found)
        everything += found
    return Calibration(bank_identity(bank), out, _null_stats(everything) if everything else None, shift)


def _shift_by_passage(row: dict[str, float], passage_languages: Mapping[int, str]) -> Callable[[int], float]:
    return lambda chunk_int: row.get(passage_languages.get(chunk_int, ""), 0.0)


def _sentences_by_language(sentences: SentenceIndex, passage_languages: Mapping[int, str]) -> dict[str, np.ndarray]:
    """Up to SHIFT_SAMPLE sentence vectors per passage language (an even sample of a large collection)."""
    grouped: dict[str, list[int]] = {}
    for chunk_int, language in sorted(passage_languages.items()):
        grouped.setdefault(language, []).append(chunk_int)
    out = {}
    for language, chunk_ints in grouped.items():
        step = max(1, len(chunk_ints) // SHIFT_SAMPLE)
        stacked, rows = [], 0
        # Read passages only until the sample is full (a version's sentences may still be on disk).
        for chunk_int in chunk_ints[::step]:
            if rows >= SHIFT_SAMPLE:
                break
            vectors = sentences.of(chunk_int)[1]
            if len(vectors):
                stacked.append(vectors)
                rows += len(vectors)
        if stacked:
            out[language] = np.vstack(stacked)[:SHIFT_SAMPLE]
    return out


def _sentence_shift(queries: np.ndarray, language: str, by_language: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean similarity of the bank's questions to each language's sentences, less that to their own.

    Without sentences in the question's own language the shift is measured against the language the
    questions score highest (so no language gets a boost over the collection's own).
    """
    means = {other: float((queries @ vectors.T).mean()) for other, vectors in by_language.items()}
    if not means:
        return {}
    own = means.get(language, max(means.values()))
    return {other: round(mean - own, 6) for other, mean in means.items()}


def _null_stats(found: list[Evidence]) -> NullStats:
    table = {s: np.array([e.value(s) for e in found], dtype=np.float64) for s in SIGNALS}
    return NullStats(
        len(found),
        {s: round(float(v.mean()), 6) for s, v in table.items()},
        {s: round(float(v.std()), 6) for s, v in table.items()},
        {s: round(float(np.percentile(v, 95)), 6) for s, v in table.items()},
    )
