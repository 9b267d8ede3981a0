"""Checks shared by the query routes: a non-empty text within the length limit, a top_k within range."""

from __future__ import annotations

from assistant.errors import ApiError
from assistant.settings import Settings


def validate_text(text: str, field: str, settings: Settings) -> str:
    text = text.strip()
    if not text:
        raise ApiError(422, "empty_" + field, f"The {field} is empty; type what you are looking for.")
    if len(text) > settings.max_question_chars:
        raise ApiError(
            422,
            f"{field}_too_long",
            f"The {field} has {len(text)} characters; the limit is {settings.max_question_chars}.",
        )
    return text


def validate_top_k(top_k: int, settings: Settings) -> int:
    if not 1 <= top_k <= settings.max_top_k:
        raise ApiError(422, "top_k_out_of_range", f"top_k must be between 1 and {settings.max_top_k}.")
    return top_k
