"""/v1/session: the panel trades a key for an HttpOnly session cookie, reads its state, and signs out."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from assistant.auth import Authenticator, check_csrf
from assistant.errors import ApiError
from assistant.schemas import ErrorOut, SessionIn, SessionOut
from assistant.sessions import COOKIE_PATH, SESSION_COOKIE, Session
from assistant.settings import ApiKey


def _signed_in(record: ApiKey, session: Session, llm_answers: bool) -> SessionOut:
    return SessionOut(
        llm_answers=llm_answers,
        signed_in=True,
        keys_required=True,
        name=record.name,
        role=record.role,
        expires_at=datetime.fromtimestamp(session.expires_at, UTC).isoformat(timespec="seconds"),
        csrf_token=session.csrf_token,
    )


def session_router(auth: Authenticator, llm_answers: bool = False) -> APIRouter:
    """The session routes; `llm_answers` tells the panel whether to stream answers."""
    router = APIRouter(prefix="/v1/session", tags=["session"])

    @router.post(
        "",
        response_model=SessionOut,
        responses={401: {"model": ErrorOut}, 409: {"model": ErrorOut}},
        summary="Sign this browser in with an API key: sets an HttpOnly session cookie",
    )
    def sign_in(body: SessionIn, request: Request, response: Response) -> SessionOut:
        if auth.open:
            raise ApiError(409, "no_keys_configured", "This server has no API keys (development mode): no sign-in.")
        record = auth.lookup(body.key)
        if record is None:
            raise ApiError(401, "unknown_api_key", "The API key is not valid; ask an administrator for a key.")
        # A fresh cookie value on every sign-in: a value planted before it never becomes a session.
        old = request.cookies.get(SESSION_COOKIE)
        if old:
            auth.sessions.end(old)
        token, session = auth.sessions.create(record.sha256)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=int(auth.sessions.lifetime_s),
            path=COOKIE_PATH,
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return _signed_in(record, session, llm_answers)

    @router.get("", response_model=SessionOut, summary="Whether this browser is signed in, and its CSRF token")
    def session_state(request: Request) -> SessionOut:
        signed_in = auth.session(request)
        if signed_in is None:
            return SessionOut(signed_in=False, keys_required=not auth.open, llm_answers=llm_answers)
        session, record = signed_in
        return _signed_in(record, session, llm_answers)

    @router.delete(
        "",
        response_model=SessionOut,
        responses={403: {"model": ErrorOut}},
        summary="Sign this browser out: ends the session and clears its cookie",
    )
    def sign_out(request: Request, response: Response) -> SessionOut:
        signed_in = auth.session(request)
        if signed_in is not None:
            check_csrf(request, signed_in[0])
            auth.sessions.end(request.cookies[SESSION_COOKIE])
        response.delete_cookie(
            SESSION_COOKIE, path=COOKIE_PATH, secure=request.url.scheme == "https", httponly=True, samesite="strict"
        )
        return SessionOut(signed_in=False, keys_required=not auth.open, llm_answers=llm_answers)

    return router
