"""Passages embedded across a Ray cluster: Ray Data `map_batches` over a pool of embedding actors.

Only `embed_documents` fans out; the caller (`embed_with_cache`) still reads the embedding cache first
and writes what comes back, so the cache stays authoritative and a Ray run has the same hits as a
local one. Questions, token counts and the model identity stay with the local embedder.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ingest.embedder import Embedder

log = logging.getLogger(__name__)

# CPUs left to Ray Data's own read and split tasks: with every CPU held by an actor they never get
# scheduled and the pipeline hangs.
READ_HEADROOM_CPUS = 1
# Texts per actor call: small enough that a few hundred passages still spread over every actor.
RAY_BATCH_SIZE = 32
# How long a run waits for its embedding actors to load the model before it gives up.
ACTOR_START_TIMEOUT_S = 600


class _EmbedActor:
    """One model per actor, loaded once by `factory` (shipped by Ray), then batch after batch."""

    def __init__(self, factory: Callable[[], Embedder]) -> None:
        import ray

        self.embedder = factory()
        self.node = ray.get_runtime_context().get_node_id()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        vectors = self.embedder.embed_documents([str(t) for t in batch["text"]])
        return {"position": batch["position"], "vector": vectors, "node": np.full(len(vectors), self.node)}


class RayEmbedder:
    """The Embedder interface with document embedding fanned out over Ray.

    Args:
        local: answers queries, token counts, `model_id` and `dim` in this process.
        factory: a picklable zero-argument callable that builds the same embedder inside each actor.
        address: a running cluster (`ray start --head`'s address); empty starts Ray on this machine,
            unless this process already called `ray.init`.
        actors: pool size; default every CPU of the cluster but READ_HEADROOM_CPUS, at least one.
    """

    backend = "ray"

    def __init__(
        self,
        local: Embedder,
        factory: Callable[[], Embedder],
        address: str = "",
        actors: int | None = None,
        batch_size: int = RAY_BATCH_SIZE,
    ) -> None:
        self.local, self.factory, self.address = local, factory, address
        self.actors, self.batch_size = actors, batch_size
        self._started_ray = False
        # Texts embedded per Ray node id in the last call: shows the work really spread.
        self.last_nodes: Counter[str] = Counter()

    @property
    def model_id(self) -> str:
        return self.local.model_id

    @property
    def dim(self) -> int:
        return self.local.dim

    def _ray(self) -> Any:
        import ray

        if not ray.is_initialized():
            # "local": a Ray of its own for this run, never a cluster some other process left running here.
            ray.init(address=self.address or "local", include_dashboard=False, log_to_driver=False)
            self._started_ray = True
            log.info("embedding on Ray at %s: %s", self.address or "this machine", ray.cluster_resources())
        return ray

    def pool_size(self) -> int:
        if self.actors is not None:
            return self.actors
        cpus = int(self._ray().cluster_resources().get("CPU", 1))
        return max(1, cpus - READ_HEADROOM_CPUS)

    def embed_documents(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ray = self._ray()
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        # Start work once the whole pool has loaded its model: otherwise the first actor up takes
        # every batch while the others are still loading (seen on a loaded machine: one node did all).
        context.wait_for_min_actors_s = ACTOR_START_TIMEOUT_S
        rows = [{"position": i, "text": t} for i, t in enumerate(texts)]
        embedded = ray.data.from_items(rows).map_batches(
            _EmbedActor,
            fn_constructor_args=(self.factory,),
            batch_size=self.batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=self.pool_size()),
            # Ray Data places actors with its default SPREAD strategy: one per node before two on any.
            num_cpus=1,
        )
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        done = np.zeros(len(texts), dtype=bool)
        self.last_nodes = Counter()
        # Ray Data does not keep row order; each row carries its position back.
        for batch in embedded.iter_batches(batch_size=None, batch_format="numpy"):
            positions = np.asarray(batch["position"], dtype=np.int64)
            out[positions] = np.asarray(batch["vector"], dtype=np.float32)
            done[positions] = True
            self.last_nodes.update(str(n) for n in batch["node"])
            if progress is not None:
                progress(len(positions))
        if not done.all():
            raise RuntimeError(f"Ray returned {int(done.sum())} of {len(texts)} vectors")
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.local.embed_query(text)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.local.embed_queries(texts)

    def count_tokens(self, text: str) -> int:
        return self.local.count_tokens(text)

    def close(self) -> None:
        """Stop the Ray runtime this embedder started (a cluster it joined keeps running)."""
        if self._started_ray:
            import ray

            ray.shutdown()
            self._started_ray = False
