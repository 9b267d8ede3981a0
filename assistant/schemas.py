"""Public request and response shapes of the HTTP API, split by direction. No internal fields leak out."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class FiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_prefix: str | None = Field(None, description="Only documents whose path starts with this.")
    languages: list[str] = Field(default_factory=list, description="Only passages in these languages.")
    tags: list[str] = Field(default_factory=list, description="Only documents carrying one of these tags.")


class AskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(..., description="The agent's question, in any supported language.")
    top_k: int = Field(5, description="Passages to consider and return.")
    filters: FiltersIn | None = None
    conversation_id: str | None = Field(
        None,
        description=(
            "Continue this conversation (the id an earlier answer returned): a follow-up such as "
            "'and for furniture?' is read with the earlier questions. Omit to start a new conversation."
        ),
    )


class SearchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(..., description="Search text.")
    top_k: int = Field(10, description="Passages to return.")
    filters: FiltersIn | None = None


class CitationOut(BaseModel):
    n: int
    source: str
    title: str | None
    page: int | None
    section: str | None
    language: str
    text: str
    highlight: tuple[int, int] | None = Field(None, description="[start, end) of the supporting words inside `text`.")
    score: float
    url: str = Field(..., description="Opens the original document at this passage's page or section.")


class AskOut(BaseModel):
    answer: str
    found: bool
    language: str
    citations: list[CitationOut]
    related: list[CitationOut]
    index_version: str
    timings_ms: dict[str, float]
    conversation_id: str | None = Field(None, description="The conversation of this turn (new if none was sent).")
    answer_id: str | None = Field(None, description="This answer's id: send it with feedback on the answer.")
    searched_for: str | None = Field(
        None, description="The text actually searched; differs from the question when the conversation was used."
    )


class SearchOut(BaseModel):
    hits: list[CitationOut]
    index_version: str
    timings_ms: dict[str, float]


class TicketMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    author: str = Field(
        ..., description='"customer" or "agent": questions are read from the customer\'s messages only.'
    )
    text: str = Field(..., description="The message as written, quoted earlier replies and signature included.")


class SuggestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field("", description="The ticket's subject line.")
    messages: list[TicketMessageIn] = Field(..., description="The ticket's messages, oldest first.")
    language: str | None = Field(
        None, description="The customer's language for the draft reply (ISO 639-1); detected when absent."
    )
    filters: FiltersIn | None = None
    top_k: int = Field(5, description="Passages to consider and return for each question.")


class SuggestedQuestionOut(BaseModel):
    question: str = Field(..., description="One of the customer's questions, as the customer wrote it.")
    answer: AskOut = Field(..., description="Its answer, exactly as /v1/ask would give it (found false: not found).")


class DraftSourceOut(BaseModel):
    n: int = Field(..., description="The number the draft's [n] markers use.")
    title: str = Field(..., description="The document's title (its path when it has none).")
    url: str | None = Field(None, description="The document's public page; null for a file of the knowledge folder.")


class DraftOut(BaseModel):
    text: str = Field(..., description="A reply to paste: cited sentences with [n], open questions, the sources.")
    language: str = Field(..., description="The language the draft's own words are in (the customer's).")
    sources: list[DraftSourceOut]


class SuggestOut(BaseModel):
    questions: list[SuggestedQuestionOut]
    draft: DraftOut
    index_version: str


class ErrorBody(BaseModel):
    status: int
    code: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody


# Feedback: generous limits that still keep one request small; the comment is the agent's own words.
FeedbackText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)] = Field(
        ..., description="The question the agent asked."
    )
    answer: FeedbackText = Field(..., description="The answer the agent rated, as shown.")
    found: bool = Field(..., description="Whether the answer came from the knowledge base.")
    index_version: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        ..., description="The index version that answered (from the /v1/ask response)."
    )
    rating: Literal["up", "down"] = Field(..., description="Thumbs up or down.")
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = Field(
        None, description="Optional words from the agent: what was wrong or missing (at most 1000 characters)."
    )
    sources: list[Annotated[str, StringConstraints(max_length=1000)]] = Field(
        default_factory=list, max_length=50, description="Sources cited by the rated answer."
    )
    answer_id: str | None = Field(
        None, description="The rated answer's answer_id (from the /v1/ask response), tying the rating to its turn."
    )


class FeedbackOut(BaseModel):
    id: int


class GapOut(BaseModel):
    question: str = Field(..., description="The latest wording of the question.")
    count: int = Field(..., description="Times it found nothing plus times its answer got a thumbs down.")
    not_found: int
    thumbs_down: int
    last_seen: str
    comments: list[str]


class GapsOut(BaseModel):
    gaps: list[GapOut]


class DocumentOut(BaseModel):
    source: str
    title: str | None
    language: str
    chunks: int
    bytes: int
    indexed_at: str
    tags: list[str]


class DocumentsOut(BaseModel):
    index_version: str | None
    documents: list[DocumentOut]


class FailureOut(BaseModel):
    source: str
    reason: str
    message: str


class FailuresOut(BaseModel):
    index_version: str | None
    failures: list[FailureOut]


class UploadedOut(BaseModel):
    source: str
    bytes: int
    replaced: bool = Field(..., description="A file of that name was already in the folder and was overwritten.")


class UploadOut(BaseModel):
    saved: list[UploadedOut]


class StageOut(BaseModel):
    done: int
    total: int


class IngestStatusOut(BaseModel):
    state: Literal["idle", "running", "done", "failed"]
    stages: dict[str, StageOut]
    report: dict[str, Any] | None = Field(None, description="What the last re-index did (SyncReport).")
    error: str | None = None


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)] = Field(
        ..., description="The API key from your administrator; it is checked, never stored."
    )


class SessionOut(BaseModel):
    signed_in: bool = Field(..., description="Whether this browser holds a live session.")
    keys_required: bool = Field(..., description="False when the server has no API keys (development): no sign-in.")
    name: str | None = Field(None, description="The key's name, when signed in.")
    role: Literal["agent", "manager"] | None = Field(None, description="The key's role, when signed in.")
    expires_at: str | None = Field(None, description="When the session ends (ISO 8601, UTC).")
    csrf_token: str | None = Field(
        None, description="Send as X-CSRF-Token on every state-changing request made with the session cookie."
    )
    llm_answers: bool = Field(
        False, description="An LLM writes the answers: the panel streams them from /v1/ask/stream as they are written."
    )


class SourceRunOut(BaseModel):
    started_at: str
    finished_at: str
    seconds: float
    outcome: Literal["ok", "partial", "failed"] = Field(
        ..., description="ok: everything read; partial: some items failed; failed: the source could not be read."
    )
    added: int
    updated: int
    unchanged: int
    removed: int
    failed: int
    embedded: int = Field(..., description="Passages embedded anew (texts seen before reuse their vectors).")
    error: str | None = Field(None, description="Why the whole source could not be read; its last good items stay.")
    index_version: str


class SourceOut(BaseModel):
    name: str
    kind: str
    schedule: str = Field(..., description="'every N s', a cron expression (UTC) or 'manual'.")
    next_run: str | None = Field(None, description="When `assistant serve` syncs it next (UTC), if scheduled.")
    state: Literal["never", "running", "ok", "partial", "failed"]
    items: int = Field(..., description="Documents of this source in the live index.")
    last_run: SourceRunOut | None
    failures: list[FailureOut] = Field(..., description="Items the last run could not read (by item id or URL).")


class SourcesOut(BaseModel):
    running: str | None = Field(None, description="The source(s) syncing right now.")
    sources: list[SourceOut]
