"""int8 dynamic quantization of the embedding model: speed gained vs embeddings and rankings changed.

Usage: .venv/bin/python -m benchmarks.int8_embedding [--index DIR] [--passages 48]
Encodes the first passages of an index with the fp32 and the int8 model, and compares the top-5
passages that demo questions retrieve among them.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from assistant.settings import Settings
from benchmarks.machine import machine_info
from ingest.chunker import embedding_text
from ingest.embedder import SentenceTransformerEmbedder
from ingest.store.layout import IndexStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", type=Path, default=Path("indexes/default"))
    parser.add_argument("--passages", type=int, default=48)
    parser.add_argument("--set", type=Path, default=Path("eval/sets/demo.jsonl"))
    args = parser.parse_args()
    index = IndexStore(args.index).load()
    texts = [embedding_text(c) for c in list(index.chunks.values())[: args.passages]]
    lines = args.set.read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line][:20]
    path = Settings().model_path_or_name
    runs = {}
    for quantize in (False, True):
        embedder = SentenceTransformerEmbedder(path, quantize=quantize)
        embedder.embed_documents(texts[:4])
        started = time.perf_counter()
        docs = embedder.embed_documents(texts)
        doc_s = time.perf_counter() - started
        started = time.perf_counter()
        queries = np.vstack([embedder.embed_query(q) for q in questions])
        query_ms = (time.perf_counter() - started) / len(questions) * 1000
        runs[quantize] = (docs, queries, doc_s, query_ms)
    (d32, q32, s32, m32), (d8, q8, s8, m8) = runs[False], runs[True]
    cosine = np.sum(d32 * d8, axis=1)
    top5 = np.mean(
        [len(set(np.argsort(-d32 @ a)[:5]) & set(np.argsort(-d8 @ b)[:5])) / 5 for a, b in zip(q32, q8, strict=True)]
    )
    print(f"Machine: {machine_info()}  \n{len(texts)} passages of {args.index}, {len(questions)} questions\n")
    print("| model | passages/s | query ms |\n|---|---:|---:|")
    print(f"| fp32 | {len(texts) / s32:.2f} | {m32:.0f} |\n| int8 dynamic | {len(texts) / s8:.2f} | {m8:.0f} |")
    print(
        f"\nint8 vs fp32 passage embeddings: mean cosine {cosine.mean():.3f}, min {cosine.min():.3f}; "
        f"top-5 passages agree {top5:.0%} over the questions"
    )


if __name__ == "__main__":
    main()
