"""Public request and response shapes of the HTTP API, split by direction. No internal fields leak out."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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


class SearchOut(BaseModel):
    hits: list[CitationOut]
    index_version: str
    timings_ms: dict[str, float]


class ErrorBody(BaseModel):
    status: int
    code: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody
