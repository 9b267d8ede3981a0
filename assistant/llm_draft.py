"""The LLM "Draft reply": the customer's language, every sentence citing a checked passage, else the extractive draft.

The model only writes the answered part. The open questions and the numbered sources are added by
code, so a model can neither answer what the knowledge base did not, nor invent a source.
"""

from __future__ import annotations

import concurrent.futures
import logging
from pathlib import Path

import numpy as np
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.prompts import ChatPromptTemplate

from assistant import defaults
from assistant.answer import Answer
from assistant.citation_check import check_citations, cosine
from assistant.draft import Draft, SourceNumbers, assemble, is_answered, rewrite_markers
from assistant.history_search import passage_key
from assistant.llm_answer import LANGUAGE_NAMES, PROMPTS_DIR, fence, format_passages
from assistant.retriever import Hit, Retriever
from ingest.embedder import Embedder

log = logging.getLogger(__name__)


def load_draft_prompt(folder: Path = PROMPTS_DIR) -> ChatPromptTemplate:
    system = (folder / "draft_system.txt").read_text(encoding="utf-8")
    user = (folder / "draft_user.txt").read_text(encoding="utf-8")
    return ChatPromptTemplate.from_messages([("system", system), ("human", user)])


def cited_passages(answered: list[tuple[str, Answer]]) -> list[Hit]:
    """The passages the answers cite, each once, in the order of the questions."""
    hits: dict[str, Hit] = {}
    for _, answer in answered:
        for citation in answer.citations:
            hits.setdefault(passage_key(citation.hit), citation.hit)
    return list(hits.values())


class LLMDrafter:
    """Asks the chat model for the reply's body and keeps it only if every sentence passes the citation check."""

    def __init__(
        self,
        chat_model: BaseChatModel,
        embedder: Embedder,
        prompt: ChatPromptTemplate | None = None,
        timeout_s: float = defaults.LLM_TIMEOUT_S,
        min_support: float = defaults.LLM_MIN_SUPPORT,
        max_sentences: int = 3,
    ) -> None:
        self.chat_model = chat_model
        self.embedder = embedder
        self.prompt = prompt or load_draft_prompt()
        self.timeout_s = timeout_s
        self.min_support = min_support
        self.max_sentences = max_sentences
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="draft")

    def draft(self, answered: list[tuple[str, Answer]], language: str, fallback: Draft, retriever: Retriever) -> Draft:
        """The checked LLM draft; `fallback` (the extractive one) on error, timeout or any failed check."""
        found = [(q, a) for q, a in answered if is_answered(a)]
        if not found:
            return fallback
        hits = cited_passages(found)
        inputs = {
            "language_name": LANGUAGE_NAMES.get(language, "the customer's language"),
            "max_sentences": self.max_sentences,
            "questions": fence("\n".join(f"- {q}" for q, _ in found)),
            "passages": format_passages(hits),
        }
        future = self._pool.submit((self.prompt | self.chat_model).invoke, inputs)
        try:
            generated = str(future.result(timeout=self.timeout_s).content)
        except Exception as exc:  # noqa: BLE001 - any model failure falls back to the extractive draft
            future.cancel()
            log.warning("LLM draft failed (%s); using the extractive draft", exc)
            return fallback
        body = self.checked_body(generated, hits, retriever)
        if body is None:
            return fallback
        numbers = SourceNumbers()
        body = rewrite_markers(body, lambda n: numbers.of_chunk(hits[n - 1].chunk))
        open_questions = [q for q, a in answered if not is_answered(a)]
        return Draft(assemble([body], open_questions, numbers.sources, language), language, numbers.sources)

    def checked_body(self, generated: str, hits: list[Hit], retriever: Retriever) -> str | None:
        """The generated text if every sentence cites a passage that supports it; None otherwise.

        A reply to a customer is all or nothing: dropping sentences would leave a reply nobody wrote,
        so one unsupported sentence, stray link or marker to nowhere sends the extractive draft.
        """
        vectors: dict[int, np.ndarray] = {}

        def support(sentence: str, n: int) -> float:
            if n not in vectors:
                vectors[n] = retriever.index.vectors.vectors(np.array([hits[n - 1].chunk_int]))[0]
            return cosine(self.embedder.embed_documents([sentence])[0], vectors[n])

        checked = check_citations(generated, [h.chunk.text for h in hits], support, self.min_support)
        if not checked.text or checked.removed or checked.flags:
            problems = checked.flags or checked.removed
            log.info("LLM draft failed the citation check (%s); using the extractive draft", problems)
            return None
        return checked.text
