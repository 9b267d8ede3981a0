"""Optional LLM answerer through LangChain, with checked citations and the extractive answer as fallback."""

from __future__ import annotations

import concurrent.futures
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.prompts import ChatPromptTemplate

from assistant import defaults
from assistant.answer import NOT_FOUND, Answer, Citation, ExtractiveAnswerer, best_sentence_span
from assistant.citation_check import check_citations, cosine
from assistant.retriever import Hit, SearchResult
from assistant.settings import Settings
from ingest.embedder import Embedder

log = logging.getLogger(__name__)
LANGUAGE_NAMES = {"en": "English", "fi": "Finnish", "pl": "Polish", "th": "Thai"}
PROMPTS_DIR = Path(__file__).resolve().parents[1] / "prompts"
# The data blocks of the answer and draft prompts.
_DELIMITER = re.compile(r"<\s*/?\s*(?:passages|questions)\s*>", re.IGNORECASE)


def load_prompt(folder: Path = PROMPTS_DIR) -> ChatPromptTemplate:
    """The answer prompt from its template files (system + user), so wording changes need no code."""
    system = (folder / "answer_system.txt").read_text(encoding="utf-8")
    user = (folder / "answer_user.txt").read_text(encoding="utf-8")
    return ChatPromptTemplate.from_messages([("system", system), ("human", user)])


def build_chat_model(settings: Settings) -> BaseChatModel | None:
    """The configured chat model, or None when answers stay extractive."""
    if settings.llm_provider == "none":
        return None
    if settings.llm_provider == "ollama":
        from langchain_ollama import ChatOllama

        return ChatOllama(
            model=settings.llm_model,
            base_url=settings.llm_base_url or None,
            temperature=0,
            client_kwargs={"timeout": settings.llm_timeout_s},
        )
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=settings.llm_model,
        base_url=settings.llm_base_url or None,
        api_key=settings.llm_api_key or "none",
        temperature=0,
        timeout=settings.llm_timeout_s,
        max_retries=0,
    )


def fence(text: str) -> str:
    """Defuse text that imitates the <passages> or <questions> delimiters, so it cannot end its data block."""
    return _DELIMITER.sub(lambda m: m.group(0).replace("<", "‹").replace(">", "›"), text)


def format_passages(hits: list[Hit]) -> str:
    blocks = []
    for n, hit in enumerate(hits, start=1):
        chunk = hit.chunk
        where = ", ".join(x for x in [chunk.title, f"page {chunk.page}" if chunk.page else None, chunk.section] if x)
        blocks.append(fence(f"[{n}] ({where})\n{chunk.text}"))
    return "\n\n".join(blocks)


class LLMAnswerer:
    """Generates a short answer in the question's language, then keeps only checked, cited sentences.

    Retrieval still decides whether there is an answer at all (the extractive answerer's threshold),
    so a model that would happily guess never gets the chance.
    """

    def __init__(
        self,
        chat_model: BaseChatModel,
        fallback: ExtractiveAnswerer,
        embedder: Embedder,
        prompt: ChatPromptTemplate | None = None,
        timeout_s: float = defaults.LLM_TIMEOUT_S,
        min_support: float = defaults.LLM_MIN_SUPPORT,
        max_passages: int = 5,
    ) -> None:
        self.chat_model = chat_model
        self.fallback = fallback
        self.embedder = embedder
        self.prompt = prompt or load_prompt()
        self.timeout_s = timeout_s
        self.min_support = min_support
        self.max_passages = max_passages
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="llm")

    def _inputs(self, question: str, result: SearchResult) -> dict[str, object]:
        language = result.language
        return {
            "language_name": LANGUAGE_NAMES.get(language, "the question's language"),
            "max_sentences": 3,
            "not_found": NOT_FOUND.get(language, NOT_FOUND["en"]),
            "passages": format_passages(result.hits[: self.max_passages]),
            "question": question,
        }

    def answer(self, question: str, result: SearchResult) -> Answer:
        if not result.hits or not self.fallback.is_answerable(result):
            return self.fallback.answer(question, result)
        started = time.perf_counter()
        chain = self.prompt | self.chat_model
        future = self._pool.submit(chain.invoke, self._inputs(question, result))
        try:
            message = future.result(timeout=self.timeout_s)
        except Exception as exc:  # noqa: BLE001 - any model failure falls back to the extractive answer
            future.cancel()
            log.warning("LLM answer failed (%s); using the extractive answer", exc)
            return self.fallback.answer(question, result)
        answer = self.finish(question, result, str(message.content))
        answer.timings_ms["llm"] = round((time.perf_counter() - started) * 1000, 2)
        return answer

    def stream(self, question: str, result: SearchResult) -> Iterator[str | Answer]:
        """Yield text pieces as the model writes them, then the checked Answer as the last item."""
        if not result.hits or not self.fallback.is_answerable(result):
            yield self.fallback.answer(question, result)
            return
        parts: list[str] = []
        try:
            for piece in (self.prompt | self.chat_model).stream(self._inputs(question, result)):
                text = str(piece.content)
                parts.append(text)
                yield text
        except Exception as exc:  # noqa: BLE001 - fall back, the client replaces the draft
            log.warning("LLM stream failed (%s); using the extractive answer", exc)
            yield self.fallback.answer(question, result)
            return
        yield self.finish(question, result, "".join(parts))

    def finish(self, question: str, result: SearchResult, generated: str) -> Answer:
        """Validate the generated text; fall back to the extractive answer when nothing survives."""
        hits = result.hits[: self.max_passages]
        language = result.language
        not_found = NOT_FOUND.get(language, NOT_FOUND["en"])
        if generated.strip() == not_found:
            related = [Citation(n, hit, None) for n, hit in enumerate(result.hits, start=1)]
            return Answer(not_found, False, language, [], related)
        vectors: dict[int, np.ndarray] = {}

        def support(sentence: str, n: int) -> float:
            if n not in vectors:
                vectors[n] = result.passage_vector(hits[n - 1])
            return cosine(self.embedder.embed_documents([sentence])[0], vectors[n])

        checked = check_citations(generated, [h.chunk.text for h in hits], support, self.min_support)
        for flag in checked.flags:
            log.info("citation check: %s", flag)
        if not checked.text:
            return self.fallback.answer(question, result)
        cited = sorted(checked.cited)
        citations = [Citation(n, hits[n - 1], best_sentence_span(checked.text, hits[n - 1])) for n in cited]
        related = [Citation(n, hit, None) for n, hit in enumerate(result.hits, start=1) if n not in cited]
        return Answer(checked.text, True, language, citations, related)
