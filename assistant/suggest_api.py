"""POST /v1/suggest: a helpdesk ticket in, the customer's questions with cited answers and a draft reply out."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter
from fastapi.params import Depends

from assistant.auth import CurrentCaller
from assistant.errors import ApiError
from assistant.feedback import FeedbackLog
from assistant.limits import run_with_timeout
from assistant.responses import Groups, answer_out, to_filters
from assistant.schemas import DraftOut, DraftSourceOut, ErrorOut, SuggestedQuestionOut, SuggestIn, SuggestOut
from assistant.service import KnowledgeService
from assistant.settings import Settings
from assistant.suggest import suggest
from assistant.ticket import TicketMessage
from assistant.validation import validate_top_k

AUTHORS = ("customer", "agent")


def ticket_messages(body: SuggestIn, settings: Settings) -> list[TicketMessage]:
    """The ticket's messages, or a 422 naming what is wrong with them."""
    if not body.messages:
        raise ApiError(422, "empty_ticket", "The ticket has no messages; send at least the customer's message.")
    if len(body.messages) > settings.max_ticket_messages:
        raise ApiError(
            422,
            "too_many_messages",
            f"The ticket has {len(body.messages)} messages; the limit is {settings.max_ticket_messages}. "
            "Send the latest ones.",
        )
    for i, message in enumerate(body.messages):
        if message.author not in AUTHORS:
            raise ApiError(
                422, "invalid_author", f"messages[{i}].author must be 'customer' or 'agent', not {message.author!r}."
            )
    size = len(body.subject) + sum(len(m.text) for m in body.messages)
    if size > settings.max_ticket_chars:
        raise ApiError(
            422,
            "ticket_too_long",
            f"The ticket has {size} characters; the limit is {settings.max_ticket_chars}. Send the latest messages.",
        )
    if not any(m.text.strip() for m in body.messages):
        raise ApiError(422, "empty_messages", "Every message of the ticket is empty.")
    return [TicketMessage(m.author, m.text) for m in body.messages]


def ticket_language(body: SuggestIn, settings: Settings) -> str | None:
    if body.language is None:
        return None
    language = body.language.strip().lower()
    if language not in settings.languages:
        raise ApiError(
            422,
            "unsupported_language",
            f"language must be one of {', '.join(settings.languages)}, not {body.language!r}; omit it to detect it.",
        )
    return language


def run_suggest(service: KnowledgeService, settings: Settings, body: SuggestIn, groups: Groups = None) -> SuggestOut:
    """The /v1/suggest body: every question answered with the caller's access groups, like /v1/ask."""
    top_k = validate_top_k(body.top_k, settings)
    messages = ticket_messages(body, settings)
    language = ticket_language(body, settings)
    found = suggest(
        service,
        body.subject,
        messages,
        top_k,
        to_filters(body.filters, groups),
        language,
        settings.max_ticket_questions,
        settings.max_question_chars,
    )
    version = found.index_version
    draft = found.draft
    return SuggestOut(
        questions=[SuggestedQuestionOut(question=q, answer=answer_out(a, version)) for q, a in found.answered],
        draft=DraftOut(
            text=draft.text,
            language=draft.language,
            sources=[DraftSourceOut(n=s.n, title=s.title, url=s.url) for s in draft.sources],
        ),
        index_version=version,
    )


def suggest_router(
    service: KnowledgeService, settings: Settings, feedback: FeedbackLog, dependencies: Sequence[Depends] = ()
) -> APIRouter:
    """The suggest route; `dependencies` (the agent role check that identifies the caller) apply to it."""
    router = APIRouter(dependencies=list(dependencies))
    errors: dict[int | str, dict[str, object]] = {c: {"model": ErrorOut} for c in (401, 403, 413, 422, 429, 503)}

    @router.post(
        "/v1/suggest",
        response_model=SuggestOut,
        responses=errors,
        summary="Suggest answers and a draft reply for a helpdesk ticket",
    )
    async def suggest_route(body: SuggestIn, caller: CurrentCaller) -> SuggestOut:
        def work() -> SuggestOut:
            out = run_suggest(service, settings, body, caller.groups)
            # Like /v1/ask: unanswered ticket questions show up among the content gaps.
            for item in out.questions:
                feedback.record_question(item.question, item.answer.language, item.answer.found, out.index_version)
            return out

        return await run_with_timeout(settings.request_timeout_s, work)

    return router
