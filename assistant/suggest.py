"""Suggestions for a helpdesk ticket: the customer's questions, each answered, and a draft reply."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.answer import Answer
from assistant.draft import Draft, extractive_draft
from assistant.retriever import Filters
from assistant.service import KnowledgeService
from assistant.ticket import TicketMessage, customer_text, find_questions
from ingest.language import detect_language


@dataclass
class Suggestion:
    answered: list[tuple[str, Answer]]  # (the customer's question, its answer), in the ticket's order
    draft: Draft
    index_version: str


def suggest(
    service: KnowledgeService,
    subject: str,
    messages: list[TicketMessage],
    top_k: int,
    filters: Filters | None = None,
    language: str | None = None,
    max_questions: int = 5,
    max_question_chars: int = 2000,
) -> Suggestion:
    """Find the questions, answer them in one batch, and draft the reply in the customer's language.

    Args:
        language: the customer's language; None detects it from their latest messages (or the subject).
    """
    questions = [q[:max_question_chars] for q in find_questions(subject, messages, max_questions)]
    languages = service.config.languages
    language = language or detect_language(customer_text(messages) or subject, languages)
    answers, retriever = service.ask_many(questions, top_k, filters)
    answered = list(zip(questions, answers, strict=True))
    draft = extractive_draft(answered, language)
    if service.drafter is not None:
        draft = service.drafter.draft(answered, language, draft, retriever)
    return Suggestion(answered, draft, retriever.index.version)
