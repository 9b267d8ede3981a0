"""Run a parser in a forked child with a time and memory limit, so one bad file cannot hang or sink ingest."""

from __future__ import annotations

import ctypes
import multiprocessing
import resource
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from ingest.errors import CorruptDocument, IngestError, ParseTimeout, TooLarge

T = TypeVar("T")


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: a parser whose parent is killed is killed too, instead of hanging on as an orphan."""
    try:
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _child(conn: Connection, fn: Callable[..., Any], args: tuple[Any, ...], memory_bytes: int) -> None:
    _die_with_parent()
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    try:
        conn.send(("ok", fn(*args)))
    except IngestError as exc:
        conn.send(("ingest_error", exc))
    except MemoryError:
        conn.send(("memory", None))
    except BaseException as exc:  # noqa: BLE001 - anything a parser throws becomes a typed failure
        conn.send(("crash", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def run_isolated(fn: Callable[..., T], args: tuple[Any, ...], name: str, timeout_s: float, memory_bytes: int) -> T:
    """Return fn(*args) computed in a child process; map hangs, crashes and OOM to IngestError."""
    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(child, fn, args, memory_bytes), daemon=True)
    process.start()
    child.close()
    try:
        if not parent.poll(timeout_s):
            raise ParseTimeout(f"{name} took longer than {timeout_s:.0f} s to read and was skipped")
        try:
            kind, payload = parent.recv()
        except EOFError as exc:
            raise CorruptDocument(f"{name} made the reader crash (exit code {process.exitcode})") from exc
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        parent.close()
    if kind == "ok":
        return payload  # type: ignore[no-any-return]
    if kind == "ingest_error":
        raise payload
    if kind == "memory":
        raise TooLarge(f"{name} needs more than {memory_bytes >> 20} MB of memory to read")
    raise CorruptDocument(f"{name} could not be read: {payload}")
