"""DELETE /v1/conversations/{id}: an agent forgets a conversation; the store closes when the app shuts down."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Response
from fastapi.params import Depends

from assistant.auth import CurrentCaller
from assistant.conversations import ConversationStore
from assistant.schemas import ErrorOut


def conversations_router(store: ConversationStore, dependencies: Sequence[Depends] = ()) -> APIRouter:
    """The conversation routes; `dependencies` (the role check that identifies the caller) apply to them."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()

    router = APIRouter(lifespan=lifespan, dependencies=list(dependencies))

    @router.delete(
        "/v1/conversations/{conversation_id}",
        status_code=204,
        responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}},
        summary="Forget a conversation and its turns ('New conversation' in the panel)",
    )
    def delete_conversation(conversation_id: str, caller: CurrentCaller) -> Response:
        store.delete(caller.name, conversation_id)
        return Response(status_code=204)

    return router
