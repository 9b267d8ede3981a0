"""POST /v1/feedback: agents rate an answer; the log closes when the app shuts down."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.params import Depends

from assistant.feedback import Feedback, FeedbackLog
from assistant.schemas import ErrorOut, FeedbackIn, FeedbackOut


def feedback_router(feedback: FeedbackLog, dependencies: Sequence[Depends] = ()) -> APIRouter:
    """The feedback route; `dependencies` (e.g. a role check) apply to it."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        feedback.close()

    router = APIRouter(lifespan=lifespan, dependencies=list(dependencies))

    @router.post(
        "/v1/feedback",
        status_code=201,
        response_model=FeedbackOut,
        responses={422: {"model": ErrorOut}},
        summary="Thumbs up or down on an answer, with an optional comment",
    )
    def give_feedback(body: FeedbackIn) -> FeedbackOut:
        record = Feedback(
            question=body.question,
            answer=body.answer,
            found=body.found,
            index_version=body.index_version,
            rating=body.rating,
            comment=body.comment or None,
            sources=body.sources,
        )
        return FeedbackOut(id=feedback.record_feedback(record))

    return router
