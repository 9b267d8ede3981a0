"""The extractive "Draft reply": each answer's cited sentences with [n] markers, open questions, the sources.

No greeting and no sign-off (the agent adds their own); fixed phrases per language, never machine
translated. A source is a document: two passages of one document share its number.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from assistant.answer import Answer
from ingest.documents import Chunk

# Words around the cited sentences, in the customer's language.
FOLLOW_UP = {
    "en": "I will check the following and get back to you:",
    "fi": "Selvitän vielä seuraavat asiat ja palaan niihin pian:",
    "pl": "Sprawdzę jeszcze poniższe kwestie i wkrótce wrócę z odpowiedzią:",
    "th": "ขอตรวจสอบเรื่องต่อไปนี้เพิ่มเติม แล้วจะติดต่อกลับโดยเร็วที่สุด:",
}
SOURCES = {"en": "Sources:", "fi": "Lähteet:", "pl": "Źródła:", "th": "แหล่งที่มา:"}
_MARKER = re.compile(r"\[(\d{1,2})\]")
_REPEATED_MARKER = re.compile(r"(\[\d{1,2}\])(?:\1)+")


@dataclass(frozen=True)
class DraftSource:
    n: int
    title: str
    url: str | None  # the document's public page; None for a file from the knowledge folder
    source: str  # the document's path in the index (shown when there is no url)


@dataclass
class Draft:
    text: str
    language: str
    sources: list[DraftSource]


def phrase(table: dict[str, str], language: str) -> str:
    return table.get(language, table["en"])


class SourceNumbers:
    """Numbers documents in the order the draft first cites them."""

    def __init__(self) -> None:
        self.sources: list[DraftSource] = []
        self._by_document: dict[str, int] = {}

    def of_chunk(self, chunk: Chunk) -> int:
        """The draft's number for the document holding `chunk` (a new number on its first citation)."""
        if chunk.source not in self._by_document:
            n = len(self.sources) + 1
            self._by_document[chunk.source] = n
            self.sources.append(DraftSource(n, chunk.title or chunk.source, chunk.url, chunk.source))
        return self._by_document[chunk.source]


def rewrite_markers(text: str, lookup: Callable[[int], int | None]) -> str:
    """Each [n] replaced by [lookup(n)] (dropped when None); a marker repeated back to back is kept once."""

    def marker(match: re.Match[str]) -> str:
        n = lookup(int(match.group(1)))
        return f"[{n}]" if n is not None else ""

    return _REPEATED_MARKER.sub(r"\1", _MARKER.sub(marker, text))


def renumber(answer: Answer, numbers: SourceNumbers) -> str:
    """The answer's text with its citation numbers rewritten to the draft's document numbers."""
    chunks = {c.n: c.hit.chunk for c in answer.citations}
    return rewrite_markers(answer.text, lambda n: numbers.of_chunk(chunks[n]) if n in chunks else None)


def source_lines(sources: list[DraftSource], language: str) -> str:
    lines = [f"[{s.n}] {s.title} ({s.url or s.source})" for s in sources]
    return "\n".join([phrase(SOURCES, language), *lines]) if lines else ""


def follow_up_block(open_questions: list[str], language: str) -> str:
    """The questions the knowledge base could not answer, handed honestly to a human."""
    if not open_questions:
        return ""
    return "\n".join([phrase(FOLLOW_UP, language), *(f"- {q}" for q in open_questions)])


def assemble(body: list[str], open_questions: list[str], sources: list[DraftSource], language: str) -> str:
    """Answer paragraphs, then the open questions, then the numbered sources, separated by blank lines."""
    parts = [*body, follow_up_block(open_questions, language), source_lines(sources, language)]
    return "\n\n".join(p for p in parts if p)


def is_answered(answer: Answer) -> bool:
    return answer.found and bool(answer.citations)


def extractive_draft(answered: list[tuple[str, Answer]], language: str) -> Draft:
    """One paragraph per answered question, in the ticket's order; "not found" ones listed for follow-up."""
    numbers = SourceNumbers()
    # Two questions answered by the same sentences get one paragraph.
    body = list(dict.fromkeys(renumber(a, numbers) for _, a in answered if is_answered(a)))
    open_questions = [q for q, a in answered if not is_answered(a)]
    return Draft(assemble(body, open_questions, numbers.sources, language), language, numbers.sources)
