"""API replicas are stateless: two apps over one index and one PostgreSQL behave as one service."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.service import KnowledgeService, ServiceConfig
from assistant.settings import Settings
from ingest.store.layout import IndexStore
from tests.conftest import fresh_postgres_database
from tests.test_auth import api_keys, assert_error, auth

FEEDBACK = {"answer": "Not found.", "found": False, "index_version": "v", "rating": "down"}
VOLATILE = {"conversation_id", "answer_id", "timings_ms"}


@pytest.fixture
def replicas(service, embedder, tmp_path: Path, postgres_server):
    """Replica A and replica B: separate services and apps, one index folder, one database."""
    twin = KnowledgeService(IndexStore(service.store.root), embedder, ServiceConfig(min_dense_score=0.4))
    twin.load()
    url = fresh_postgres_database(postgres_server)
    clients = []
    for name, replica in (("a", service), ("b", twin)):
        # Different local folders, so nothing can be shared through a file by accident.
        settings = Settings(
            api_keys=api_keys(), database_url=url, cache_dir=tmp_path / name, feedback_db=tmp_path / name / "fb.sqlite"
        )
        clients.append(TestClient(create_app(replica, settings)))
    with clients[0] as a, clients[1] as b:
        yield a, b
    assert not (tmp_path / "a" / "fb.sqlite").exists() and not (tmp_path / "b" / "fb.sqlite").exists()


def ask(client: TestClient, question: str, who: str = "public-agent", **extra) -> dict:
    response = client.post("/v1/ask", json={"question": question, **extra}, headers=auth(who))
    assert response.status_code == 200, response.text
    return response.json()


def test_both_replicas_give_the_same_answer(replicas) -> None:
    a, b = replicas
    for question in ["How many days do I have to return an item?", "Ile trwa zwrot pieniędzy?", "quantum xyzzy"]:
        on_a, on_b = ask(a, question), ask(b, question)
        assert {k: v for k, v in on_a.items() if k not in VOLATILE} == {
            k: v for k, v in on_b.items() if k not in VOLATILE
        }


def test_a_follow_up_on_b_continues_a_conversation_started_on_a(replicas) -> None:
    a, b = replicas
    first = ask(a, "How many days do I have to return an item?")
    second = ask(b, "and damaged items?", conversation_id=first["conversation_id"])
    assert second["conversation_id"] == first["conversation_id"]
    # B read A's turn: the follow-up was searched together with the first question.
    assert "return an item" in second["searched_for"]
    history = a.app.state.conversations.history("public-agent", first["conversation_id"])
    assert [t.answer_id for t in history] == [first["answer_id"], second["answer_id"]]
    # Forgotten on B, gone on A.
    assert b.delete(f"/v1/conversations/{first['conversation_id']}", headers=auth("public-agent")).status_code == 204
    gone = a.post(
        "/v1/ask",
        json={"question": "and then?", "conversation_id": first["conversation_id"]},
        headers=auth("public-agent"),
    )
    assert_error(gone, 404, "conversation_not_found")


def test_a_caller_sees_only_their_own_conversations_on_every_replica(replicas) -> None:
    a, b = replicas
    mine = ask(a, "How many days do I have to return an item?")
    follow_up = {"question": "and then?", "conversation_id": mine["conversation_id"]}
    assert_error(b.post("/v1/ask", json=follow_up, headers=auth("finance-agent")), 404, "conversation_not_found")
    rated = {**FEEDBACK, "question": "q", "answer_id": mine["answer_id"]}
    assert_error(b.post("/v1/feedback", json=rated, headers=auth("finance-agent")), 404, "answer_not_found")
    assert b.post("/v1/feedback", json=rated, headers=auth("public-agent")).status_code == 201


def test_feedback_and_gaps_recorded_on_either_replica_show_on_both(replicas) -> None:
    a, b = replicas
    missed = "quantum teleportation warranty xyzzy"
    assert not ask(a, missed)["found"]
    assert not ask(b, missed)["found"]
    disliked = {**FEEDBACK, "question": "Can I pay with crypto?", "comment": "Customer asked twice"}
    assert b.post("/v1/feedback", json=disliked, headers=auth("public-agent")).status_code == 201
    for client in (a, b):
        gaps = client.get("/v1/manage/gaps", headers=auth("boss")).json()["gaps"]
        assert [(g["question"], g["count"], g["not_found"], g["thumbs_down"]) for g in gaps] == [
            (missed, 2, 2, 0),
            ("Can I pay with crypto?", 1, 0, 1),
        ]
        assert gaps[1]["comments"] == ["Customer asked twice"]


def test_replicas_starting_together_all_find_their_tables(postgres_server) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from assistant.conversations import ConversationStore
    from assistant.feedback import FeedbackLog

    url = fresh_postgres_database(postgres_server)

    def start(_: int) -> tuple[FeedbackLog, ConversationStore]:
        return FeedbackLog(url), ConversationStore(url)

    with ThreadPoolExecutor(6) as pool:
        started = list(pool.map(start, range(6)))
    try:
        started[0][0].record_question("Do gift cards expire?", "en", False, "v1")
        assert [g.question for g in started[-1][0].content_gaps()] == ["Do gift cards expire?"]
    finally:
        for log, conversations in started:
            log.close()
            conversations.close()
