"""The public bodies built from answers and hits: citations with their links, the /v1/ask body, request filters."""

from __future__ import annotations

from urllib.parse import quote

from assistant.answer import Answer, Citation
from assistant.retriever import Filters, Hit
from assistant.schemas import AskOut, CitationOut, FiltersIn
from assistant.source_links import live_url

Groups = tuple[str, ...] | None


def document_url(hit: Hit, quoted: str | None = None) -> str:
    """Source items open their live page (at the quoted words); PDFs at their page; the rest in our viewer."""
    if hit.chunk.url:
        return live_url(hit.chunk.url, quoted or hit.chunk.text)
    source = quote(hit.chunk.source)
    if hit.chunk.source.lower().endswith(".pdf") and hit.chunk.page:
        return f"/v1/documents/{source}#page={hit.chunk.page}"
    return f"/v1/view/{source}#chunk-{hit.chunk.chunk_id}"


def citation_out(citation: Citation) -> CitationOut:
    chunk = citation.hit.chunk
    return CitationOut(
        n=citation.n,
        source=chunk.source,
        title=chunk.title,
        page=chunk.page,
        section=chunk.section,
        language=chunk.language,
        text=chunk.text,
        highlight=citation.highlight,
        score=round(citation.hit.score, 6),
        url=document_url(citation.hit, chunk.text[slice(*citation.highlight)] if citation.highlight else None),
    )


def to_filters(filters: FiltersIn | None, groups: Groups = None) -> Filters:
    """The request's filters plus the caller's access groups (None: sees every document)."""
    if filters is None:
        return Filters(groups=groups)
    return Filters(filters.source_prefix, tuple(filters.languages), tuple(filters.tags), groups)


def answer_out(answer: Answer, version: str, turn: tuple[str, str] | None = None) -> AskOut:
    """The /v1/ask body; `turn` is (conversation_id, answer_id) when the answer belongs to a conversation."""
    return AskOut(
        answer=answer.text,
        found=answer.found,
        language=answer.language,
        citations=[citation_out(c) for c in answer.citations],
        related=[citation_out(c) for c in answer.related],
        index_version=version,
        timings_ms=answer.timings_ms,
        conversation_id=turn[0] if turn else None,
        answer_id=turn[1] if turn else None,
        searched_for=answer.searched_for or None,
    )
