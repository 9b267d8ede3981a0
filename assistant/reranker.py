"""Optional cross-encoder reranking of the fused candidates (off unless a reranker model is configured)."""

from __future__ import annotations

from dataclasses import replace

from assistant import defaults
from assistant.retriever import Hit


class CrossEncoderReranker:
    """Re-scores (question, passage) pairs with a sentence-transformers CrossEncoder."""

    def __init__(self, name_or_path: str, candidates: int = defaults.RERANKER_CANDIDATES, batch_size: int = 16) -> None:
        from sentence_transformers import CrossEncoder

        self.model = CrossEncoder(name_or_path, device="cpu")
        self.candidates = candidates
        self.batch_size = batch_size

    def rerank(self, query: str, hits: list[Hit]) -> list[Hit]:
        """The first `candidates` hits reordered by the cross-encoder; the rest keep their order after them."""
        head, tail = hits[: self.candidates], hits[self.candidates :]
        if not head:
            return hits
        scores = self.model.predict(
            [(query, h.chunk.text) for h in head], batch_size=self.batch_size, show_progress_bar=False
        )
        rescored = [replace(h, score=float(s)) for h, s in zip(head, scores, strict=True)]
        rescored.sort(key=lambda h: -h.score)
        return rescored + tail
