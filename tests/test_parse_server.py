"""The parse server: files are parsed in children of a small process, and it survives its own death."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from ingest.errors import CorruptDocument, ParseTimeout, UnsupportedFormat
from ingest.loaders import load_document
from ingest.parse_server import ParseServer, reference_of

LIMITS: tuple[float, int] = (5.0, 2 << 30)  # per-file timeout (s), memory (bytes)


def parent_pid() -> int:
    return os.getppid()


def slow_parent_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getppid()


def raise_unsupported(name: str) -> None:
    raise UnsupportedFormat(f"{name} is not a document")


def test_files_are_parsed_in_a_child_of_the_server_not_of_the_caller(tmp_path: Path) -> None:
    path = tmp_path / "ohje.md"
    path.write_text("# Palautus\n\nPalautusaika on 30 päivää ostopäivästä.\n", encoding="utf-8")
    with ParseServer() as server:
        document = server.parse(load_document, (path, "ohje.md"), "ohje.md", *LIMITS)
        forked_from = server.parse(parent_pid, (), "pid", *LIMITS)
        assert server._process is not None
        assert forked_from == server._process.pid != os.getpid()
    assert "30 päivää" in document.text and document.source == "ohje.md"


def test_typed_errors_come_back_unchanged() -> None:
    with ParseServer() as server, pytest.raises(UnsupportedFormat, match="x.bin is not a document"):
        server.parse(raise_unsupported, ("x.bin",), "x.bin", *LIMITS)


def test_a_per_file_timeout_is_enforced_in_the_server() -> None:
    with ParseServer() as server:
        with pytest.raises(ParseTimeout, match="slow.md"):
            server.parse(slow_parent_pid, (60.0,), "slow.md", timeout_s=1.0, memory_bytes=2 << 30)
        # The server is still there for the next file.
        assert server.parse(parent_pid, (), "next", *LIMITS) == server._process.pid  # type: ignore[union-attr]


def test_a_dead_server_fails_only_the_file_in_flight_and_is_restarted() -> None:
    with ParseServer() as server:
        first = server.parse(parent_pid, (), "a", *LIMITS)
        assert server._process is not None
        victim = server._process

        # Kill the server while it waits for a file that takes 3 s.
        def kill_soon() -> None:
            time.sleep(0.5)
            os.kill(victim.pid, signal.SIGKILL)

        threading.Thread(target=kill_soon, daemon=True).start()
        with pytest.raises(CorruptDocument, match="parser process stopped"):
            server.parse(slow_parent_pid, (3.0,), "b.pdf", *LIMITS)
        second = server.parse(parent_pid, (), "c", *LIMITS)
    assert first == victim.pid and second != first


def test_functions_the_server_cannot_import_run_in_a_local_child() -> None:
    assert reference_of(lambda: 1) is None
    assert reference_of(load_document) == "ingest.loaders:load_document"
    with ParseServer() as server:
        assert server.parse(lambda: os.getppid(), (), "local", *LIMITS) == os.getpid()
        assert server._process is None  # never started


def test_a_killed_server_takes_its_parse_child_with_it(tmp_path: Path) -> None:
    marker = tmp_path / "still-running"
    with ParseServer() as server:
        server.parse(parent_pid, (), "warm-up", *LIMITS)
        victim = server._process
        assert victim is not None
        threading.Timer(0.5, lambda: os.kill(victim.pid, signal.SIGKILL)).start()
        with pytest.raises(CorruptDocument):
            server.parse(touch_later, (marker, 2.0), "slow.md", *LIMITS)
    time.sleep(3.0)
    assert not marker.exists(), "the orphaned parse child kept running"


def touch_later(path: Path, seconds: float) -> None:
    time.sleep(seconds)
    path.touch()
