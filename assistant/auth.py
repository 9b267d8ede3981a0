"""API keys with roles (agent, manager) and access groups, as FastAPI dependencies; start-up safety checks.

A request is identified by a key header (API clients) or by the panel's session cookie; a cookie
never authorises a state-changing request without the session's CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request

from assistant.errors import ApiError
from assistant.exceptions import AssistantError
from assistant.limits import RateLimiter
from assistant.sessions import CSRF_HEADER, SESSION_COOKIE, Session, SessionStore
from assistant.settings import ApiKey, Settings

log = logging.getLogger(__name__)

Role = Literal["agent", "manager"]
RANK: dict[Role, int] = {"agent": 1, "manager": 2}
# Keys anyone would try first; production refuses a configured hash of any of them.
DEFAULT_KEYS = (
    "",
    "changeme",
    "change-me",
    "change_me",
    "secret",
    "password",
    "admin",
    "test",
    "key",
    "apikey",
    "api-key",
    "api_key",
    "default",
    "letmein",
    "123456",
    "12345678",
    "qwerty",
    "example",
    "demo",
    "token",
    "assistant",
    "manager",
    "agent",
)
SAFE_METHODS = frozenset({"GET", "HEAD"})


class InsecureSettings(AssistantError):
    """The settings are unsafe for production; start-up stops with this human message."""

    code = "insecure_settings"


def hash_key(key: str) -> str:
    """Hex SHA-256 of a key, the form ASSISTANT_API_KEYS stores."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def generate_key() -> str:
    """A random key with 256 bits of entropy, safe in headers and URLs."""
    return secrets.token_urlsafe(32)


# Only hashes are configured, so the usual spellings of each default are hashed too.
_DEFAULT_HASHES = frozenset(hash_key(v) for k in DEFAULT_KEYS for v in (k, k.upper(), k.capitalize()))
MIN_KEY_CHARS = 16


def key_entry(key: str, name: str, role: Role, groups: list[str]) -> dict[str, object]:
    """The ASSISTANT_API_KEYS entry for `key`; refuses defaults and short keys.

    Raises:
        InsecureSettings: the key is a well-known default or shorter than MIN_KEY_CHARS.
    """
    if hash_key(key.strip().lower()) in _DEFAULT_HASHES or len(key) < MIN_KEY_CHARS:
        raise InsecureSettings(
            f"That key is a well-known default or shorter than {MIN_KEY_CHARS} characters; "
            "use `assistant hash-key --generate` for a random one."
        )
    return {"name": name, "sha256": hash_key(key), "role": role, "groups": groups}


def check_security(settings: Settings) -> list[str]:
    """Refuse unsafe production settings; return warnings to log for development ones.

    Raises:
        InsecureSettings: production without API keys, or with a key that is a well-known default.
    """
    keys = settings.api_keys
    names = [k.name for k in keys]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InsecureSettings(f"API key names must be unique; {', '.join(duplicated)} appears more than once.")
    weak = [k.name for k in keys if k.sha256 in _DEFAULT_HASHES]
    if settings.environment == "production":
        if not keys:
            raise InsecureSettings(
                "ASSISTANT_ENVIRONMENT is production but no API keys are configured, so anyone could read "
                "every document. Set ASSISTANT_API_KEYS (make entries with `assistant hash-key --generate`; "
                "see docs/security.md)."
            )
        if weak:
            raise InsecureSettings(
                f"API key {', '.join(weak)} is a well-known default (like 'changeme' or 'secret'). "
                "Replace it with a random key from `assistant hash-key --generate`."
            )
        return []
    warnings = []
    if not keys:
        warnings.append(
            "No API keys are configured: every route, including /v1/manage, is open to anyone who can reach "
            "this port (development mode). Set ASSISTANT_API_KEYS before exposing it (docs/security.md)."
        )
    if weak:
        warnings.append(f"API key {', '.join(weak)} is a well-known default; production would refuse it.")
    return warnings


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key's name, role and the access groups that restrict what it sees."""

    name: str
    role: Role
    # None sees every document (manager keys, and everyone when no keys are configured).
    groups: tuple[str, ...] | None


OPEN_CALLER = Caller("anonymous", "manager", None)


def presented_key(request: Request) -> str | None:
    """The key from `Authorization: Bearer` or `X-API-Key`; browsers use the session cookie instead."""
    authorization = request.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    header = request.headers.get("x-api-key", "").strip()
    return header or None


