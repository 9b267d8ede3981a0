"""Sentence-transformers embedding behind a small interface, with query/document prompts."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """What ingestion and retrieval need from an embedding model. Vectors are L2-normalised float32."""

    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed_documents(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


def model_id_for(name_or_path: str) -> str:
    """A stable identity recorded in the manifest: the folder name for paths, the hub name otherwise."""
    path = Path(name_or_path)
    return path.name if path.exists() else name_or_path


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Positions grouped into batches of like token length, longest first: least padding per batch."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    return [order[first : first + batch_size] for first in range(0, len(order), batch_size)]


class SentenceTransformerEmbedder:
    """Loads any sentence-transformers model by name or path; uses its `query`/`document` prompts."""

    backend = "torch"

    def __init__(self, name_or_path: str, dim: int | None = None, batch_size: int = 16, quantize: bool = False) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(name_or_path, device="cpu", truncate_dim=dim)
        if quantize:
            import torch

            # Linear layers in int8; measured before adoption (see docs/benchmarks.md).
            self.model = torch.ao.quantization.quantize_dynamic(self.model, {torch.nn.Linear}, dtype=torch.qint8)
        self.model_id = model_id_for(name_or_path) + (f"@{dim}" if dim else "") + ("+int8" if quantize else "")
        self.dim = int(self.model.get_embedding_dimension() or 0)
        self.batch_size = batch_size
        prompts = getattr(self.model, "prompts", {}) or {}
        self._query_prompt = "query" if "query" in prompts else None
        self._document_prompt = "document" if "document" in prompts else None
        self._tokenizer = self.model.tokenizer

    def embed_documents(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Batches of texts with like token counts waste less padding (sentence-transformers sorts
        # by characters, which in mixed-language text leaves 20-40% padding on the demo corpus:
        # benchmarks/length_batching.py). Each encode call gets exactly one batch, so its own
        # reordering cannot undo ours; the caller's order is restored afterwards.
        lengths = [len(ids) for ids in self._tokenizer(list(texts), add_special_tokens=False)["input_ids"]]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for idx in length_sorted_batches(lengths, self.batch_size):
            out[idx] = self.model.encode(
                [texts[i] for i in idx],
                prompt_name=self._document_prompt,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
            )
            if progress is not None:
                progress(len(idx))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        vector = self.model.encode(
            [text], prompt_name=self._query_prompt, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vector[0], dtype=np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Many queries in batches: several times the throughput of one at a time (evaluation runs)."""
        vectors = self.model.encode(
            list(texts),
            prompt_name=self._query_prompt,
            batch_size=32,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return np.asarray(vectors, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])


_ROUGH_TOKEN = re.compile(r"[\u0E00-\u0E7F]{1,3}|\w+|[^\w\s]")


def rough_token_count(text: str) -> int:
    """Approximate subword count when no tokenizer is at hand (tests, fake embedders)."""
    return len(_ROUGH_TOKEN.findall(text))


class LazyEmbedder:
    """Defers loading the model (seconds on CPU) until a text really needs embedding or counting."""

    def __init__(self, factory: Callable[[], Embedder], model_id: str) -> None:
        self._factory = factory
        self._loaded: Embedder | None = None
        self.model_id = model_id

    @property
    def loaded(self) -> Embedder:
        if self._loaded is None:
            self._loaded = self._factory()
        return self._loaded

    @property
    def dim(self) -> int:
        return self.loaded.dim

    @property
    def backend(self) -> str | None:
        """The runtime that embeds ('onnx' or 'torch'), None until the model is loaded."""
        return None if self._loaded is None else getattr(self._loaded, "backend", None)

    def embed_documents(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        return self.loaded.embed_documents(texts, progress)

    def embed_query(self, text: str) -> np.ndarray:
        return self.loaded.embed_query(text)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.loaded.embed_queries(texts)

    def count_tokens(self, text: str) -> int:
        return self.loaded.count_tokens(text)
