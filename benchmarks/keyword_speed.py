"""Keyword search time at ~100k passages: the BM25 index alone, as the retriever calls it per question.

Usage: .venv/bin/python -m benchmarks.keyword_speed [--copies 20] [--queries 400] [--datasets ../shared/datasets]
Indexes SciFact's 5,183 abstracts `--copies` times (20: 103,660 passages, each term's document
frequency scaled as in a larger corpus of the same kind), then times `search(terms, 50)` plus
`max_score(terms)` for each SciFact query: the best of 5 runs per query, median and mean over queries.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ingest.analyzer import analyze
from ingest.store.backends import create_keyword_index


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    args = parser.parse_args(argv)
    scifact = args.datasets / "scifact"
    with (scifact / "corpus.jsonl").open(encoding="utf-8") as handle:
        docs = [json.loads(line) for line in handle if line.strip()]
    with (scifact / "queries.jsonl").open(encoding="utf-8") as handle:
        queries = [analyze(json.loads(line)["text"], "en") for line in handle if line.strip()][: args.queries]
    terms = [analyze(f"{d.get('title', '')}\n{d['text']}", "en") for d in docs] * args.copies
    index = create_keyword_index()
    index.add(np.arange(1, len(terms) + 1, dtype=np.int64), terms)
    started = time.perf_counter()
    index.warm()
    warm_s = time.perf_counter() - started
    best = []
    for query in queries:
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            index.search(query, 50)
            index.max_score(query)
            runs.append(time.perf_counter() - started)
        best.append(min(runs) * 1000)
    print(f"{len(terms):,} passages, {len(queries)} queries; warm() {warm_s:.2f} s")
    print(f"search + max_score: median {statistics.median(best):.3f} ms, mean {statistics.fmean(best):.3f} ms")


if __name__ == "__main__":
    main()
