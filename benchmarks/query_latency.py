"""Warm query latency on an index: p50/p95 of search and ask, split by stage, beside query embedding alone.

Usage: .venv/bin/python -m benchmarks.query_latency [--index DIR] [--set eval/sets/demo.jsonl] [--http]
With --http the requests go through the FastAPI app (in-process ASGI client), as the side panel sends them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from assistant.components import build_service
from assistant.settings import Settings
from benchmarks.machine import machine_info


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", type=Path, default=Path("indexes/default"))
    parser.add_argument("--set", type=Path, default=Path("eval/sets/demo.jsonl"))
    parser.add_argument("--http", action="store_true", help="measure through the HTTP app")
    args = parser.parse_args()
    settings = Settings(index_dir=args.index)
    service = build_service(settings)
    service.load()
    questions = [json.loads(line)["question"] for line in args.set.read_text(encoding="utf-8").splitlines() if line]
    # Warm-up: model, language detector, stemmers, Thai segmenter.
    for question in questions[:5]:
        service.ask(question, 5)

    embed_ms = []
    for question in questions:
        # A fresh string each time, so the query cache cannot answer.
        started = time.perf_counter()
        service.embedder.embed_query(question + " ?")
        embed_ms.append((time.perf_counter() - started) * 1000)

    stages: dict[str, dict[str, list[float]]] = {"search": {}, "ask": {}}
    totals: dict[str, list[float]] = {"search": [], "ask": []}
    if args.http:
        from fastapi.testclient import TestClient

        from assistant.api import create_app

        client = TestClient(create_app(service, settings))
    for kind in ("search", "ask"):
        service._query_cache.clear()  # cold query cache: every question is embedded
        for question in questions:
            started = time.perf_counter()
            if args.http:
                body = {"query": question} if kind == "search" else {"question": question}
                response = client.post(f"/v1/{kind}", json=body)
                response.raise_for_status()
                timings = response.json()["timings_ms"]
            elif kind == "search":
                result, _ = service.search(question, 10)
                timings = result.timings_ms
            else:
                answer, _ = service.ask(question, 5)
                timings = answer.timings_ms
            totals[kind].append((time.perf_counter() - started) * 1000)
            for stage, value in timings.items():
                stages[kind].setdefault(stage, []).append(value)

    print(
        f"Machine: {machine_info()}  \nIndex: {args.index} ({len(service.retriever().index.chunks)} chunks), "
        f"{len(questions)} questions from {args.set}, {'HTTP' if args.http else 'in-process'}\n"
    )
    print("| measure | p50 ms | p95 ms |\n|---|---:|---:|")
    print(f"| query embedding alone | {statistics.median(embed_ms):.1f} | {percentile(embed_ms, 0.95):.1f} |")
    for kind in ("search", "ask"):
        print(
            f"| **{kind}** end to end | {statistics.median(totals[kind]):.1f} | {percentile(totals[kind], 0.95):.1f} |"
        )
        for stage in ("embedding", "dense_search", "keyword_search", "fusion", "answer"):
            if stage in stages[kind]:
                values = stages[kind][stage]
                print(f"| {kind}: {stage} | {statistics.median(values):.2f} | {percentile(values, 0.95):.2f} |")
    ratio = statistics.median(totals["search"]) / statistics.median(embed_ms)
    print(
        f"\nsearch p50 / query-embedding p50 = {ratio:.2f} (target <= 1.5); "
        f"ask p50 = {statistics.median(totals['ask']):.0f} ms (target < 250)"
    )


if __name__ == "__main__":
    main()
