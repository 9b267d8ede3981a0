"""Malformed, hostile and hanging files in one ingest batch: typed failures, no crash, no hang, a consistent index."""

from __future__ import annotations

import faulthandler
import io
import os
import random
import re
import signal
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import docx
import pytest

from ingest import sync
from ingest.errors import IngestError
from ingest.store.layout import IndexStore
from ingest.sync import SyncOptions, SyncReport, sync_folder
from tests.conftest import CORPUS, write_corpus
from tests.documents import make_pdf

REASONS = {
    "corrupt",
    "empty",
    "encrypted",
    "no_text_layer",
    "too_large",
    "timeout",
    "undecodable_text",
    "unreadable",
    "unsupported_format",
}
TRUNCATIONS = 30
# Small limits so the hostile files trip them quickly; every good file is far below them.
OPTIONS = SyncOptions(max_file_bytes=20_000_000, parse_timeout_s=5.0, parse_memory_bytes=2 << 30)
BATCH_DEADLINE_S = 240


PAGES = [
    "Reklamacje\n\nReklamację można złożyć w ciągu dwóch lat od zakupu towaru w sklepie.",
    "Zwroty\n\nZwrot pieniędzy następuje w ciągu czternastu dni od otrzymania przesyłki.",
    "Wymiana\n\nWymiana rozmiaru jest bezpłatna w każdym sklepie stacjonarnym sieci.",
]


def make_docx() -> bytes:
    document = docx.Document()
    document.add_heading("Vaihto-ohje", level=1)
    document.add_paragraph("Tuotteen voi vaihtaa toiseen kokoon 30 päivän kuluessa ostosta.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def zip_bomb() -> bytes:
    """A .docx whose document part inflates from ~50 kB to 60 MB of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w") as part:
            block = b"\0" * (1 << 20)
            for _ in range(60):
                part.write(block)
    return out.getvalue()


def broken_xref(pdf: bytes) -> bytes:
    """Point startxref past the end and scramble every offset in the xref table."""
    rng = random.Random(3)
    head, _, _ = pdf.rpartition(b"startxref")
    head = re.sub(rb"\d{10} 00000 n", lambda _: b"%010d 00000 n" % rng.randrange(10**9), head)
    return head + b"startxref\n123456789\n%%EOF\n"


def bad_files(good_pdf: bytes) -> dict[str, bytes]:
    rng = random.Random(7)
    files: dict[str, bytes] = {}
    step = len(good_pdf) / (TRUNCATIONS + 1)
    for n in range(1, TRUNCATIONS + 1):
        files[f"truncated/cut-{n:02d}.pdf"] = good_pdf[: int(n * step)]
    files |= {
        "broken-xref.pdf": broken_xref(good_pdf),
        "password.pdf": make_pdf(PAGES, user_password="kissa123"),
        "zero.pdf": b"",
        "random.pdf": rng.randbytes(40_000),
        "random.docx": rng.randbytes(40_000),
        "html-named.pdf": b"<html><body>not a pdf</body></html>",
        "bomb.docx": zip_bomb(),
        "not-word.docx": _zip({"hello.txt": b"no word parts here"}),
        "deep.html": b"<div>" * 100_000 + b"Syvalla oleva teksti." + b"</div>" * 100_000,
        "binary.txt": bytes(range(256)) * 400,
        "invalid-utf8.md": b"# Zwroty\n\nZwrot \xff\xfe towaru \xc3\x28 w ci\xb9gu 14 dni \x80\x81.",
        "bad-sidecar.md": b"# Sidecar\n\nThe sidecar of this file is not a JSON object.",
        "bad-sidecar.md.meta.json": b"[1, 2, 3]",
        "hang.md": b"# Hang\n\nThis loader never returns.",
        "memory.md": b"# Memory\n\nThis loader asks for far too much memory.",
        "segfault.md": b"# Crash\n\nThis loader kills its own process.",
        "image.png": b"\x89PNG\r\n\x1a\n",
    }
    return files


def _zip(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


def hostile_load(path: Path, source: str, max_bytes: int) -> Any:
    """The real loader, except for three files that hang, exhaust memory or crash the reader."""
    if source == "hang.md":
        time.sleep(3600)
    if source == "memory.md":
        bytearray(16 << 30)
    if source == "segfault.md":
        # The crash is the point; keep pytest's fault handler from printing it as if it were a failure.
        faulthandler.disable()
        os.kill(os.getpid(), signal.SIGSEGV)
    return REAL_LOAD(path, source, max_bytes)


REAL_LOAD = sync._load


def run_with_deadline(fn: Any, deadline_s: float) -> Any:
    """Run fn in a thread; fail the test (instead of hanging it) if it does not return in time."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            outcome["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(deadline_s)
    assert not worker.is_alive(), f"ingest did not finish within {deadline_s} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@pytest.fixture
def hostile_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, bytes]]:
    good_pdf = make_pdf(PAGES)
    good = {
        "good.pdf": good_pdf,
        "open-with-empty-password.pdf": make_pdf(PAGES, user_password=""),
        "good.docx": make_docx(),
        "good.html": b"<html><body><main><h1>Toimitus</h1><p>Toimitus kestaa kolme arkipaivaa.</p></main></body>",
    }
    root = write_corpus(tmp_path / "kb")
    write_corpus(root, {**good, **bad_files(good_pdf)})
    # 50 MB of text, sparse so it costs no time or disk; over the 20 MB limit.
    with (root / "huge.txt").open("wb") as handle:
        handle.truncate(50_000_000)
    monkeypatch.setattr(sync, "_load", hostile_load)
    return root, good


