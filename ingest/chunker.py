"""Structure-aware chunking: passages follow headings, paragraphs and sentences, sized in model tokens."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from assistant import defaults
from ingest.documents import Block, Chunk, Document
from ingest.sentences import sentence_spans

TokenCounter = Callable[[str], int]


@dataclass
class _Piece:
    start: int
    end: int
    tokens: int
    block: Block


def _split_oversized(text: str, start: int, end: int, count: TokenCounter, limit: int) -> list[tuple[int, int]]:
    """Cut a single over-long sentence at whitespace (or anywhere, for spaceless text) to fit `limit`."""
    pieces: list[tuple[int, int]] = []
    while start < end:
        span = text[start:end]
        if count(span) <= limit:
            pieces.append((start, end))
            break
        # Estimate the cut from the token density, then back off to the previous space.
        cut = start + max(1, int(len(span) * limit / count(span) * 0.9))
        space = text.rfind(" ", start + 1, cut)
        cut = space if space > start else cut
        pieces.append((start, cut))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    return pieces


def _pieces(doc: Document, count: TokenCounter, limit: int) -> list[_Piece]:
    """Body blocks as pieces of at most `limit` tokens: whole blocks where they fit, else sentence runs."""
    out: list[_Piece] = []
    for block in doc.blocks:
        if block.kind == "heading":
            continue
        tokens = count(doc.text[block.start : block.end])
        if tokens <= limit:
            out.append(_Piece(block.start, block.end, tokens, block))
            continue
        run_start, run_end, run_tokens = -1, -1, 0
        for s, e in sentence_spans(doc.text, block.start, block.end):
            for ps, pe in _split_oversized(doc.text, s, e, count, limit):
                n = count(doc.text[ps:pe])
                if run_start >= 0 and run_tokens + n > limit:
                    out.append(_Piece(run_start, run_end, run_tokens, block))
                    run_start = -1
                if run_start < 0:
                    run_start, run_tokens = ps, 0
                run_end, run_tokens = pe, run_tokens + n
        if run_start >= 0:
            out.append(_Piece(run_start, run_end, run_tokens, block))
    return out


def _fold_preambles(groups: list[list[_Piece]], max_tokens: int, min_tokens: int) -> list[list[_Piece]]:
    """Join a tiny lead-in ("Updated 10 February 2025") to the first passage of the subsection after it.

    Alone, such a line becomes a passage that carries little more than the document title, ranks
    for any question about the document and cites nothing useful.
    """
    out: list[list[_Piece]] = []
    for group in groups:
        previous = out[-1] if out else None
        if previous is not None:
            outer, inner = previous[-1].block, group[0].block
            size = sum(p.tokens for p in previous) + sum(p.tokens for p in group)
            if (
                sum(p.tokens for p in previous) < min_tokens
                and inner.headings[: len(outer.headings)] == outer.headings
                and len(inner.headings) > len(outer.headings)
                and inner.page == outer.page
                and size <= max_tokens + min_tokens
            ):
                previous.extend(group)
                continue
        out.append(group)
    return out


def chunk_id(source: str, ordinal: int, text: str) -> str:
    return hashlib.sha256(f"{source}\x00{ordinal}\x00{text}".encode()).hexdigest()[:16]


def chunk_document(
    doc: Document,
    count_tokens: TokenCounter,
    max_tokens: int = defaults.CHUNK_MAX_TOKENS,
    min_tokens: int = defaults.CHUNK_MIN_TOKENS,
    language_of: Callable[[str], str] | None = None,
) -> list[Chunk]:
    """Group a document's pieces into chunks that never cross a section or a page and stay under `max_tokens`.

    A chunk smaller than `min_tokens` joins the previous chunk of the same section when the two
    together stay within `max_tokens + min_tokens`, so no passage is a lonely line.
    """
    groups: list[list[_Piece]] = []
    for piece in _pieces(doc, count_tokens, max_tokens):
        current = groups[-1] if groups else None
        # A page break ends a chunk like a section change does, so a chunk's page is the page of all its text.
        same_section = (
            current is not None
            and current[-1].block.headings == piece.block.headings
            and current[-1].block.page == piece.block.page
        )
        size = sum(p.tokens for p in current) if current else 0
        if (
            current is not None
            and same_section
            and size + piece.tokens <= max_tokens
            or (
                current is not None
                and same_section
                and min(size, piece.tokens) < min_tokens
                and size + piece.tokens <= max_tokens + min_tokens
            )
        ):
            current.append(piece)
        else:
            groups.append([piece])
    groups = _fold_preambles(groups, max_tokens, min_tokens)
    chunks = []
    for ordinal, group in enumerate(groups):
        start, end = group[0].start, group[-1].end
        text = doc.text[start:end]
        # The deepest heading path: a folded preamble sits under its parent, the rest under this one.
        headings = group[-1].block.headings
        language = doc.language or "und"
        if language_of is not None and len(text) >= 40:
            language = language_of(text)
        chunks.append(
            Chunk(
                chunk_id=chunk_id(doc.source, ordinal, text),
                source=doc.source,
                text=text,
                start=start,
                end=end,
                title=doc.title,
                page=group[0].block.page,
                section=" > ".join(headings) if headings else None,
                language=language,
                ordinal=ordinal,
            )
        )
    return chunks


def embedding_text(chunk: Chunk) -> str:
    """What gets embedded and keyword-indexed: the passage under its title and heading path."""
    context = list(dict.fromkeys(x for x in [chunk.title, *(chunk.section or "").split(" > ")] if x))
    return (" > ".join(context) + "\n\n" + chunk.text) if context else chunk.text
