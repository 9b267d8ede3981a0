"""POST /v1/suggest: a ticket's customer questions, each answered like /v1/ask, and the draft reply."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import BaseMessage

from assistant.answer import Answer, Citation
from assistant.api import create_app
from assistant.draft import FOLLOW_UP, SOURCES, extractive_draft
from assistant.retriever import Hit
from assistant.schemas import AskOut
from assistant.service import KnowledgeService, ServiceConfig
from assistant.settings import Settings
from ingest.documents import Chunk
from tests import test_auth
from tests.test_auth import CANARY, KEYS, RESTRICTED, auth

# The access tests' fixtures: the tiny corpus plus a document only the hr group sees, behind API keys.
secure_service = test_auth.secure_service
make_client = test_auth.make_client
secure = test_auth.secure

RETURN_DAYS = "How many days do I have to return an item?"
DAMAGED = "What should I do if an item arrives damaged?"
MARS = "How do I bake a cake on Mars?"
ASK_FIELDS = set(AskOut.model_fields)


def customer(text: str) -> dict[str, str]:
    return {"author": "customer", "text": text}


def agent(text: str) -> dict[str, str]:
    return {"author": "agent", "text": text}


def suggest(client: TestClient, *messages: dict[str, str], **extra: Any) -> dict[str, Any]:
    ticket = {"subject": extra.pop("subject", ""), "messages": list(messages), **extra}
    response = client.post("/v1/suggest", json=ticket)
    assert response.status_code == 200, response.text
    return response.json()


def questions_of(body: dict[str, Any]) -> list[str]:
    return [item["question"] for item in body["questions"]]


def markers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", text)}


# --- the questions --------------------------------------------------------------------------------


def test_a_multi_question_email_gets_each_question_answered_like_ask(client) -> None:
    email = f"Hello,\nI ordered a lamp last week. {RETURN_DAYS} And {DAMAGED[0].lower()}{DAMAGED[1:]}\n"
    body = suggest(client, customer(email), subject="Lamp order")
    assert questions_of(body) == [RETURN_DAYS, "And " + DAMAGED[0].lower() + DAMAGED[1:]]
    days, damaged = (item["answer"] for item in body["questions"])
    assert set(days) == set(damaged) == ASK_FIELDS
    assert days["found"] and "30 days" in days["answer"]
    assert damaged["found"] and "photo" in damaged["answer"]
    assert days["citations"][0]["section"] == "Returns policy > Return window"
    assert damaged["citations"][0]["section"] == "Returns policy > Damaged items"
    # The same answer /v1/ask gives to the same question (timings aside).
    alone = client.post("/v1/ask", json={"question": RETURN_DAYS}).json()
    for field in ("answer", "found", "language", "citations", "related"):
        assert days[field] == alone[field], field
    assert body["index_version"] == days["index_version"] == alone["index_version"]


def test_quoted_replies_and_signatures_are_not_questions(client) -> None:
    email = (
        f"{RETURN_DAYS}\n\nBest regards\nJohn Smith\nCan you reach me at +358 40 123?\n\n"
        "On Mon, 1 Dec 2026 at 10:00 Support <support@nordvik.example> wrote:\n"
        "> Do you still have the receipt?\n> What should I do if an item arrives damaged?"
    )
    body = suggest(client, customer(email))
    assert questions_of(body) == [RETURN_DAYS]
    assert "receipt" not in body["draft"]["text"] and "+358" not in body["draft"]["text"]


def test_agent_messages_are_context_and_only_the_latest_customer_messages_ask(client) -> None:
    thread = [
        customer("Can I return a lamp after two months?"),
        agent("What should I do if an item arrives damaged? Could you send your order number?"),
        customer(f"Order 1234. {RETURN_DAYS}"),
        customer(MARS),
    ]
    assert questions_of(suggest(client, *thread, subject="Is the refund free?")) == [RETURN_DAYS, MARS]
    # The agent wrote last: the customer's messages before the reply are still the open ones.
    assert questions_of(suggest(client, *thread[:3], agent("Let me look."))) == [RETURN_DAYS]
    # Nobody replied yet: the subject is the customer's first question.
    assert questions_of(suggest(client, thread[0], subject="Is the refund free?")) == [
        "Is the refund free?",
        "Can I return a lamp after two months?",
    ]


def test_a_ticket_without_questions_has_none_and_an_empty_draft(client) -> None:
    body = suggest(client, customer("Thank you, all sorted now."))
    assert body["questions"] == [] and body["draft"]["text"] == "" and body["draft"]["sources"] == []


def test_the_questions_are_embedded_in_one_batch(service, monkeypatch) -> None:
    """A ticket costs one model call for all its questions, not one per question."""
    batches: list[list[str]] = []
    alone: list[str] = []
    embed_queries, embed_query = service.embedder.embed_queries, service.embedder.embed_query

    def batch(texts: list[str]) -> Any:
        batches.append(list(texts))
        # The fake embeds a batch text by text; those calls are part of the one batch.
        monkeypatch.setattr(service.embedder, "embed_query", embed_query)
        try:
            return embed_queries(texts)
        finally:
            monkeypatch.setattr(service.embedder, "embed_query", single)

    def single(text: str) -> Any:
        alone.append(text)
        return embed_query(text)

    monkeypatch.setattr(service.embedder, "embed_queries", batch)
    monkeypatch.setattr(service.embedder, "embed_query", single)
    with TestClient(create_app(service, Settings())) as client:
        batches.clear(), alone.clear()  # start-up warms the model up
        body = suggest(client, customer(f"{RETURN_DAYS} {DAMAGED} {MARS}"))
    assert len(body["questions"]) == 3
    assert batches == [[RETURN_DAYS, DAMAGED, MARS]] and alone == []


# --- the draft ------------------------------------------------------------------------------------


def test_not_found_questions_are_marked_and_handed_to_a_human_in_the_draft(client) -> None:
    body = suggest(client, customer(f"{RETURN_DAYS} {MARS}"))
    days, mars = (item["answer"] for item in body["questions"])
    assert days["found"] and not mars["found"] and mars["citations"] == []
    draft = body["draft"]["text"]
    assert f"{FOLLOW_UP['en']}\n- {MARS}" in draft
    # The open question is not dressed up as an answer: its sentence appears only in the follow-up list.
    assert draft.count("Mars") == 1 and draft.index("30 days") < draft.index(FOLLOW_UP["en"])


def test_the_draft_cites_numbered_sources_that_match_its_markers(client) -> None:
    body = suggest(client, customer(f"{RETURN_DAYS} {DAMAGED}"))
    draft = body["draft"]
    # Both answers come from one document: one source, cited by both paragraphs.
    assert draft["sources"] == [{"n": 1, "title": "Returns policy", "url": None}]
    paragraphs = draft["text"].split("\n\n")
    assert paragraphs[0].startswith("You can return any item within 30 days") and paragraphs[0].endswith("[1]")
    assert "photo" in paragraphs[1] and paragraphs[1].endswith("[1]")
    assert paragraphs[-1] == f"{SOURCES['en']}\n[1] Returns policy (returns.md)"
    assert markers(draft["text"]) == {s["n"] for s in draft["sources"]}
    assert not draft["text"].lower().startswith(("hi", "hello", "dear"))


def chunk(source: str, text: str, title: str, url: str | None = None) -> Chunk:
    return Chunk(f"id-{source}-{len(text)}", source, text, 0, len(text), title, None, None, "en", 0, url)


def answered(text: str, *chunks: Chunk) -> Answer:
    citations = [Citation(n, Hit(c, 0.9), None) for n, c in enumerate(chunks, start=1)]
    return Answer(text, True, "en", citations, [])


def test_sources_are_numbered_per_document_in_order_of_first_citation() -> None:
    faq = chunk("faq.md", "Shipping is free over 50 euros.", "FAQ")
    web = chunk("web/returns", "Returns take 30 days.", "Returns", url="https://help.example/returns")
    other_faq = chunk("faq.md", "We ship to Finland.", "FAQ")
    draft = extractive_draft(
        [
            ("Returns?", answered("Returns take 30 days. [1] Shipping is free. [2]", web, faq)),
            ("Finland?", answered("We ship to Finland. [1]", other_faq)),
            ("Mars?", Answer("not found", False, "en", [], [])),
        ],
        "pl",
    )
    assert [(s.n, s.title, s.url) for s in draft.sources] == [
        (1, "Returns", "https://help.example/returns"),
        (2, "FAQ", None),
    ]
    assert draft.text == (
        "Returns take 30 days. [1] Shipping is free. [2]\n\nWe ship to Finland. [2]\n\n"
        f"{FOLLOW_UP['pl']}\n- Mars?\n\n"
        f"{SOURCES['pl']}\n[1] Returns (https://help.example/returns)\n[2] FAQ (faq.md)"
    )


@pytest.mark.parametrize("language", ["fi", "pl", "th", "en"])
def test_the_draft_speaks_the_requested_language(client, language) -> None:
    body = suggest(client, customer(f"{RETURN_DAYS} {MARS}"), language=language)
    draft = body["draft"]
    assert draft["language"] == language
    assert FOLLOW_UP[language] in draft["text"] and SOURCES[language] in draft["text"]


def test_the_customers_language_is_detected_from_their_latest_messages(client) -> None:
    body = suggest(client, agent("Hello, how can I help?"), customer("Miten voin leipoa kakun Marsissa?"))
    assert body["draft"]["language"] == "fi"
    assert body["draft"]["text"] == f"{FOLLOW_UP['fi']}\n- Miten voin leipoa kakun Marsissa?"


# --- access, logging and bad tickets ----------------------------------------------------------------


@pytest.mark.parametrize("outsider", ["public-agent", "finance-agent"])
def test_restricted_passages_never_reach_a_key_without_the_group(secure, outsider) -> None:
    ticket = {
        "subject": "Bonus",
        "messages": [customer(f"How big is the refund bonus for staff who handle returns? What is {CANARY}?")],
        "top_k": 20,
    }
    response = secure.post("/v1/suggest", json=ticket, headers=auth(outsider))
    assert response.status_code == 200, response.text
    text = response.text.replace(CANARY + "?", "")  # the customer's own words echo back
    assert CANARY not in text and RESTRICTED not in text and "bonus-policy" not in text
    insider = secure.post("/v1/suggest", json=ticket, headers=auth("hr-agent")).json()
    assert insider["questions"][0]["answer"]["citations"][0]["source"] == RESTRICTED
    assert insider["draft"]["sources"][0]["title"].startswith("Bonus policy")


def test_the_route_needs_a_key_or_a_session_with_its_csrf_token(secure) -> None:
    ticket = {"subject": "", "messages": [customer(RETURN_DAYS)]}
    assert secure.post("/v1/suggest", json=ticket).json()["error"]["code"] == "missing_api_key"
    session = secure.post("/v1/session", json={"key": KEYS["public-agent"][0]}).json()
    assert secure.post("/v1/suggest", json=ticket).json()["error"]["code"] == "csrf_failed"
    signed_in = secure.post("/v1/suggest", json=ticket, headers={"X-CSRF-Token": session["csrf_token"]})
    assert signed_in.status_code == 200 and signed_in.json()["questions"][0]["answer"]["found"]


def test_unanswered_ticket_questions_show_among_the_content_gaps(client) -> None:
    suggest(client, customer(f"{RETURN_DAYS} {MARS}"))
    gaps = client.get("/v1/manage/gaps").json()["gaps"]
    assert [(g["question"], g["not_found"]) for g in gaps] == [(MARS, 1)]


@pytest.mark.parametrize(
    ("ticket", "code"),
    [
        ({"subject": "Hi", "messages": []}, "empty_ticket"),
        ({"messages": [customer("  "), agent("\n")]}, "empty_messages"),
        ({"messages": [{"author": "bot", "text": RETURN_DAYS}]}, "invalid_author"),
        ({"messages": [customer(RETURN_DAYS)] * 6}, "too_many_messages"),
        ({"messages": [customer("x" * 300), customer("y" * 300)]}, "ticket_too_long"),
        ({"subject": "z" * 590, "messages": [customer(RETURN_DAYS)]}, "ticket_too_long"),
        ({"messages": [customer(RETURN_DAYS)], "language": "de"}, "unsupported_language"),
        ({"messages": [customer(RETURN_DAYS)], "top_k": 0}, "top_k_out_of_range"),
        ({"messages": [{"author": "customer"}]}, "invalid_request"),
        ({"messages": "How many days?"}, "invalid_request"),
    ],
)
def test_bad_tickets_get_422_with_their_own_code(service, ticket, code) -> None:
    settings = Settings(max_ticket_messages=5, max_ticket_chars=500)
    with TestClient(create_app(service, settings)) as client:
        response = client.post("/v1/suggest", json=ticket)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error == {"status": 422, "code": code, "message": error["message"]} and error["message"]


# --- the LLM draft --------------------------------------------------------------------------------


class TicketModel(FakeListChatModel):
    """Answers questions with `responses` in turn and writes the draft with `draft_reply` (or fails)."""

    draft_reply: str | Exception = ""
    prompts: list[str] = []

    def _call(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> str:
        system = str(messages[0].content)
        if "reply to a customer" not in system:
            return super()._call(messages, *args, **kwargs)
        self.prompts.append(system + "\n" + str(messages[-1].content))
        if isinstance(self.draft_reply, Exception):
            raise self.draft_reply
        return self.draft_reply


def llm_client(service: KnowledgeService, model: TicketModel) -> TestClient:
    llm = KnowledgeService(service.store, service.embedder, ServiceConfig(min_dense_score=0.4), chat_model=model)
    llm.load()
    return TestClient(create_app(llm, Settings()))


ANSWER_REPLY = "You can return any item within 30 days of delivery for a full refund [1]."


def test_the_llm_draft_is_used_when_every_sentence_is_cited_and_supported(service) -> None:
    reply = "Any item can be returned within 30 days of delivery for a full refund [1]."
    model = TicketModel(responses=[ANSWER_REPLY], draft_reply=reply, prompts=[])
    with llm_client(service, model) as client:
        body = suggest(client, customer(f"{RETURN_DAYS} {MARS}"))
    assert body["questions"][0]["answer"]["answer"].startswith("You can return any item within 30 days")
    # The check only moves the marker behind the full stop.
    assert body["draft"]["text"] == (
        f"{reply[:-5]}. [1]\n\n{FOLLOW_UP['en']}\n- {MARS}\n\n{SOURCES['en']}\n[1] Returns policy (returns.md)"
    )
    # The model saw only the answered question and the passages it cited, told the customer's language.
    assert len(model.prompts) == 1
    assert RETURN_DAYS in model.prompts[0] and MARS not in model.prompts[0] and "English" in model.prompts[0]
    assert "within 30 days of delivery" in model.prompts[0]


@pytest.mark.parametrize(
    "draft_reply",
    [
        # One unsupported claim sinks the whole LLM draft.
        "Any item can be returned within 30 days of delivery [1]. Every customer also gets a free sofa [1].",
        "Any item can be returned within 30 days of delivery for a full refund [4].",
        "Any item can be returned within 30 days of delivery for a full refund.",
        "Any item can be returned within 30 days, see https://evil.example/x [1].",
        ConnectionError("model server down"),
    ],
)
def test_the_extractive_draft_replaces_an_llm_draft_that_fails_its_check(service, draft_reply) -> None:
    model = TicketModel(responses=[ANSWER_REPLY], draft_reply=draft_reply, prompts=[])
    with llm_client(service, model) as llm:
        body = suggest(llm, customer(RETURN_DAYS))
    assert model.prompts, "the draft prompt was never sent"
    answer = body["questions"][0]["answer"]["answer"]
    extractive = extractive_draft([(RETURN_DAYS, answered(answer, chunk_of(body)))], "en")
    assert body["draft"]["text"] == extractive.text
    assert "sofa" not in body["draft"]["text"] and "evil" not in body["draft"]["text"]


def chunk_of(body: dict[str, Any]) -> Chunk:
    cited = body["questions"][0]["answer"]["citations"][0]
    return Chunk("c", cited["source"], cited["text"], 0, 0, cited["title"], None, None, "en", 0)


def test_the_draft_prompt_names_the_customers_language(service) -> None:
    model = TicketModel(responses=[ANSWER_REPLY], draft_reply=ConnectionError("down"), prompts=[])
    with llm_client(service, model) as client:
        suggest(client, customer(RETURN_DAYS), language="th")
    assert "Write in Thai" in model.prompts[0]


class SideBySideModel(TicketModel):
    """Answers only when two answer calls are in flight at once (else the barrier breaks and it fails)."""

    def _call(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> str:
        if "reply to a customer" not in str(messages[0].content):
            ANSWERS_TOGETHER.wait(timeout=10)
        return super()._call(messages, *args, **kwargs)


ANSWERS_TOGETHER = threading.Barrier(2)


def test_llm_answers_to_a_tickets_questions_are_written_side_by_side(service) -> None:
    """Questions answered one after another would wait on the model in turn; a ticket waits about once."""
    ANSWERS_TOGETHER.reset()
    model = SideBySideModel(responses=[ANSWER_REPLY], draft_reply=ConnectionError("down"), prompts=[])
    with llm_client(service, model) as client:
        body = suggest(client, customer(f"{RETURN_DAYS} {DAMAGED}"))
    answers = [item["answer"] for item in body["questions"]]
    # Both model calls returned (a broken barrier would have sent the extractive answer, without "llm").
    assert all(a["found"] and "llm" in a["timings_ms"] for a in answers)
