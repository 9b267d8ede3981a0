"""Load test: serve the app on a loopback port, drive it with locust at several concurrency levels, print a table.

Usage:
    .venv/bin/python -m benchmarks.load_test --fake --duration 20     # fake embedder: a quick check of the plumbing
    .venv/bin/python -m benchmarks.load_test --index indexes/default  # the real model over the demo index

The server runs in its own process with one API key (sent by every simulated agent) and the rate
limit off. Each level runs locust headless for --duration seconds with closed-loop users (no think
time; --think S gives each agent a pause of about S seconds between requests), after a
single-user closed-loop run that gives the unloaded p50. Prints a Markdown table: users,
requests, throughput, p50/p95/p99 latency and error rate. Only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
WARM_UP = [
    "How many days do I have to return an item?",
    "Kuinka kauan toimitus kestää?",
    "Jak zapłacić BLIKIEM?",
    "การจัดส่งช่วงสงกรานต์ล่าช้ากี่วัน",
]


@dataclass
class Level:
    users: int
    requests: int
    failures: int
    rps: float
    p50: float
    p95: float
    p99: float

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def build_fake_index(folder: Path) -> Path:
    """Ingest the demo knowledge base with the deterministic fake embedder (no model needed)."""
    from ingest.embedding_cache import EmbeddingCache
    from ingest.store.layout import IndexStore
    from ingest.sync import sync_folder
    from tests.fakes import FakeEmbedder

    embedder = FakeEmbedder()
    cache = EmbeddingCache(folder / "cache.sqlite")
    try:
        sync_folder(ROOT / "demo" / "knowledge_base", IndexStore(folder / "index"), embedder, cache)
    finally:
        cache.close()
    return folder / "index"


def serve(index: Path, port: int, fake: bool, feedback_db: Path) -> None:
    """Child process: load the index (and model), warm up, serve until terminated."""
    import uvicorn

    from assistant.api import create_app
    from assistant.components import build_service
    from assistant.service import KnowledgeService, ServiceConfig
    from assistant.settings import Settings

    # The load test's questions must not land in the real feedback log (content gaps).
    settings = Settings(index_dir=index, rate_limit_per_minute=0, feedback_db=feedback_db)
    if fake:
        from ingest.store.layout import IndexStore
        from tests.fakes import FakeEmbedder

        embedder = FakeEmbedder()
        service = KnowledgeService(IndexStore(index), embedder, ServiceConfig(0.4))
    else:
        service = build_service(settings)
    service.load()
    # Warm the model and every language's analyser (Thai segmenter, Polish stemmer) before timing.
    for question in WARM_UP:
        service.ask(question, 5)
    uvicorn.run(create_app(service, settings), host=HOST, port=port, log_level="warning")


def wait_ready(url: str, server: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with code {server.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the server was not ready within {timeout_s:.0f} s")


def percentile(histogram: dict[float, int], q: float) -> float:
    """The q-quantile of locust's response-time histogram (rounded ms -> count)."""
    total = sum(histogram.values())
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= q * total:
            return value
    return 0.0


def run_locust(url: str, users: int, seconds: int, workdir: Path, env: dict[str, str]) -> Level:
    result = workdir / f"users{users}.json"
    # Paced agents start spread over one think time, not all in the same instant (a burst no team makes).
    think = float(env.get("LOAD_TEST_THINK_S", "0") or 0)
    spawn_rate = max(1.0, users / think) if think > 0 else users
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(ROOT / "benchmarks" / "locustfile.py"),
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        str(spawn_rate),
        "--run-time",
        f"{seconds}s",
        "--host",
        url,
        "--json-file",
        str(result.with_suffix("")),
        "--only-summary",
        "--skip-log",
        "--stop-timeout",
        "10",
    ]
    # Locust exits 1 when any request failed; the failures are in the table, so that is not an error here.
    subprocess.run(command, cwd=ROOT, env=env, capture_output=True, check=False, timeout=seconds + 120)
    entries = json.loads(result.read_text(encoding="utf-8"))
    histogram: dict[float, int] = {}
    for entry in entries:
        for value, count in entry["response_times"].items():
            histogram[float(value)] = histogram.get(float(value), 0) + count
    requests = sum(e["num_requests"] for e in entries)
    elapsed = max(e["last_request_timestamp"] for e in entries) - min(e["start_time"] for e in entries)
    return Level(
        users=users,
        requests=requests,
        failures=sum(e["num_failures"] for e in entries),
        rps=requests / elapsed if elapsed > 0 else 0.0,
        p50=percentile(histogram, 0.50),
        p95=percentile(histogram, 0.95),
        p99=percentile(histogram, 0.99),
    )


