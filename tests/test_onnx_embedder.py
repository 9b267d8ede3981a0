"""The ONNX runtime choice: when an export is trusted, and that a broken one falls back to torch."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

import pytest

from assistant import components
from assistant.settings import Settings
from ingest import onnx_embedder
from ingest.embedder import length_sorted_batches
from ingest.onnx_embedder import (
    META_FILE,
    ONNX_FILE,
    OnnxExportError,
    _file_sizes,
    ensure_export,
    is_current,
    source_identity,
)
from tests.fakes import FakeEmbedder


def _model_folder(root: Path) -> Path:
    (root / "2_Dense").mkdir(parents=True)
    (root / "model.safetensors").write_bytes(b"w" * 100)
    (root / "2_Dense" / "model.safetensors").write_bytes(b"d" * 10)
    return root


def _fake_export(export_dir: Path, model_dir: Path) -> None:
    export_dir.mkdir(parents=True)
    (export_dir / ONNX_FILE).write_bytes(b"graph")
    (export_dir / (ONNX_FILE + ".data")).write_bytes(b"weights" * 10)
    meta = {"source": source_identity(model_dir), "files": _file_sizes(export_dir)}
    (export_dir / META_FILE).write_text(json.dumps(meta), encoding="utf-8")


def test_an_export_is_trusted_only_for_the_weights_it_was_made_from(tmp_path: Path) -> None:
    model = _model_folder(tmp_path / "model")
    export = tmp_path / "onnx"
    assert not is_current(export, model)
    _fake_export(export, model)
    assert is_current(export, model)
    # New weights in place (a fine-tuned model copied over the folder): the export is stale.
    weights = model / "2_Dense" / "model.safetensors"
    weights.write_bytes(b"e" * 10)
    os.utime(weights, ns=(1, 1))
    assert not is_current(export, model)


def test_a_truncated_export_is_not_trusted(tmp_path: Path) -> None:
    model = _model_folder(tmp_path / "model")
    export = tmp_path / "onnx"
    _fake_export(export, model)
    data = export / (ONNX_FILE + ".data")
    data.write_bytes(data.read_bytes()[:-3])
    assert not is_current(export, model)


@pytest.fixture
def fake_torch(monkeypatch: pytest.MonkeyPatch) -> FakeEmbedder:
    fake = FakeEmbedder()
    monkeypatch.setattr(components, "SentenceTransformerEmbedder", lambda *a, **k: fake)
    return fake


def test_a_failed_export_falls_back_to_torch_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_torch: FakeEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    def fail(model_dir: Path, export_dir: Path) -> Path:
        raise OnnxExportError("exporter crashed")

    monkeypatch.setattr(components, "ensure_export", fail)
    settings = Settings(embedding_model=str(_model_folder(tmp_path / "model")), cache_dir=tmp_path / "cache")
    with caplog.at_level(logging.WARNING):
        embedder = components.build_embedder(settings)
        assert embedder.loaded is fake_torch
    assert "exporter crashed" in caplog.text and "torch" in caplog.text


def test_an_export_onnx_runtime_cannot_load_falls_back_to_torch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_torch: FakeEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    model = _model_folder(tmp_path / "model")
    export = tmp_path / "cache" / "onnx" / "model"
    _fake_export(export, model)  # looks current, but the graph is garbage
    monkeypatch.setattr(components, "ensure_export", lambda model_dir, export_dir: export)
    settings = Settings(embedding_model=str(model), cache_dir=tmp_path / "cache")
    with caplog.at_level(logging.WARNING):
        assert components.build_embedder(settings).loaded is fake_torch
    assert "could not load" in caplog.text


def test_int8_and_the_torch_setting_never_use_onnx(tmp_path: Path) -> None:
    model = str(_model_folder(tmp_path / "model"))
    assert components.prepare_onnx(Settings(embedding_model=model, embedding_int8=True)) is None
    assert components.prepare_onnx(Settings(embedding_model=model, embedding_backend="torch")) is None


def test_length_batches_cover_every_text_once_longest_first() -> None:
    lengths = [3, 50, 7, 50, 1, 20]
    batches = length_sorted_batches(lengths, 4)
    assert [len(b) for b in batches] == [4, 2]
    assert sorted(i for b in batches for i in b) == list(range(6))
    assert [lengths[i] for i in batches[0]] == [50, 50, 20, 7]


def _fake_exporter(calls: list[Path]):
    def export_and_check(model_dir: Path, staging: Path) -> float:
        calls.append(staging)
        time.sleep(0.2)  # long enough for a second caller to arrive while this one exports
        staging.mkdir(parents=True)
        (staging / ONNX_FILE).write_bytes(b"graph")
        return 1.0

    return export_and_check


def test_callers_starting_together_share_one_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model_folder(tmp_path / "model")
    export = tmp_path / "onnx" / "model"
    calls: list[Path] = []
    monkeypatch.setattr(onnx_embedder, "_export_and_check", _fake_exporter(calls))
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(ensure_export(model, export))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [export] * 3 and len(calls) == 1
    assert is_current(export, model)


def test_a_killed_exports_staging_folder_is_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model_folder(tmp_path / "model")
    export = tmp_path / "onnx" / "model"
    stale = tmp_path / "onnx" / ".model-export-abc123"
    (stale / "export").mkdir(parents=True)
    (stale / "export" / (ONNX_FILE + ".data")).write_bytes(b"half of 1.2 GB")
    monkeypatch.setattr(onnx_embedder, "_export_and_check", _fake_exporter([]))
    ensure_export(model, export)
    assert not stale.exists() and is_current(export, model)


def _word_tokenizer_file(path: Path) -> Path:
    """A tiny word-level tokenizer.json with <bos>/<eos> added around each text and a <pad> token."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    vocab = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "return": 4, "within": 5, "30": 6, "days": 7}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<bos> $A <eos>", special_tokens=[("<bos>", 2), ("<eos>", 1)]
    )
    tokenizer.save(str(path))
    return path


def test_counting_never_truncates_while_a_batch_is_cut_to_the_model_length_and_padded_right(tmp_path: Path) -> None:
    from ingest.onnx_embedder import FastTokenizer

    tokenizer = FastTokenizer(_word_tokenizer_file(tmp_path / "tokenizer.json"), max_length=6, pad_token="<pad>")
    long = "return within 30 days " * 5
    assert tokenizer.lengths(["return within 30 days", long]) == [4, 20]  # passages are sized on this
    batch = tokenizer.encode(["return", long])
    assert batch["input_ids"].tolist() == [[2, 4, 1, 0, 0, 0], [2, 4, 5, 6, 7, 1]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1]]


def test_a_pad_token_missing_from_the_vocabulary_is_refused(tmp_path: Path) -> None:
    from ingest.onnx_embedder import FastTokenizer

    with pytest.raises(OnnxExportError, match="pad token"):
        FastTokenizer(_word_tokenizer_file(tmp_path / "tokenizer.json"), max_length=6, pad_token="[PAD]")


def test_a_model_without_a_fast_tokenizer_is_an_export_error_so_torch_serves(tmp_path: Path) -> None:
    from ingest.onnx_embedder import save_tokenizer

    class SlowTokenizer:
        pass

    with pytest.raises(OnnxExportError, match="fast"):
        save_tokenizer(SlowTokenizer(), tmp_path)
    assert list(tmp_path.iterdir()) == []
