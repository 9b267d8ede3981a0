"""The two embedding runtimes side by side: ONNX Runtime (the default) vs torch, same model, same texts.

Usage: .venv/bin/python -m benchmarks.onnx_embedding [--index DIR] [--repeat 2] [--queries 60]
Builds both embedders exactly as the product does (`ASSISTANT_EMBEDDING_BACKEND=onnx|torch`; the
ONNX export is made once by `make setup`, or here if missing), embeds the index's passages with each
(token-length batches, as ingest does) and times single questions of the demo eval set as the
service embeds them. Prints the Markdown table and the cosine between the two runtimes' vectors.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from assistant.components import build_embedder
from assistant.settings import Settings
from benchmarks.machine import machine_info
from ingest.chunker import embedding_text
from ingest.embedder import Embedder
from ingest.store.layout import IndexStore


def single_question_ms(embedder: Embedder, questions: list[str]) -> tuple[float, float]:
    """p50 and p95 of one question at a time (the first call, a warm-up, is not counted)."""
    embedder.embed_query(questions[0])
    times = []
    for question in questions:
        started = time.perf_counter()
        embedder.embed_query(question)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), sorted(times)[int(len(times) * 0.95)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", type=Path, default=Path("indexes/default"))
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--queries", type=int, default=60)
    args = parser.parse_args()
    settings = Settings()
    embedders: dict[str, Embedder] = {}
    for backend in ("torch", "onnx"):
        lazy = build_embedder(settings.model_copy(update={"embedding_backend": backend}))
        embedders[backend] = lazy.loaded
        if lazy.backend != backend:
            raise SystemExit(f"the {backend} runtime did not load (got {lazy.backend}); see the warnings above")
    texts = [embedding_text(c) for c in IndexStore(args.index).load().chunks.values()]
    lines = Path("eval/sets/demo.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()][: args.queries]
    for embedder in embedders.values():
        embedder.embed_documents(texts[:4])  # first-call warm-up, outside the timings
    seconds: dict[str, list[float]] = {name: [] for name in embedders}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(max(1, args.repeat)):
        for name, embedder in embedders.items():
            started = time.perf_counter()
            vectors[name] = embedder.embed_documents(texts)
            seconds[name].append(time.perf_counter() - started)
    query_ms = {name: single_question_ms(embedder, questions) for name, embedder in embedders.items()}
    cosine = np.sum(vectors["torch"] * vectors["onnx"], axis=1)
    print(f"Machine: {machine_info()}  \n{len(texts)} passages of {args.index}; {len(questions)} single questions\n")
    print("| runtime (fp32) | passages s (median) | passages/s | query p50 ms | query p95 ms |")
    print("|---|---:|---:|---:|---:|")
    for name in embedders:
        s = statistics.median(seconds[name])
        p50, p95 = query_ms[name]
        print(f"| {name} | {s:.1f} | {len(texts) / s:.2f} | {p50:.1f} | {p95:.1f} |")
    print(f"\nCosine between the runtimes' passage vectors: min {cosine.min():.7f}, mean {cosine.mean():.7f}.")


if __name__ == "__main__":
    main()
