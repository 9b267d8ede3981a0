"""When a retrieved passage counts as relevant to an eval-set question: its source and a quote match.

A passage is relevant to an entry when its source matches the entry's `source` (the relative path,
the file name, or the file name without extension) and its text contains the entry's `quote`, both
compared NFKC-normalised, casefolded and with all whitespace removed (so line breaks from PDF or
DOCX extraction do not matter).

Graded ranking over several entries: a passage earns gain 1 when it lets distinct passages account
for one more entry than the passages ranked above it could (a maximum bipartite matching of entries
to passages grows by one). With one entry this is "the first passage containing it"; with several,
two passages that both only contain the same quote earn one gain, not two, while a passage holding
two quotes cannot be counted twice. The ideal ranking is the same matching over the whole index,
plus every entry no passage contains (so a quote lost to chunking still costs nDCG and recall).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath

from eval.sets import Relevant

_WHITESPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """The comparison form of quotes and passages: NFKC, casefolded, no whitespace at all."""
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", text).casefold())


def quote_span(text: str, quote: str) -> tuple[int, int] | None:
    """Where `quote` sits in `text` as character offsets, compared like `normalise` (first occurrence)."""
    folded: list[str] = []
    origin: list[int] = []
    for position, char in enumerate(text):
        for piece in normalise(char):
            folded.append(piece)
            origin.append(position)
    wanted = normalise(quote)
    found = "".join(folded).find(wanted) if wanted else -1
    if found < 0:
        return None
    return origin[found], origin[found + len(wanted) - 1] + 1


def source_matches(chunk_source: str, wanted: str) -> bool:
    """True when `wanted` names the chunk's file by relative path, file name, or file name stem."""
    path = PurePosixPath(chunk_source)
    return wanted in (chunk_source, path.name, path.stem)


def matched_entries(source: str, text: str, relevant: Sequence[Relevant]) -> frozenset[int]:
    """Indexes of the entries of `relevant` that the passage (source, text) satisfies."""
    body = normalise(text)
    return frozenset(
        i for i, entry in enumerate(relevant) if source_matches(source, entry.source) and normalise(entry.quote) in body
    )


class EntryMatching:
    """Incremental maximum matching of relevant entries to distinct passages (Kuhn's augmenting paths)."""

    def __init__(self) -> None:
        self._owner: dict[int, int] = {}  # entry -> passage that accounts for it
        self._entries: list[frozenset[int]] = []

    def add(self, entries: frozenset[int]) -> bool:
        """Add the next passage; True when it increases the number of entries accounted for."""
        self._entries.append(entries)
        return self._augment(len(self._entries) - 1, set())

    def _augment(self, passage: int, visited: set[int]) -> bool:
        for entry in self._entries[passage]:
            if entry in visited:
                continue
            visited.add(entry)
            owner = self._owner.get(entry)
            if owner is None or self._augment(owner, visited):
                self._owner[entry] = passage
                return True
        return False

    @property
    def size(self) -> int:
        return len(self._owner)


def ideal_count(relevant: Sequence[Relevant], passages: Iterable[tuple[str, str]]) -> int:
    """Most passages that can each earn gain 1, counting every entry no passage contains as one more."""
    matching = EntryMatching()
    containing: set[int] = set()
    for source, text in passages:
        entries = matched_entries(source, text, relevant)
        if entries:
            containing |= entries
            matching.add(entries)
    return matching.size + (len(relevant) - len(containing))
