"""A small parser process that forks one isolated child per file, so the fork stays cheap.

Forking a parse child straight from the ingesting process copies that process's page tables; with
the embedding model loaded that costs ~60 ms per file (2-3 ms from a small process), and the child
starts out above its address-space limit. The server is a fresh interpreter that imports only the
loaders; it forks the per-file child (time and memory limits as in `ingest.isolation`) and sends the
document back. The client restarts it if it ever dies or stops answering.
"""

from __future__ import annotations

import importlib
import os
import pickle
import select
import struct
import subprocess
import sys
from collections.abc import Callable
from typing import IO, Any, TypeVar

from ingest.errors import CorruptDocument, IngestError, ParseTimeout
from ingest.isolation import run_isolated

T = TypeVar("T")
_HEADER = struct.Struct("!Q")
# Time the server itself may take beyond the per-file limit before it counts as stuck.
_GRACE_S = 30.0


def _write_frame(stream: IO[bytes], value: object) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[stream.write(view) or 0 :]
    stream.flush()


def _read_exact(stream: IO[bytes], size: int) -> bytes:
    data = b""
    while len(data) < size:
        part = stream.read(size - len(data))
        if not part:
            raise EOFError("parse server pipe closed")
        data += part
    return data


def _read_frame(stream: IO[bytes]) -> Any:
    (size,) = _HEADER.unpack(_read_exact(stream, _HEADER.size))
    return pickle.loads(_read_exact(stream, size))  # noqa: S301 - our own child process on a private pipe


def reference_of(fn: Callable[..., Any]) -> str | None:
    """'module:qualname' by which the server can import fn, or None for lambdas and local functions."""
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or module == "__main__" or "<" in qualname:
        return None
    return f"{module}:{qualname}"


def _resolve(reference: str) -> Callable[..., Any]:
    module, _, qualname = reference.partition(":")
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target  # type: ignore[no-any-return]


def serve() -> None:
    """Server loop: read (reference, args, name, timeout, memory) frames, answer ('ok'|'error', value)."""
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a parser that prints must not corrupt the reply stream
    requests = sys.stdin.buffer
    while True:
        try:
            reference, args, name, timeout_s, memory_bytes = _read_frame(requests)
        except EOFError:
            return
        try:
            reply: tuple[str, object] = (
                "ok",
                run_isolated(_resolve(reference), args, name, timeout_s, memory_bytes),
            )
        except IngestError as exc:
            reply = ("error", exc)
        except Exception as exc:  # noqa: BLE001 - e.g. the loader cannot be imported: the file fails, not the server
            reply = ("error", CorruptDocument(f"{name} could not be read: {type(exc).__name__}: {exc}"))
        try:
            _write_frame(replies, reply)
        except BrokenPipeError:
            return  # the ingest that asked is gone


class ParseServer:
    """Client side: `parse` runs fn(*args) in an isolated child of the server, started on first use."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        # The server must import the same modules the caller sees (tests patch in their own loaders).
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        return subprocess.Popen(
            [sys.executable, "-m", "ingest.parse_server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,  # unbuffered, so select() on the reply pipe sees every byte not yet read
            env=env,
            close_fds=True,
        )

    def parse(self, fn: Callable[..., T], args: tuple[Any, ...], name: str, timeout_s: float, memory_bytes: int) -> T:
        reference = reference_of(fn)
        if reference is None:
            return run_isolated(fn, args, name, timeout_s, memory_bytes)
        if self._process is None or self._process.poll() is not None:
            self._process = self._start()
        process = self._process
        assert process.stdin is not None and process.stdout is not None
        try:
            _write_frame(process.stdin, (reference, args, name, timeout_s, memory_bytes))
            kind, value = self._reply(process, timeout_s + _GRACE_S, name)
        except (EOFError, BrokenPipeError, OSError) as exc:
            self.close()
            raise CorruptDocument(f"{name} could not be read: the parser process stopped ({exc})") from exc
        if kind == "error":
            raise value
        return value  # type: ignore[no-any-return]

    def _reply(self, process: subprocess.Popen[bytes], wait_s: float, name: str) -> tuple[str, Any]:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], wait_s)
        if not ready:
            self.close()
            raise ParseTimeout(f"{name} took longer than {wait_s:.0f} s to read and was skipped")
        return _read_frame(process.stdout)  # type: ignore[no-any-return]

    def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> ParseServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    serve()
