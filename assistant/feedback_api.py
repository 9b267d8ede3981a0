"""POST /v1/feedback: agents rate an answer; the log closes when the app shuts down."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.params import Depends

from assistant.auth import CurrentCaller
from assistant.conversations import ID_PATTERN, ConversationStore
from assistant.errors import ApiError
from assistant.feedback import Feedback, FeedbackLog
from assistant.schemas import ErrorOut, FeedbackIn, FeedbackOut


def feedback_router(
    feedback: FeedbackLog, dependencies: Sequence[Depends] = (), conversations: ConversationStore | None = None
) -> APIRouter:
    """The feedback route; `dependencies` (the role check that identifies the caller) apply to it.

    With `conversations`, a rating may name the answer_id it belongs to, which must be one of the
    caller's own answers.
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        feedback.close()

    router = APIRouter(lifespan=lifespan, dependencies=list(dependencies))

    @router.post(
        "/v1/feedback",
        status_code=201,
        response_model=FeedbackOut,
        responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}},
        summary="Thumbs up or down on an answer, with an optional comment",
    )
    def give_feedback(body: FeedbackIn, caller: CurrentCaller) -> FeedbackOut:
        if body.answer_id is not None:
            if not ID_PATTERN.fullmatch(body.answer_id):
                raise ApiError(422, "invalid_answer_id", "answer_id must be the 22-character id an answer returned.")
            if conversations is None or not conversations.owns_answer(caller.name, body.answer_id):
                raise ApiError(404, "answer_not_found", "There is no answer with that answer_id; it may have expired.")
        record = Feedback(
            question=body.question,
            answer=body.answer,
            found=body.found,
            index_version=body.index_version,
            rating=body.rating,
            comment=body.comment or None,
            sources=body.sources,
            answer_id=body.answer_id,
        )
        return FeedbackOut(id=feedback.record_feedback(record))

    return router
