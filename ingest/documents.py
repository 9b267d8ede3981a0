"""The plain data that flows through ingestion: extracted documents, their blocks, and chunks."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Literal

BlockKind = Literal["heading", "paragraph", "table", "list"]


@dataclass(frozen=True)
class Block:
    """A structural unit of extracted text: a heading, paragraph, table or list.

    `start`/`end` are character offsets into `Document.text`, so `text[start:end]` is the block.
    `headings` is the heading path the block sits under (outermost first); a heading block's own
    path includes itself.
    """

    start: int
    end: int
    kind: BlockKind
    page: int | None = None
    headings: tuple[str, ...] = ()
    level: int = 0  # heading level (1 = top) for heading blocks, else 0


@dataclass
class Document:
    """A loaded file: its full extracted text and the blocks that structure it.

    `source` is the path relative to the ingested root with forward slashes.
    """

    source: str
    text: str
    blocks: list[Block]
    title: str | None = None
    language: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


# The fields a document's passages repeat, shared as one string by Chunk.from_dict.
_REPEATED_FIELDS = ("source", "title", "section", "language", "url")


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage to retrieve and cite. `start`/`end` are offsets into the document's extracted text.

    Slotted, as a served index holds every passage in memory (no per-passage attribute dict).
    """

    chunk_id: str
    source: str
    text: str
    start: int
    end: int
    title: str | None
    page: int | None
    section: str | None
    language: str
    ordinal: int  # position of the chunk within its document
    url: str | None = None  # the live page a source item came from; None for ingested files

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Chunk:
        """A chunk as stored (`asdict`), its source, title, section, language and url interned.

        A document's passages repeat those strings; sharing one copy saves ~100 bytes a passage of
        a loaded index (docs/benchmarks.md, Service memory by passage count).
        """
        shared = {name: sys.intern(data[name]) for name in _REPEATED_FIELDS if isinstance(data.get(name), str)}
        return cls(**{**data, **shared})
