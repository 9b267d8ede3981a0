"""A two-node Ray cluster on 127.0.0.1 with token auth: passages are embedded on both nodes."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
RAY = Path(sys.executable).with_name("ray")
# The ingest's side: join the cluster, embed through it, compare with embedding here.
DRIVER = """
import json, sys, time
import numpy as np
from ingest.ray_embedder import RayEmbedder
from tests.fakes import FakeEmbedder
import ray
deadline = time.monotonic() + 120
while True:
    try:
        ray.init(address=sys.argv[1], log_to_driver=False)
        break
    except ConnectionError:
        if time.monotonic() > deadline:
            raise
        time.sleep(1)
while len([n for n in ray.nodes() if n["Alive"]]) < 2:
    if time.monotonic() > deadline:
        raise TimeoutError("the worker node never joined")
    time.sleep(0.5)
texts = [f"Parcel {n} waits at the Tampere pickup point for {n % 7 + 1} days." for n in range(200)]
embedder = RayEmbedder(FakeEmbedder(), FakeEmbedder)
vectors = embedder.embed_documents(texts)
same = bool(np.allclose(vectors, FakeEmbedder().embed_documents(texts), atol=1e-6))
print(json.dumps({"same": same, "actors": embedder.pool_size(), "nodes": dict(embedder.last_nodes)}))
ray.shutdown()
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ray_node(env: dict[str, str], *args: str) -> subprocess.Popen:
    # --block keeps `ray start` in the foreground: stopping it stops that node's processes.
    command = [str(RAY), "start", *args, "--node-ip-address", "127.0.0.1", "--disable-usage-stats", "--block"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_two_nodes_share_the_embedding_work(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    port = free_port()
    address = f"127.0.0.1:{port}"
    # Token auth as in production: every node and the driver hold the same token; nothing else gets in.
    env = {
        **os.environ,
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
        "PYTHONPATH": str(ROOT),
    }
    nodes = [ray_node(env, "--head", "--port", str(port), "--num-cpus", "1", "--include-dashboard=false")]
    try:
        nodes.append(ray_node(env, "--address", address, "--num-cpus", "2"))
        run = subprocess.run(
            [sys.executable, "-c", DRIVER, address], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
        )
        assert run.returncode == 0, run.stderr[-3000:]
        result = json.loads(run.stdout.strip().splitlines()[-1])
        # Three CPUs, one left to the read tasks: two actors, spread one per node.
        assert result["same"] and result["actors"] == 2
        assert len(result["nodes"]) == 2 and sum(result["nodes"].values()) == 200
        assert min(result["nodes"].values()) > 0
        # A driver without the token is refused.
        stranger = {k: v for k, v in env.items() if k != "RAY_AUTH_TOKEN"} | {"HOME": str(tmp_path)}
        refused = subprocess.run(
            [sys.executable, "-c", f"import ray; ray.init(address='{address}')"],
            env=stranger,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert refused.returncode != 0 and "token" in refused.stderr.lower()
    finally:
        for node in reversed(nodes):
            node.terminate()
        for node in nodes:
            try:
                node.wait(timeout=60)
            except subprocess.TimeoutExpired:
                node.kill()
                node.wait(timeout=30)
