"""Judges turn a ranked list of passages into graded items: quote matching for eval sets, qrels for BEIR."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from eval.matching import EntryMatching, ideal_count, matched_entries, quote_span, source_matches
from eval.sets import EvalItem, Relevant
from ingest.documents import Chunk


@dataclass(frozen=True)
class Question:
    """What the runner asks; `expected` only feeds reports (eval-set quotes or BEIR document ids)."""

    id: str
    text: str
    lang: str | None = None
    answerable: bool = True
    expected: tuple[dict[str, str], ...] = ()


@dataclass
class RankedItem:
    """One ranked result: a passage's source (eval sets) or a document id (BEIR), with its gain."""

    key: str
    text: str
    gain: float


@dataclass
class Judged:
    """A judged ranking: items in rank order, the ideal gains, and how many relevant items were found."""

    items: list[RankedItem]
    ideal: list[float]
    found: int
    total: int
    notes: list[str] = field(default_factory=list)


class Judge(Protocol):
    """Decides relevance for one collection of questions."""

    def rank(self, question: Question, chunks: Sequence[Chunk], depth: int) -> Judged: ...

    def relevant(self, question: Question, chunk: Chunk) -> bool: ...

    def key(self, chunk: Chunk) -> str: ...

    def gold_spans(self, question: Question, chunk: Chunk) -> list[tuple[int, int]] | None:
        """Where the gold answer sits in the passage's text; None when the judge knows no quotes (BEIR)."""
        ...


def eval_set_questions(items: Iterable[EvalItem], default_lang: str | None = None) -> list[Question]:
    return [
        Question(
            item.id,
            item.question,
            item.lang or default_lang,
            item.answerable,
            tuple({"source": r.source, "quote": r.quote} for r in item.relevant),
        )
        for item in items
    ]


class QuoteJudge:
    """Eval-set relevance by source and quote (see eval.matching); ideal counts come from the whole index."""

    def __init__(self, items: Iterable[EvalItem], index_chunks: Iterable[Chunk]) -> None:
        self._relevant: dict[str, tuple[Relevant, ...]] = {item.id: item.relevant for item in items}
        self._by_source: dict[str, list[Chunk]] = defaultdict(list)
        for chunk in index_chunks:
            self._by_source[chunk.source].append(chunk)
        self._ideal: dict[str, tuple[int, list[str]]] = {}

    def _candidates(self, relevant: Sequence[Relevant]) -> list[Chunk]:
        wanted = {r.source for r in relevant}
        return [
            chunk
            for source, chunks in self._by_source.items()
            if any(source_matches(source, w) for w in wanted)
            for chunk in chunks
        ]

    def _prepare(self, question_id: str) -> tuple[int, list[str]]:
        """Ideal count and quotes no passage of the index contains (bad quote, or lost in chunking)."""
        if question_id not in self._ideal:
            relevant = self._relevant[question_id]
            candidates = [(c.source, c.text) for c in self._candidates(relevant)]
            covered: set[int] = set()
            for source, text in candidates:
                covered |= matched_entries(source, text, relevant)
            sources = {source for source, _ in candidates}
            notes = [
                f"quote not in any passage of {r.source}: {r.quote!r}"
                if any(source_matches(s, r.source) for s in sources)
                else f"no indexed document matches source {r.source!r}"
                for i, r in enumerate(relevant)
                if i not in covered
            ]
            self._ideal[question_id] = (ideal_count(relevant, candidates), notes)
        return self._ideal[question_id]

    def rank(self, question: Question, chunks: Sequence[Chunk], depth: int) -> Judged:
        relevant = self._relevant[question.id]
        ideal, notes = self._prepare(question.id)
        matching = EntryMatching()
        covered: set[int] = set()
        items = []
        for chunk in chunks[:depth]:
            entries = matched_entries(chunk.source, chunk.text, relevant)
            covered |= entries
            gain = 1.0 if entries and matching.add(entries) else 0.0
            items.append(RankedItem(chunk.source, chunk.text, gain))
        return Judged(items, [1.0] * ideal, len(covered), len(relevant), list(notes))

    def relevant(self, question: Question, chunk: Chunk) -> bool:
        return bool(matched_entries(chunk.source, chunk.text, self._relevant[question.id]))

    def gold_spans(self, question: Question, chunk: Chunk) -> list[tuple[int, int]] | None:
        spans = []
        for entry in self._relevant.get(question.id, ()):
            if source_matches(chunk.source, entry.source):
                span = quote_span(chunk.text, entry.quote)
                if span is not None:
                    spans.append(span)
        return spans

    def key(self, chunk: Chunk) -> str:
        return chunk.source


class QrelsJudge:
    """BEIR relevance: passages map to corpus documents, each ranked once at its best passage."""

    def __init__(self, qrels: dict[str, dict[str, int]], doc_id_of: Callable[[str], str]) -> None:
        self._qrels = qrels
        self._doc_id_of = doc_id_of

    def key(self, chunk: Chunk) -> str:
        return self._doc_id_of(chunk.source)

    def rank(self, question: Question, chunks: Sequence[Chunk], depth: int) -> Judged:
        grades = self._qrels.get(question.id, {})
        items: list[RankedItem] = []
        seen: set[str] = set()
        for chunk in chunks:
            doc_id = self.key(chunk)
            if doc_id in seen:
                continue
            seen.add(doc_id)
            items.append(RankedItem(doc_id, chunk.text, float(max(grades.get(doc_id, 0), 0))))
            if len(items) >= depth:
                break
        relevant = [float(g) for g in grades.values() if g > 0]
        found = sum(1 for item in items if item.gain > 0)
        return Judged(items, sorted(relevant, reverse=True), found, len(relevant))

    def relevant(self, question: Question, chunk: Chunk) -> bool:
        return self._qrels.get(question.id, {}).get(self.key(chunk), 0) > 0

    def gold_spans(self, question: Question, chunk: Chunk) -> list[tuple[int, int]] | None:
        return None
