"""Embed questions that arrive at the same moment in one forward pass.

When several agents ask at once, the request threads would otherwise run the model side by side,
each fighting for the same CPU cores. Here the first waiting thread embeds every queued question
in one batch while the others wait for their vector (leader/follower, no extra thread): a lone
question is embedded at once, and under load the model sees fewer, larger batches, which on CPU
cost less per question than one forward pass each (measured in docs/benchmarks.md).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np


class QueryEmbedder(Protocol):
    def embed_query(self, text: str) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass
class _Slot:
    text: str
    vector: np.ndarray | None = None
    error: BaseException | None = None
    done: bool = False


class QueryBatcher:
    """`embed_query` callable from many threads; concurrent calls share batches of up to `max_batch`."""

    def __init__(self, embedder: QueryEmbedder, max_batch: int = 16) -> None:
        self.embedder = embedder
        self.max_batch = max(1, max_batch)
        self._queue: list[_Slot] = []
        self._busy = False
        self._changed = threading.Condition()

    def embed_query(self, text: str) -> np.ndarray:
        slot = _Slot(text)
        with self._changed:
            self._queue.append(slot)
            while self._busy and not slot.done:
                self._changed.wait()
            if not slot.done:
                self._busy = True  # this thread leads until its own question is embedded
        while not slot.done:
            with self._changed:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            self._run(batch)
            with self._changed:
                if slot.done:
                    self._busy = False
                self._changed.notify_all()
        if slot.error is not None:
            raise slot.error
        assert slot.vector is not None
        return slot.vector

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.embedder.embed_queries(texts)

    def _run(self, batch: list[_Slot]) -> None:
        try:
            if len(batch) == 1:
                vectors = self.embedder.embed_query(batch[0].text)[None, :]
            else:
                vectors = self.embedder.embed_queries([s.text for s in batch])
        except Exception as exc:  # every waiting request gets the failure, none hangs
            for slot in batch:
                slot.error, slot.done = exc, True
            return
        for slot, vector in zip(batch, vectors, strict=True):
            slot.vector, slot.done = np.asarray(vector, dtype=np.float32), True