def table(levels: list[Level], single: Level) -> str:
    lines = [
        "| users | requests | throughput (req/s) | p50 (ms) | p95 (ms) | p99 (ms) | error rate |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for level in [single, *levels]:
        lines.append(
            f"| {level.users} | {level.requests} | {level.rps:.1f} | {level.p50:.0f} | {level.p95:.0f} | "
            f"{level.p99:.0f} | {level.error_rate:.2%} |"
        )
    lines.append("")
    lines.append(f"Single-user p50: {single.p50:.0f} ms; target: zero errors and p95 within 3x that.")
    for level in levels:
        met = level.failures == 0 and level.p95 <= 3 * single.p50
        lines.append(
            f"- {level.users} users: p95 {level.p95 / max(single.p50, 1e-9):.1f}x single-user p50: "
            f"{'met' if met else 'NOT met'}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=Path("indexes/default"), help="index to serve (real model)")
    parser.add_argument("--fake", action="store_true", help="fake embedder over a fresh demo index (quick)")
    parser.add_argument("--users", default="8,32", help="concurrency levels, comma-separated (default 8,32)")
    parser.add_argument("--duration", type=int, default=60, help="seconds per level (default 60)")
    parser.add_argument("--single", type=int, default=15, help="seconds of the single-user run (default 15)")
    parser.add_argument("--uncached", action="store_true", help="make every question new (no query-cache hits)")
    parser.add_argument("--think", type=float, default=0.0, help="mean seconds each agent pauses between requests")
    parser.add_argument("--query-batch-size", type=int, help="ASSISTANT_QUERY_BATCH_SIZE for the server (1 = off)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON after the table")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--feedback-db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.index, args.port, args.fake, args.feedback_db)
        return

    from assistant.auth import generate_key, key_entry

    key = generate_key()
    with tempfile.TemporaryDirectory(prefix="load-test-") as tmp:
        workdir = Path(tmp)
        index = build_fake_index(workdir) if args.fake else args.index.resolve()
        port = free_port()
        url = f"http://{HOST}:{port}"
        server_env = {
            **os.environ,
            "ASSISTANT_API_KEYS": json.dumps([key_entry(key, "load-test", "agent", [])]),
            "PYTHONPATH": str(ROOT),
        }
        if args.query_batch_size:
            server_env["ASSISTANT_QUERY_BATCH_SIZE"] = str(args.query_batch_size)
        command = [sys.executable, "-m", "benchmarks.load_test", "--serve", "--index", str(index), "--port", str(port)]
        command += ["--feedback-db", str(workdir / "feedback.sqlite")]
        server = subprocess.Popen(command + (["--fake"] if args.fake else []), cwd=ROOT, env=server_env)
        try:
            wait_ready(url, server, timeout_s=300)
            env = {**os.environ, "LOAD_TEST_KEY": key, "LOAD_TEST_UNCACHED": "1" if args.uncached else "0"}
            single = run_locust(url, 1, args.single, workdir, {**env, "LOAD_TEST_THINK_S": "0"})
            paced = {**env, "LOAD_TEST_THINK_S": str(args.think)}
            levels = [run_locust(url, int(u), args.duration, workdir, paced) for u in args.users.split(",")]
        finally:
            server.terminate()
            server.wait(30)
    mode = "fake embedder" if args.fake else f"real model, index {args.index}"
    pacing = f"think time about {args.think:g} s" if args.think else "closed loop, no think time"
    batching = f"; query batch size {args.query_batch_size}" if args.query_batch_size else ""
    print(
        f"Load test ({mode}; {args.duration} s per level; {'uncached' if args.uncached else 'cached'} queries; "
        f"{pacing}{batching})\n"
    )
    print(table(levels, single))
    if args.json:
        print(json.dumps([level.__dict__ for level in [single, *levels]]))


if __name__ == "__main__":
    main()
