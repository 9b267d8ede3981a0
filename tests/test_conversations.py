"""Conversations: ids, bounds and expiry of the store; isolation between keys and 4xx for bad ids over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.conversations import ConversationNotFound, ConversationStore, InvalidConversationId, Turn
from assistant.settings import Settings
from tests.test_auth import api_keys, assert_error, auth, sse_answer

FEEDBACK = {"question": "q", "answer": "a", "found": True, "index_version": "v", "rating": "up"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def conversations(tmp_path: Path, clock: Clock, database_url: str):
    target = database_url or tmp_path / "conversations.sqlite"
    store = ConversationStore(target, max_turns=3, max_per_caller=2, ttl_s=600, clock=clock)
    yield store
    store.close()


@pytest.fixture
def client(service, tmp_path: Path, database_url: str):
    """The API over the tiny corpus, its state in SQLite files or in PostgreSQL."""
    settings = Settings(max_top_k=20, max_question_chars=500, database_url=database_url, cache_dir=tmp_path / "c")
    with TestClient(create_app(service, settings)) as client:
        yield client


def turn(question: str) -> Turn:
    return Turn(question, question, "en", ("returns.md#1",))


def test_turns_come_back_oldest_first_with_their_citations(conversations) -> None:
    conversation = conversations.start("alice")
    first = conversations.add_turn("alice", conversation, turn("How long is the return window?"))
    conversations.add_turn("alice", conversation, turn("and for furniture?"))
    history = conversations.history("alice", conversation)
    assert [t.question for t in history] == ["How long is the return window?", "and for furniture?"]
    assert history[0].cited == ("returns.md#1",) and history[0].answer_id == first
    assert conversations.owns_answer("alice", first) and not conversations.owns_answer("bob", first)


def test_a_conversation_keeps_only_its_last_turns(conversations) -> None:
    conversation = conversations.start("alice")
    for n in range(5):
        conversations.add_turn("alice", conversation, turn(f"question {n}"))
    assert [t.question for t in conversations.history("alice", conversation)] == [
        "question 2",
        "question 3",
        "question 4",
    ]


def test_a_caller_keeps_only_their_most_recent_conversations(conversations, clock) -> None:
    first = conversations.start("alice")
    clock.now += 1
    second = conversations.start("alice")
    clock.now += 1
    conversations.add_turn("alice", first, turn("still in use"))  # first is now the most recently used
    clock.now += 1
    third = conversations.start("alice")
    conversations.start("bob")  # another caller's conversations do not count against alice's
    assert conversations.count("alice") == 2
    with pytest.raises(ConversationNotFound):
        conversations.history("alice", second)
    assert conversations.history("alice", first)[0].question == "still in use"
    assert conversations.history("alice", third) == []


def test_a_conversation_expires_after_its_last_turn(conversations, clock) -> None:
    conversation = conversations.start("alice")
    clock.now += 500
    answer = conversations.add_turn("alice", conversation, turn("q"))
    clock.now += 500  # 1000 s after the start, 500 s after the last turn: still alive
    assert len(conversations.history("alice", conversation)) == 1
    clock.now += 101
    with pytest.raises(ConversationNotFound):
        conversations.history("alice", conversation)
    with pytest.raises(ConversationNotFound):
        conversations.add_turn("alice", conversation, turn("too late"))
    assert not conversations.owns_answer("alice", answer)


def test_another_callers_conversation_is_unknown_to_you(conversations) -> None:
    conversation = conversations.start("alice")
    with pytest.raises(ConversationNotFound):
        conversations.history("bob", conversation)
    with pytest.raises(ConversationNotFound):
        conversations.delete("bob", conversation)
    conversations.delete("alice", conversation)
    with pytest.raises(ConversationNotFound):
        conversations.history("alice", conversation)


@pytest.mark.parametrize("bad", ["", "short", "x" * 23, "a" * 21 + "!", "../../etc/passwd-xxxxxxx", "a" * 21 + "é"])
def test_malformed_ids_are_refused_before_any_lookup(conversations, bad) -> None:
    with pytest.raises(InvalidConversationId):
        conversations.history("alice", bad)


# --- over HTTP -----------------------------------------------------------------------------------


def test_an_answer_starts_a_conversation_and_the_next_one_continues_it(client) -> None:
    first = client.post("/v1/ask", json={"question": "How many days do I have to return an item?"}).json()
    assert len(first["conversation_id"]) == 22 and len(first["answer_id"]) == 22
    second = client.post(
        "/v1/ask", json={"question": "and damaged items?", "conversation_id": first["conversation_id"]}
    ).json()
    assert second["conversation_id"] == first["conversation_id"]
    assert second["answer_id"] != first["answer_id"]
    # The follow-up was read with the first question: the response says so.
    assert second["searched_for"] != "and damaged items?"
    assert "return an item" in second["searched_for"]
    fresh = client.post("/v1/ask", json={"question": "How many days do I have to return an item?"}).json()
    assert fresh["conversation_id"] != first["conversation_id"]


def test_the_stream_route_continues_the_same_conversation(client) -> None:
    first = client.post("/v1/ask", json={"question": "How many days do I have to return an item?"}).json()
    body = {"question": "and damaged items?", "conversation_id": first["conversation_id"]}
    streamed = sse_answer(client.post("/v1/ask/stream", json=body).text)
    assert streamed["conversation_id"] == first["conversation_id"] and streamed["answer_id"]
    assert "return an item" in streamed["searched_for"]


@pytest.mark.parametrize("route", ["/v1/ask", "/v1/ask/stream"])
def test_bad_and_unknown_conversation_ids_get_4xx_in_the_common_shape(client, route) -> None:
    assert_error(
        client.post(route, json={"question": "refund", "conversation_id": "nope"}), 422, "invalid_conversation_id"
    )
    assert_error(client.post(route, json={"question": "refund", "conversation_id": 5}), 422, "invalid_request")
    unknown = "A" * 22
    assert_error(
        client.post(route, json={"question": "refund", "conversation_id": unknown}), 404, "conversation_not_found"
    )


def test_delete_forgets_a_conversation(client) -> None:
    conversation = client.post("/v1/ask", json={"question": "refund"}).json()["conversation_id"]
    assert client.delete(f"/v1/conversations/{conversation}").status_code == 204
    gone = client.post("/v1/ask", json={"question": "and then?", "conversation_id": conversation})
    assert_error(gone, 404, "conversation_not_found")
    assert_error(client.delete(f"/v1/conversations/{conversation}"), 404, "conversation_not_found")
    assert_error(client.delete("/v1/conversations/not-an-id"), 422, "invalid_conversation_id")


def test_feedback_names_the_answer_it_belongs_to(client) -> None:
    answer_id = client.post("/v1/ask", json={"question": "refund"}).json()["answer_id"]
    assert client.post("/v1/feedback", json={**FEEDBACK, "answer_id": answer_id}).status_code == 201
    row = client.app.state.feedback._db.execute("SELECT answer_id FROM feedback").fetchone()
    assert row == (answer_id,)
    assert_error(client.post("/v1/feedback", json={**FEEDBACK, "answer_id": "B" * 22}), 404, "answer_not_found")
    assert_error(client.post("/v1/feedback", json={**FEEDBACK, "answer_id": "bad"}), 422, "invalid_answer_id")


def test_conversations_are_isolated_between_keys(service, tmp_path, database_url) -> None:
    settings = Settings(api_keys=api_keys(), cache_dir=tmp_path / "c", database_url=database_url)
    with TestClient(create_app(service, settings)) as client:
        mine = client.post("/v1/ask", json={"question": "refund"}, headers=auth("public-agent")).json()
        theirs = auth("finance-agent")
        follow_up = {"question": "and then?", "conversation_id": mine["conversation_id"]}
        assert_error(client.post("/v1/ask", json=follow_up, headers=theirs), 404, "conversation_not_found")
        assert_error(
            client.delete(f"/v1/conversations/{mine['conversation_id']}", headers=theirs), 404, "conversation_not_found"
        )
        rated = {**FEEDBACK, "answer_id": mine["answer_id"]}
        assert_error(client.post("/v1/feedback", json=rated, headers=theirs), 404, "answer_not_found")
        # The owner still has it.
        assert client.post("/v1/ask", json=follow_up, headers=auth("public-agent")).status_code == 200
        assert client.post("/v1/feedback", json=rated, headers=auth("public-agent")).status_code == 201
