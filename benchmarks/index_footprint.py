"""Bytes per passage of built indexes, on disk and in memory: the measured inputs of deploy/README.md's sizing.

Usage: .venv/bin/python -m benchmarks.index_footprint [INDEX_DIR ...] [--embedding-cache FILE]
Default: the demo index and every cached BEIR index with a live version. For each, the live
version's passages and sentences, each file's bytes per passage, and the resident memory that
loading the version adds (`IndexStore.load`, measured in a fresh process so one load does not
reuse another's memory). With --embedding-cache: that SQLite file's bytes per cached vector.
"""

from __future__ import annotations

import argparse
import gc
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from assistant.settings import Settings
from ingest.store.layout import IndexStore


def resident_kib() -> int:
    """This process's resident set (VmRSS) in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def load_cost(root: Path) -> dict[str, int]:
    """Passages in the live version and the bytes of resident memory loading it adds."""
    # The backends' libraries are imported first: their import is a fixed cost, not the index's.
    import faiss  # noqa: F401
    import qdrant_client  # noqa: F401
    import scipy.sparse  # noqa: F401

    gc.collect()
    before = resident_kib()
    index = IndexStore(root).load()
    gc.collect()
    return {"passages": len(index.chunks), "rss_bytes": (resident_kib() - before) * 1024}


def footprint(root: Path, rss_bytes: int | None = None) -> dict[str, Any]:
    """Passages, sentences and bytes per passage of each file the live version of `root` reads.

    Files of one name in several segments are summed (rows a version no longer holds included).
    """
    store = IndexStore(root)
    if store.current_version() is None:
        raise ValueError(f"{root} has no published version")
    # Sentence files mapped, not read: only their rows tables are loaded to count.
    index = store.load(verify=False, map_sentences=True)
    passages, sentences = len(index.chunks), index.sentences.count()
    sizes: dict[str, int] = {}
    for path in store.files():
        sizes[path.name] = sizes.get(path.name, 0) + path.stat().st_size
    files = {name: round(size / passages) for name, size in sorted(sizes.items())}
    row: dict[str, Any] = {"index": str(root), "passages": passages, "sentences": sentences, "bytes_per_passage": files}
    if rss_bytes is not None:
        row["rss_bytes_per_passage"] = round(rss_bytes / passages)
    return row


def cache_bytes_per_vector(path: Path) -> tuple[int, int]:
    """(vectors, bytes per vector) of an embedding cache file."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        (count,) = db.execute("SELECT count(*) FROM vectors").fetchone()
    return count, round(path.stat().st_size / max(count, 1))


def default_indexes() -> list[Path]:
    found = [Path("indexes/default")] + sorted((Settings().cache_dir / "beir").glob("*/index"))
    return [p for p in found if (p / "CURRENT").exists()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("indexes", nargs="*", type=Path)
    parser.add_argument("--embedding-cache", type=Path)
    parser.add_argument("--load-cost", type=Path, help=argparse.SUPPRESS)  # the fresh process's job
    args = parser.parse_args()
    if args.load_cost:
        print(json.dumps(load_cost(args.load_cost)))
        return
    print(
        "| index | passages | sentences | sentences / passage | bytes / passage by file "
        "| RSS added by loading, B / passage |"
    )
    print("|---|---:|---:|---:|---|---:|")
    for root in args.indexes or default_indexes():
        if not (root / "CURRENT").exists():
            print(f"| {root} | no published version, skipped | | | | |")
            continue
        measured = subprocess.run(
            [sys.executable, "-m", "benchmarks.index_footprint", "--load-cost", str(root)],
            check=True,
            capture_output=True,
            text=True,
        )
        row = footprint(root, json.loads(measured.stdout.splitlines()[-1])["rss_bytes"])
        files = ", ".join(f"{name} {size:,}" for name, size in row["bytes_per_passage"].items())
        print(
            f"| {root} | {row['passages']:,} | {row['sentences']:,} | {row['sentences'] / row['passages']:.2f} "
            f"| {files} | {row['rss_bytes_per_passage']:,} |"
        )
    if args.embedding_cache:
        count, size = cache_bytes_per_vector(args.embedding_cache)
        print(f"\nembedding cache {args.embedding_cache}: {count:,} vectors, {size:,} B per vector")


if __name__ == "__main__":
    main()
