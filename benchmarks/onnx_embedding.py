"""fp32 ONNX Runtime vs torch for the embedding model: same vectors, measured speed. Not a product path yet.

Usage: .venv/bin/pip install onnxruntime==1.32.0 onnx onnxscript   (not project dependencies)
       .venv/bin/python -m benchmarks.onnx_embedding [--index DIR] [--out DIR] [--repeat 2] [--queries 60]
Exports the whole sentence-transformers pipeline (transformer, pooling, dense layers) with
`torch.onnx.export(dynamo=True)` to --out (about 1.2 GB, once), then encodes the index's passages in the
same token-length batches with both runtimes, and times single questions of the demo eval set as the
service embeds them. Prints the Markdown table and the cosine between the two runtimes' vectors.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from assistant.components import prepare_model
from assistant.settings import Settings
from benchmarks.machine import machine_info
from ingest.chunker import embedding_text
from ingest.store.layout import IndexStore


def export(model: Any, path: Path) -> None:
    """The model's `sentence_embedding` for (input_ids, attention_mask), batch and length dynamic."""
    import torch

    class Pipeline(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.model({"input_ids": input_ids, "attention_mask": attention_mask})["sentence_embedding"]

    sample = model.tokenizer(["title: none | text: a sample passage"] * 2, return_tensors="pt", padding=True)
    batch, length = torch.export.Dim("batch", min=1, max=256), torch.export.Dim("length", min=2, max=2048)
    program = torch.onnx.export(
        Pipeline().eval(),
        (sample["input_ids"], sample["attention_mask"]),
        dynamo=True,
        opset_version=18,
        input_names=["input_ids", "attention_mask"],
        output_names=["sentence_vector"],
        dynamic_shapes={"input_ids": {0: batch, 1: length}, "attention_mask": {0: batch, 1: length}},
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    program.save(str(path), external_data=True)


def onnx_encoder(model: Any, path: Path, threads: int) -> Callable[[list[str], str], np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def encode(texts: list[str], prompt: str) -> np.ndarray:
        enc = model.tokenizer(
            [prompt + t for t in texts],
            padding=True,
            truncation=True,
            max_length=model.max_seq_length,
            return_tensors="np",
        )
        feeds = {name: enc[name].astype(np.int64) for name in ("input_ids", "attention_mask")}
        out = np.asarray(session.run(None, feeds)[0], dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    return encode


def _median_ms(encode: Callable[[str], object], questions: list[str]) -> tuple[float, float]:
    encode(questions[0])
    times = []
    for question in questions:
        started = time.perf_counter()
        encode(question)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), sorted(times)[int(len(times) * 0.95)]


def main() -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", type=Path, default=Path("indexes/default"))
    parser.add_argument("--out", type=Path, default=None, help="ONNX folder (default: cache_dir/onnx)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--queries", type=int, default=60)
    args = parser.parse_args()
    settings = Settings()
    model = SentenceTransformer(prepare_model(settings), device="cpu")
    path = (args.out or settings.cache_dir / "onnx") / "embedding.onnx"
    if not path.exists():
        export(model, path)
    encode_onnx = onnx_encoder(model, path, torch.get_num_threads())
    prompts = model.prompts
    texts = [embedding_text(c) for c in IndexStore(args.index).load().chunks.values()]
    lengths = [len(ids) for ids in model.tokenizer(texts, add_special_tokens=False)["input_ids"]]
    order = sorted(range(len(texts)), key=lambda i: lengths[i], reverse=True)
    batches = [[texts[i] for i in order[f : f + 16]] for f in range(0, len(order), 16)]

    def torch_docs(batch: list[str]) -> np.ndarray:
        return np.asarray(model.encode(batch, prompt_name="document", batch_size=16, normalize_embeddings=True))

    torch_docs(batches[-1]), encode_onnx(batches[-1], prompts["document"])  # warm-up
    seconds: dict[str, list[float]] = {"torch": [], "onnx": []}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(max(1, args.repeat)):
        for name, run in (("torch", torch_docs), ("onnx", lambda b: encode_onnx(b, prompts["document"]))):
            started = time.perf_counter()
            vectors[name] = np.vstack([run(b) for b in batches])
            seconds[name].append(time.perf_counter() - started)
    lines = Path("eval/sets/demo.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()][: args.queries]
    query_ms = {
        "torch": _median_ms(lambda q: model.encode([q], prompt_name="query", normalize_embeddings=True), questions),
        "onnx": _median_ms(lambda q: encode_onnx([q], prompts["query"]), questions),
    }
    cosine = np.sum(vectors["torch"] * vectors["onnx"], axis=1)
    print(f"Machine: {machine_info()}  \n{len(texts)} passages of {args.index}; {len(questions)} single questions\n")
    print("| runtime (fp32) | passages s (median) | passages/s | query p50 ms | query p95 ms |")
    print("|---|---:|---:|---:|---:|")
    for name in ("torch", "onnx"):
        s = statistics.median(seconds[name])
        p50, p95 = query_ms[name]
        print(f"| {name} | {s:.1f} | {len(texts) / s:.2f} | {p50:.1f} | {p95:.1f} |")
    print(f"\nCosine between the runtimes' passage vectors: min {cosine.min():.7f}, mean {cosine.mean():.7f}.")


if __name__ == "__main__":
    main()
