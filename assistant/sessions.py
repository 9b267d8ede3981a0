"""Browser sessions: an agent enters a key once, then an HttpOnly cookie stands for it until it expires or is ended."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

SESSION_COOKIE = "assistant_session"
# Only /v1 needs the session: pages and static files are open, and need no cookie.
COOKIE_PATH = "/v1/"
CSRF_HEADER = "X-CSRF-Token"
# A bound on memory: each sign-in adds one; beyond this the sessions closest to expiry go first.
MAX_SESSIONS = 10_000


@dataclass(frozen=True)
class Session:
    """What a session cookie stands for. The key is named by its hash, looked up again on every request."""

    key_sha256: str
    csrf_token: str
    expires_at: float  # seconds since the epoch


def _digest(token: str) -> str:
    # The store keeps only hashes, so a dump of process memory holds no usable cookie.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SessionStore:
    """Sessions in this process's memory: a restart signs every browser out, and they sign in again.

    Safe to call from request threads.
    """

    def __init__(
        self, lifetime_s: float, clock: Callable[[], float] = time.time, max_sessions: int = MAX_SESSIONS
    ) -> None:
        self.lifetime_s = lifetime_s
        self.clock = clock
        self.max_sessions = max_sessions
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, key_sha256: str) -> tuple[str, Session]:
        """A new random cookie value and its session, valid for `lifetime_s` from now."""
        token = secrets.token_urlsafe(32)
        session = Session(key_sha256, secrets.token_urlsafe(32), self.clock() + self.lifetime_s)
        with self._lock:
            self._purge()
            while len(self._sessions) >= self.max_sessions:
                oldest = min(self._sessions, key=lambda d: self._sessions[d].expires_at)
                del self._sessions[oldest]
            self._sessions[_digest(token)] = session
        return token, session

    def get(self, token: str) -> Session | None:
        """The live session for a cookie value; None if unknown, ended or expired."""
        digest = _digest(token)
        with self._lock:
            session = self._sessions.get(digest)
            if session is not None and session.expires_at <= self.clock():
                del self._sessions[digest]
                return None
            return session

    def end(self, token: str) -> None:
        with self._lock:
            self._sessions.pop(_digest(token), None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _purge(self) -> None:
        now = self.clock()
        for digest in [d for d, s in self._sessions.items() if s.expires_at <= now]:
            del self._sessions[digest]
