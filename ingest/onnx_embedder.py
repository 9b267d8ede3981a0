"""The embedding model on ONNX Runtime: the same vectors as sentence-transformers, about 2.5x faster per question.

sentence-transformers' own ONNX backend needs `optimum`, which pins an older transformers and pulls a
CUDA torch, so the model is exported here once with `torch.onnx.export` (the whole pipeline:
transformer, pooling, dense layers) and checked against torch before it is used. The vectors agree to
float noise (cosine >= 0.99999 is required), so an index built by either runtime serves with the other
and the index's model id does not change. Measured in docs/benchmarks.md (benchmarks/onnx_embedding.py).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ingest.embedder import length_sorted_batches, model_id_for, normalise

log = logging.getLogger(__name__)

ONNX_FILE = "embedding.onnx"
META_FILE = "export.json"
# The model's tokenizer as the Rust `tokenizers` library reads it: what transformers' fast tokenizer
# runs underneath, saved from it once, so embedding never imports transformers (nor torch through it).
TOKENIZER_FILE = "tokenizer.json"
# Bump when the export itself changes; older exports are then redone.
EXPORT_FORMAT = 1
MIN_AGREEMENT = 0.99999
_CHECK_TEXTS = (
    "How long is a BLIK code valid?",
    "Voit palauttaa tuotteen 30 päivän kuluessa toimituksesta. Palautus on maksuton Postin kautta.",
    "Kod BLIK jest ważny przez 2 minuty. Jeśli płatność się nie powiedzie, wygeneruj nowy kod.",
    "ในช่วงเทศกาลสงกรานต์ การจัดส่งอาจล่าช้าสามถึงห้าวันทำการ",
)


class OnnxExportError(RuntimeError):
    """The model could not be exported to ONNX, or the export does not reproduce the torch vectors."""


def source_identity(model_dir: Path) -> dict[str, object]:
    """What the export was made from: weight files by size and modification time, plus the format."""
    weights = sorted(p for p in model_dir.rglob("*.safetensors") if p.is_file()) or sorted(
        p for p in model_dir.rglob("*.bin") if p.is_file()
    )
    return {
        "format": EXPORT_FORMAT,
        "model": str(model_dir.resolve()),
        "weights": {str(p.relative_to(model_dir)): [p.stat().st_size, p.stat().st_mtime_ns] for p in weights},
    }


def export_dir_for(cache_dir: Path, model_dir: Path) -> Path:
    return cache_dir / "onnx" / model_id_for(str(model_dir))


def is_current(export_dir: Path, model_dir: Path) -> bool:
    """True when `export_dir` holds a verified export of the model as it is on disk now."""
    meta = export_dir / META_FILE
    if not meta.exists() or not (export_dir / ONNX_FILE).exists():
        return False
    try:
        recorded = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return recorded.get("source") == source_identity(model_dir) and recorded.get("files") == _file_sizes(export_dir)


def _file_sizes(export_dir: Path) -> dict[str, int]:
    """The export's own files by size: a truncated copy is redone, not loaded."""
    return {p.name: p.stat().st_size for p in sorted(export_dir.glob(ONNX_FILE + "*"))}


