"""With an LLM configured: rewrite a follow-up into a standalone question in its own language.

Any failure (error, timeout, an empty or runaway reply) returns None, and the turn is searched the
LLM-free way instead (assistant.history_search).
"""

from __future__ import annotations

import concurrent.futures
import logging
import re
from collections.abc import Sequence
from pathlib import Path

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.prompts import ChatPromptTemplate

from assistant import defaults
from assistant.conversations import Turn
from assistant.llm_answer import LANGUAGE_NAMES, PROMPTS_DIR

log = logging.getLogger(__name__)
# Earlier questions shown to the model: the antecedent is almost always in the last two.
HISTORY_TURNS = 3
# A standalone question is a sentence; a longer reply is the model talking, not rewriting.
MAX_QUESTION_CHARS = 300
_HISTORY_TAG = re.compile(r"<\s*/?\s*history\s*>", re.IGNORECASE)


def load_condense_prompt(folder: Path = PROMPTS_DIR) -> ChatPromptTemplate:
    system = (folder / "condense_system.txt").read_text(encoding="utf-8")
    user = (folder / "condense_user.txt").read_text(encoding="utf-8")
    return ChatPromptTemplate.from_messages([("system", system), ("human", user)])


def clean_reply(text: str) -> str | None:
    """The first non-empty line without quotes or a label; None when nothing usable is left."""
    line = next((ln.strip() for ln in text.strip().splitlines() if ln.strip()), "")
    line = re.sub(r"^(standalone question|question)\s*:\s*", "", line, flags=re.IGNORECASE)
    line = line.strip().strip("\"'“”«»").strip()
    if not line or len(line) > MAX_QUESTION_CHARS:
        return None
    return line


class LLMCondenser:
    """Calls the chat model with the last few questions; waits at most `timeout_s`."""

    def __init__(
        self,
        chat_model: BaseChatModel,
        timeout_s: float = defaults.CONDENSE_TIMEOUT_S,
        prompt: ChatPromptTemplate | None = None,
    ):
        self.chat_model = chat_model
        self.timeout_s = timeout_s
        self.prompt = prompt or load_condense_prompt()
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="condense")

    def condense(self, question: str, history: Sequence[Turn], language: str) -> str | None:
        earlier = "\n".join(f"- {_HISTORY_TAG.sub(' ', t.question)}" for t in history[-HISTORY_TURNS:])
        inputs = {
            "language_name": LANGUAGE_NAMES.get(language, "the follow-up's language"),
            "history": earlier,
            "question": question,
        }
        future = self._pool.submit((self.prompt | self.chat_model).invoke, inputs)
        try:
            message = future.result(timeout=self.timeout_s)
        except Exception as exc:  # noqa: BLE001 - any model failure falls back to the LLM-free path
            future.cancel()
            log.warning("condensing the follow-up failed (%s); searching it with the history instead", exc)
            return None
        standalone = clean_reply(str(message.content))
        if standalone is None:
            log.warning("the model's condensed question was empty or too long; searching with the history instead")
        return standalone