def ingest(root: Path, store: IndexStore, embedder, cache) -> SyncReport:
    return run_with_deadline(lambda: sync_folder(root, store, embedder, cache, OPTIONS), BATCH_DEADLINE_S)


@pytest.mark.slow
def test_a_hostile_batch_is_reported_file_by_file_and_the_rest_is_indexed(
    hostile_folder, store, embedder, cache, caplog
) -> None:
    root, good = hostile_folder
    started = time.perf_counter()
    report = ingest(root, store, embedder, cache)
    elapsed = time.perf_counter() - started

    failed = {f.source: f for f in report.failed}
    expected_good = set(CORPUS) | set(good)
    assert set(report.added) >= expected_good, f"good files not indexed: {expected_good - set(report.added)}"
    everything = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    everything = {s for s in everything if not s.endswith(".meta.json")}
    # Every file ends up indexed or failed with a reason, none twice, none lost.
    assert set(report.added) | set(failed) == everything and not set(report.added) & set(failed)
    for source, failure in failed.items():
        assert failure.reason in REASONS, (source, failure.reason)
        assert source in failure.message and failure.message[0] != " ", failure.message

    certain = {
        "password.pdf": "encrypted",
        "zero.pdf": "empty",
        "random.pdf": "corrupt",
        "random.docx": "corrupt",
        "html-named.pdf": "corrupt",
        "bomb.docx": "corrupt",
        "not-word.docx": "corrupt",
        "huge.txt": "too_large",
        "bad-sidecar.md": "unreadable",
        "hang.md": "timeout",
        "memory.md": "too_large",
        "segfault.md": "corrupt",
        "image.png": "unsupported_format",
    }
    assert {s: failed[s].reason for s in certain if s in failed} == certain
    assert "memory" in failed["memory.md"].message and "crash" in failed["segfault.md"].message
    # Truncated PDFs: pypdf recovers some (their text is then indexed); the rest fail as corrupt or empty.
    cut = [s for s in everything if s.startswith("truncated/")]
    assert len(cut) == TRUNCATIONS
    assert all(failed[s].reason in {"corrupt", "empty", "no_text_layer"} for s in cut if s in failed)
    for source in ("broken-xref.pdf", "deep.html", "binary.txt", "invalid-utf8.md"):
        assert source in report.added or failed[source].reason in REASONS

    index = store.load()
    assert index.vectors.count() == index.keywords.count() == len(index.chunks) == report.chunks
    assert index.manifest.chunk_count == sum(r.chunks for r in index.manifest.documents.values()) == len(index.chunks)
    assert {c.source for c in index.chunks.values()} == set(index.manifest.documents) == set(report.added)
    assert [f.source for f in index.manifest.failures] == [f.source for f in report.failed]
    assert any(f"skipping {s}" in r.getMessage() for r in caplog.records for s in ("hang.md",))
    # The hang costs one parse timeout, not the batch.
    assert elapsed < BATCH_DEADLINE_S / 2

    # A second run re-reads only the bad files, embeds nothing and reports the same failures.
    again = ingest(root, store, embedder, cache)
    assert again.embedded == 0 and sorted(again.unchanged) == sorted(report.added)
    assert {f.source: f.reason for f in again.failed} == {s: f.reason for s, f in failed.items()}
    print(
        f"\nfiles: {len(everything)}, bad: {len(everything) - len(expected_good)}, indexed: {len(report.added)}, "
        f"failed: {len(failed)}, crashes: 0, hangs: 0, seconds: {elapsed:.1f}; "
        f"bad files read anyway: {sorted(set(report.added) - expected_good)}"
    )


@pytest.mark.parametrize("cut", [0.05, 0.25, 0.5, 0.75, 0.95, 0.999])
def test_a_truncated_pdf_alone_is_a_typed_failure_or_readable(tmp_path: Path, cut: float) -> None:
    from ingest.loaders import load_document

    data = make_pdf(PAGES)
    path = tmp_path / "cut.pdf"
    path.write_bytes(data[: int(len(data) * cut)])
    try:
        document = load_document(path, "cut.pdf")
    except IngestError as exc:
        assert exc.reason in {"corrupt", "empty", "no_text_layer"} and "cut.pdf" in exc.message
    else:
        assert "Reklamac" in document.text


def test_the_sparse_file_is_refused_before_it_is_read(tmp_path: Path, store, embedder, cache) -> None:
    root = tmp_path / "kb"
    root.mkdir()
    with (root / "huge.txt").open("wb") as handle:
        handle.truncate(50_000_000)
    (root / "ok.md").write_text("# Ok\n\nA small file that is fine.", encoding="utf-8")
    report = sync_folder(root, store, embedder, cache, OPTIONS)
    assert [(f.source, f.reason) for f in report.failed] == [("huge.txt", "too_large")]
    assert "50.0 MB" in report.failed[0].message and report.added == ["ok.md"]