def _caller(record: ApiKey) -> Caller:
    return Caller(record.name, record.role, None if record.role == "manager" else tuple(record.groups))


class Authenticator:
    """Maps a request's key or session to a Caller and enforces roles and the per-key rate limit."""

    def __init__(self, keys: list[ApiKey], limiter: RateLimiter | None, sessions: SessionStore) -> None:
        self._keys = [(bytes.fromhex(k.sha256), k) for k in keys]
        self.open = not keys
        self.limiter = limiter
        self.sessions = sessions

    def lookup(self, key: str) -> ApiKey | None:
        """The configured key matching `key`, or None."""
        digest = hashlib.sha256(key.encode("utf-8")).digest()
        found: ApiKey | None = None
        # Compare against every key, always, so timing does not tell how close a guess was.
        for expected, record in self._keys:
            if hmac.compare_digest(digest, expected):
                found = record
        return found

    def session(self, request: Request) -> tuple[Session, ApiKey] | None:
        """The request's live session and the key it stands for, if that key is still configured."""
        token = request.cookies.get(SESSION_COOKIE)
        session = self.sessions.get(token) if token else None
        if session is None:
            return None
        record = next((k for _, k in self._keys if k.sha256 == session.key_sha256), None)
        return (session, record) if record is not None else None

    def identify(self, request: Request) -> Caller:
        if self.open:
            return OPEN_CALLER
        key = presented_key(request)
        if key is not None:
            found = self.lookup(key)
            if found is None:
                raise ApiError(401, "unknown_api_key", "The API key is not valid; ask an administrator for a key.")
            return _caller(found)
        signed_in = self.session(request)
        if signed_in is not None:
            session, record = signed_in
            # The cookie rides along on any request the browser makes to us; only our pages know the token.
            if request.method not in SAFE_METHODS:
                check_csrf(request, session)
            return _caller(record)
        if SESSION_COOKIE in request.cookies:
            raise ApiError(401, "session_expired", "Your session has ended; enter your API key again under Key.")
        raise ApiError(
            401,
            "missing_api_key",
            "This request needs an API key: send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.",
        )

    def require(self, role: Role) -> Callable[[Request], Awaitable[Caller]]:
        """A FastAPI dependency: the caller, if their role is at least `role`; else 401/403/429."""

        async def dependency(request: Request) -> Caller:
            caller = self.identify(request)
            if RANK[caller.role] < RANK[role]:
                raise ApiError(403, "forbidden", f"This needs a {role} key; the key '{caller.name}' is {caller.role}.")
            # Without keys there is nobody to limit per key: development mode stays unthrottled.
            if self.limiter is not None and not self.open:
                wait = self.limiter.take(caller.name)
                if wait > 0:
                    seconds = max(1, math.ceil(wait))
                    raise ApiError(
                        429,
                        "rate_limited",
                        f"Too many requests for the key '{caller.name}'; try again in {seconds} s.",
                        headers={"Retry-After": str(seconds)},
                    )
            request.state.caller = caller
            return caller

        dependency.__name__ = f"require_{role}"
        return dependency


def check_csrf(request: Request, session: Session) -> None:
    """403 unless the request carries the session's CSRF token in the X-CSRF-Token header."""
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode("utf-8"), session.csrf_token.encode("utf-8")):
        raise ApiError(
            403,
            "csrf_failed",
            f"This request used the browser session without its {CSRF_HEADER} header; reload the page and try again.",
        )


def current_caller(request: Request) -> Caller:
    """The caller a role dependency (Authenticator.require) identified for this request."""
    caller = getattr(request.state, "caller", None)
    if not isinstance(caller, Caller):
        # A route reading the caller without a role check would be open by mistake: fail loudly.
        raise RuntimeError(f"{request.url.path} reads the caller but has no role dependency")
    return caller


CurrentCaller = Annotated[Caller, Depends(current_caller)]


def build_authenticator(settings: Settings) -> Authenticator:
    """The app's authenticator; logs development warnings and raises InsecureSettings in production."""
    for warning in check_security(settings):
        log.warning(warning)
    per_minute = settings.rate_limit_per_minute
    limiter = RateLimiter(per_minute) if per_minute else None
    return Authenticator(settings.api_keys, limiter, SessionStore(settings.session_lifetime_s))