def ensure_export(model_dir: Path, export_dir: Path) -> Path:
    """Return a verified ONNX export of the sentence-transformers model in `model_dir`, exporting once.

    Processes that start together (a server and an ingest on a fresh machine) wait for one export
    instead of each making their own; a staging folder left by a killed export is removed.
    """
    if is_current(export_dir, model_dir):
        return export_dir
    export_dir.parent.mkdir(parents=True, exist_ok=True)
    with (export_dir.parent / f".{export_dir.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_current(export_dir, model_dir):  # another process finished it while we waited
            return export_dir
        for stale in export_dir.parent.glob(f".{export_dir.name}-export-*"):
            shutil.rmtree(stale, ignore_errors=True)
        _export_locked(model_dir, export_dir)
    return export_dir


def _export_locked(model_dir: Path, export_dir: Path) -> None:
    log.info("exporting %s to ONNX (once; about a minute on 2 cores)", model_dir)
    with tempfile.TemporaryDirectory(dir=export_dir.parent, prefix=f".{export_dir.name}-export-") as tmp:
        staging = Path(tmp) / "export"
        agreement = _export_and_check(model_dir, staging)
        meta = {"source": source_identity(model_dir), "files": _file_sizes(staging), "agreement": agreement}
        (staging / META_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        if export_dir.exists():
            shutil.rmtree(export_dir)
        staging.rename(export_dir)
    log.info("ONNX export ready in %s (cosine with torch >= %.7f)", export_dir, agreement)


def _export_and_check(model_dir: Path, staging: Path) -> float:
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # pragma: no cover - both are core dependencies
        raise OnnxExportError(f"exporting needs torch and sentence-transformers: {exc}") from exc
    model = SentenceTransformer(str(model_dir), device="cpu")
    try:
        _export(model, staging / ONNX_FILE, torch)
    except Exception as exc:  # the exporter raises many types; all mean "no ONNX model"
        raise OnnxExportError(f"torch.onnx.export failed for {model_dir}: {exc}") from exc
    texts = list(_CHECK_TEXTS)
    expected = np.asarray(model.encode(texts, normalize_embeddings=True, convert_to_numpy=True), dtype=np.float32)
    runner = _OnnxRunner(staging / ONNX_FILE, hf_encoder(model.tokenizer, int(model.max_seq_length or 512)))
    save_tokenizer(model.tokenizer, staging)
    # One text at a time and all together: both dynamic axes must hold.
    got = np.vstack([runner.run([t]) for t in texts])
    together = runner.run(texts)
    agreement = float(min(np.sum(expected * got, axis=1).min(), np.sum(expected * together, axis=1).min()))
    if agreement < MIN_AGREEMENT:
        raise OnnxExportError(f"ONNX vectors differ from torch (cosine {agreement:.6f} < {MIN_AGREEMENT})")
    return agreement


def _export(model: Any, path: Path, torch: Any) -> None:
    """The model's `sentence_embedding` for (input_ids, attention_mask), batch and length dynamic."""

    class Pipeline(torch.nn.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.model({"input_ids": input_ids, "attention_mask": attention_mask})["sentence_embedding"]

    sample = model.tokenizer(["title: none | text: a sample passage"] * 2, return_tensors="pt", padding=True)
    batch, length = torch.export.Dim("batch", min=1, max=1024), torch.export.Dim("length", min=2, max=8192)
    program = torch.onnx.export(
        Pipeline().eval(),
        (sample["input_ids"], sample["attention_mask"]),
        dynamo=True,
        opset_version=18,
        input_names=["input_ids", "attention_mask"],
        # Not "embedding": that name is taken by a node inside the graph.
        output_names=["sentence_vector"],
        dynamic_shapes={"input_ids": {0: batch, 1: length}, "attention_mask": {0: batch, 1: length}},
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    program.save(str(path), external_data=True)


Encode = Callable[[list[str]], Any]  # texts -> {"input_ids", "attention_mask"}, padded to the longest


def hf_encoder(tokenizer: Any, max_length: int) -> Encode:
    """A transformers tokenizer's batch encoding, as sentence-transformers calls it."""
    return lambda texts: tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="np")


class FastTokenizer:
    """The model's tokenizer on the `tokenizers` library alone: the same ids as transformers' fast tokenizer.

    One instance of tokenizer.json (parsing a 262k-token vocabulary takes ~1.3 s): counting never
    truncates, and a batch is cut to the model's length and padded to its longest text, right, with the
    pad id, as transformers does, by cutting and padding the untruncated encodings here.
    """

    def __init__(self, path: Path, max_length: int, pad_token: str) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(path))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        pad_id = self._tokenizer.token_to_id(pad_token)
        if pad_id is None:
            raise OnnxExportError(f"{path}: the pad token {pad_token!r} is not in the vocabulary")
        self._pad_id = pad_id
        # What is left for the text once the special tokens are added around it.
        self._text_length = max_length - self._tokenizer.num_special_tokens_to_add(False)

    def lengths(self, texts: Sequence[str]) -> list[int]:
        """Tokens of each text without the special ones (what passages are sized in)."""
        return [len(e.ids) for e in self._tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    def encode(self, texts: list[str]) -> dict[str, np.ndarray]:
        rows = []
        for encoding in self._tokenizer.encode_batch(texts, add_special_tokens=False):
            encoding.truncate(self._text_length)
            rows.append(self._tokenizer.post_process(encoding).ids)
        width = max((len(r) for r in rows), default=0)
        ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return {"input_ids": ids, "attention_mask": mask}


def fast_tokenizer(model_dir: Path, export_dir: Path, max_length: int) -> FastTokenizer:
    """The tokenizer saved beside the export; an export made before it was saved there gets it now, once."""
    path = export_dir / TOKENIZER_FILE
    if not path.exists():
        from transformers import AutoTokenizer

        save_tokenizer(AutoTokenizer.from_pretrained(str(model_dir)), export_dir)
    config = _read_json(model_dir / "tokenizer_config.json")
    if config.get("padding_side", "right") != "right":
        raise OnnxExportError(f"{model_dir}: only right padding is supported, as the export was checked with")
    pad = config.get("pad_token") or "<pad>"
    return FastTokenizer(path, max_length, str(pad["content"] if isinstance(pad, dict) else pad))


def save_tokenizer(tokenizer: Any, export_dir: Path) -> None:
    """Write a transformers fast tokenizer's backend as tokenizer.json, atomically (readers may be loading)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise OnnxExportError(f"ONNX embedding needs a fast (tokenizer.json) tokenizer, not {type(tokenizer).__name__}")
    tmp = export_dir / f".{TOKENIZER_FILE}.{os.getpid()}"
    backend.save(str(tmp))
    os.replace(tmp, export_dir / TOKENIZER_FILE)


class _OnnxRunner:
    """Tokenize and run one batch; returns L2-normalised float32 vectors."""

    def __init__(self, path: Path, encode: Encode) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        # Every core for one call; concurrent questions are batched upstream (assistant/query_batcher.py).
        options.intra_op_num_threads = len(os.sched_getaffinity(0))
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.encode = encode

    def run(self, texts: Sequence[str]) -> np.ndarray:
        encoded = self.encode(list(texts))
        feeds = {name: np.asarray(encoded[name], dtype=np.int64) for name in ("input_ids", "attention_mask")}
        return normalise(np.asarray(self.session.run(None, feeds)[0], dtype=np.float32))


class OnnxEmbedder:
    """The Embedder interface on an ONNX export; loads only the tokenizer and the ONNX graph, not torch
    nor transformers (their import and tokenizer set-up took ~6 s of every ingest's start)."""

    backend = "onnx"

    def __init__(self, model_dir: Path, export_dir: Path, dim: int | None = None, batch_size: int = 16) -> None:
        config = _read_json(model_dir / "config_sentence_transformers.json")
        prompts = config.get("prompts") or {}
        self._query_prompt = str(prompts.get("query", ""))
        self._document_prompt = str(prompts.get("document", ""))
        max_length = int(_read_json(model_dir / "sentence_bert_config.json").get("max_seq_length") or 512)
        self._tokenizer = fast_tokenizer(model_dir, export_dir, max_length)
        self._runner = _OnnxRunner(export_dir / ONNX_FILE, self._tokenizer.encode)
        self._truncate = dim
        self.model_id = model_id_for(str(model_dir)) + (f"@{dim}" if dim else "")
        self.dim = int(dim or self._encode([""], "").shape[1])
        self.batch_size = batch_size

    def _encode(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        vectors = self._runner.run([prompt + t for t in texts])
        # Matryoshka truncation as sentence-transformers does it: cut, then normalise again.
        return normalise(vectors[:, : self._truncate]) if self._truncate else vectors

    def _encode_batched(
        self, texts: Sequence[str], prompt: str, batch_size: int, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Batches of like token length (least padding), vectors returned in the caller's order."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        for batch in length_sorted_batches(self._tokenizer.lengths(texts), batch_size):
            out[batch] = self._encode([texts[i] for i in batch], prompt)
            if progress is not None:
                progress(len(batch))
        return out

    def embed_documents(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        return self._encode_batched(texts, self._document_prompt, self.batch_size, progress)

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([text], self._query_prompt)[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode_batched(texts, self._query_prompt, 32)

    def count_tokens(self, text: str) -> int:
        return self._tokenizer.lengths([text])[0]


def _read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}
