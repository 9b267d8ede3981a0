"""What follow-up resolution adds to a turn, against one query embedding: p50/p95 over a conversation set.

For every later turn of the set, with the query cache cleared each time: the turn searched as the
service does (detection, both variants embedded in one batched call, two searches, fusion) and the
same question searched on its own; the difference is what resolution adds. Target: at most 1.2x
one query embedding (p50).

Usage: .venv/bin/python -m benchmarks.followup_latency --index DIR [--set eval/sets/demo_conversations.jsonl]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from assistant.components import build_service
from assistant.conversations import Turn
from assistant.history_search import search_turn
from assistant.settings import Settings
from benchmarks.machine import machine_info
from benchmarks.query_latency import percentile
from eval.conversation_sets import load_conversation_set

ROUNDS = 3  # each measurement is repeated; the median of the rounds counts, damping a busy machine


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", type=Path, default=Path("indexes/default"))
    parser.add_argument("--set", type=Path, default=Path("eval/sets/demo_conversations.jsonl"))
    args = parser.parse_args()
    service = build_service(Settings(index_dir=args.index))
    service.load()
    retriever = service.retriever()
    cache = service._query_cache
    turns = []
    for dialogue in load_conversation_set(args.set):
        questions = [t.item.question for t in dialogue.turns]
        for n in range(1, len(questions)):
            history = [Turn(q, q, dialogue.lang or "en") for q in questions[:n]]
            turns.append((questions[n], history))
    # Warm-up: model, language detector, stemmers, Thai segmenter.
    for question, history in turns[:8]:
        search_turn(retriever, question, 5, history=history)

    embed, plain, resolved, batched = [], [], [], []
    is_follow_up: list[bool] = []
    for question, history in turns:
        rounds: dict[str, list[float]] = {"embed": [], "plain": [], "resolved": [], "batched": []}
        for _ in range(ROUNDS):
            started = time.perf_counter()
            service.embedder.embed_query(question + " ?")  # a fresh string: no cache can answer
            rounds["embed"].append(_ms(started))
            cache.clear()
            started = time.perf_counter()
            retriever.search(question, 5)
            rounds["plain"].append(_ms(started))
            cache.clear()
            started = time.perf_counter()
            turn = search_turn(retriever, question, 5, history=history)
            rounds["resolved"].append(_ms(started))
            rounds["batched"].append(turn.result.timings_ms.get("embedding", 0.0))
        is_follow_up.append(turn.follow_up)
        embed.append(statistics.median(rounds["embed"]))
        plain.append(statistics.median(rounds["plain"]))
        resolved.append(statistics.median(rounds["resolved"]))
        batched.append(statistics.median(rounds["batched"]))
    added = [r - p for r, p in zip(resolved, plain, strict=True)]
    added_follow_ups = [a for a, f in zip(added, is_follow_up, strict=True) if f]
    follow_ups = len(added_follow_ups)
    print(
        f"Machine: {machine_info()}  \nIndex: {args.index} ({len(retriever.index.chunks)} chunks), "
        f"{len(turns)} later turns from {args.set} ({follow_ups} resolved as follow-ups), median of {ROUNDS} rounds\n"
    )
    print("| measure | p50 ms | p95 ms |\n|---|---:|---:|")
    rows = [
        ("one query embedding", embed),
        ("turn searched alone (no history)", plain),
        ("turn searched with its history (resolution)", resolved),
        ("embedding inside the resolution (both variants, one batch)", batched),
        ("added by resolution, every later turn", added),
        (f"**added by resolution, the {follow_ups} follow-ups**", added_follow_ups),
    ]
    for name, values in rows:
        print(f"| {name} | {statistics.median(values):.1f} | {percentile(values, 0.95):.1f} |")
    ratio = statistics.median(added_follow_ups) / statistics.median(embed)
    print(f"\nAdded to a follow-up by resolution / one query embedding (p50): {ratio:.2f}x (target at most 1.2x)")


if __name__ == "__main__":
    main()
