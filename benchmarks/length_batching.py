"""Length batching: what sending passages to the model longest first saves over document order.

Usage: .venv/bin/python -m benchmarks.length_batching [--index DIR] [--repeat 3] [--no-time]
Takes every passage of an index (in the order ingest produced them) and compares three ways of cutting
them into batches of `embedding_batch_size`: document order, where a short FAQ line shares a batch
with a 200-token section and is padded to its length; longest first by characters, which is what one
`SentenceTransformer.encode` call over all texts does; and longest first by model tokens, as
`embed_with_cache` and `SentenceTransformerEmbedder.embed_documents` do. Prints the padded token
counts (exact, from the model's tokenizer) and, unless --no-time, the encode time of each order
(medians of --repeat alternating runs; the same texts, the same model, the same batch size).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

from assistant.components import build_embedder
from assistant.settings import Settings
from benchmarks.machine import machine_info
from ingest.chunker import embedding_text
from ingest.embedder import length_sorted_batches
from ingest.store.layout import IndexStore


def padded_tokens(lengths: Sequence[int], batch_size: int) -> int:
    """Tokens the model computes when each batch is padded to its longest member."""
    return sum(
        len(lengths[i : i + batch_size]) * max(lengths[i : i + batch_size]) for i in range(0, len(lengths), batch_size)
    )


def _encode_in_order(model: object, texts: list[str], batch_size: int) -> float:
    """Each batch encoded as cut: sentence-transformers only reorders within one encode call."""
    started = time.perf_counter()
    for first in range(0, len(texts), batch_size):
        model.encode(texts[first : first + batch_size], prompt_name="document", batch_size=batch_size)  # type: ignore[attr-defined]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", type=Path, default=Path("indexes/default"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-time", action="store_true", help="only count padded tokens")
    args = parser.parse_args()
    settings = Settings()
    batch = settings.embedding_batch_size
    texts = [embedding_text(c) for c in IndexStore(args.index).load().chunks.values()]
    # sentence-transformers' own encode is what is measured here, so the torch runtime.
    embedder = build_embedder(settings.model_copy(update={"embedding_backend": "torch"})).loaded
    lengths = [embedder.count_tokens(t) for t in texts]
    orders = {
        "document order": list(range(len(texts))),
        # What one `SentenceTransformer.encode` call over all texts does (the raw-encode baseline).
        "longest first by characters": sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True),
        # The product's own batch plan, so this row measures exactly what ingest does.
        "longest first by tokens (ours)": [i for batch in length_sorted_batches(lengths, batch) for i in batch],
    }
    times: dict[str, list[float]] = {name: [] for name in orders}
    if not args.no_time:
        model = embedder.model  # type: ignore[attr-defined]
        _encode_in_order(model, texts[:batch], batch)  # first-call warm-up, outside the rows
        for _ in range(max(1, args.repeat)):
            for name, order in orders.items():
                times[name].append(_encode_in_order(model, [texts[i] for i in order], batch))
    useful = sum(lengths)
    print(f"Machine: {machine_info()}  \n{len(texts)} passages of {args.index}, batch size {batch}\n")
    print("| order | padded tokens computed | padding overhead | encode seconds (median) | runs |")
    print("|---|---:|---:|---:|---|")
    for name, order in orders.items():
        tokens = padded_tokens([lengths[i] for i in order], batch)
        seconds = f"{statistics.median(times[name]):.1f}" if times[name] else "–"
        runs = ", ".join(f"{t:.1f}" for t in times[name]) or "–"
        print(f"| {name} | {tokens} | {tokens / useful - 1:.1%} | {seconds} | {runs} |")


if __name__ == "__main__":
    main()
