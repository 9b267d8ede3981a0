"""Feedback is validated and stored; asked questions are logged; content gaps group and rank the misses."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.feedback import Feedback, FeedbackLog, normalise_question
from assistant.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
GOOD = {
    "question": "How many days do I have to return an item?",
    "answer": "You can return any item within 30 days of delivery for a full refund. [1]",
    "found": True,
    "index_version": "20260101T000000000-abcdef",
    "rating": "down",
    "comment": "Customer asked about opened items.",
    "sources": ["returns.md"],
}


@pytest.fixture
def client(service, tmp_path: Path, database_url: str):
    """The API over the tiny corpus, its question log in SQLite or in PostgreSQL."""
    settings = Settings(max_top_k=20, max_question_chars=500, database_url=database_url, cache_dir=tmp_path / "c")
    with TestClient(create_app(service, settings)) as client:
        yield client


def rows(client, sql: str) -> list[tuple]:
    log: FeedbackLog = client.app.state.feedback
    return [tuple(row) for row in log._db.execute(sql).fetchall()]


def test_feedback_is_stored(client) -> None:
    response = client.post("/v1/feedback", json=GOOD)
    assert response.status_code == 201
    feedback_id = response.json()["id"]
    stored = rows(client, "SELECT id, question, rating, comment, sources, found FROM feedback")
    assert stored == [(feedback_id, GOOD["question"], "down", GOOD["comment"], '["returns.md"]', 1)]


def test_comment_and_sources_are_optional(client) -> None:
    body = {k: v for k, v in GOOD.items() if k not in ("comment", "sources")} | {"rating": "up"}
    assert client.post("/v1/feedback", json=body).status_code == 201
    assert rows(client, "SELECT comment, sources FROM feedback") == [(None, "[]")]


@pytest.mark.parametrize(
    "change",
    [
        {"rating": "meh"},
        {"question": "   "},
        {"comment": "x" * 1001},
        {"found": "perhaps"},
        {"sources": "returns.md"},
        {"unexpected": 1},
        {"index_version": ""},
    ],
)
def test_bad_feedback_gets_422_in_the_common_shape(client, change) -> None:
    response = client.post("/v1/feedback", json=GOOD | change)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["status"] == 422 and error["code"] == "invalid_request" and error["message"]
    assert rows(client, "SELECT COUNT(*) FROM feedback") == [(0,)]


def test_missing_rating_is_named_in_the_message(client) -> None:
    body = {k: v for k, v in GOOD.items() if k != "rating"}
    assert "rating" in client.post("/v1/feedback", json=body).json()["error"]["message"]


def test_every_answered_question_is_logged(client) -> None:
    client.post("/v1/ask", json={"question": "  How many days do I have to return an item? "})
    client.post("/v1/ask", json={"question": ""})
    logged = rows(client, "SELECT question, language, found, index_version FROM questions")
    version = client.get("/readyz").json()["index_version"]
    assert logged == [("How many days do I have to return an item?", "en", 1, version)]


def test_normalised_questions_ignore_case_punctuation_and_spacing() -> None:
    assert normalise_question("  Gift  CARDS expire?! ") == normalise_question("gift cards expire")
    assert normalise_question("ＢＬＩＫ zwrot") == "blik zwrot"
    assert normalise_question("ส่งช่วงสงกรานต์?") == "ส่งช่วงสงกรานต์"


def test_logged_questions_survive_a_crash_of_the_server_process(tmp_path) -> None:
    # The log commits without an fsync per answer (synchronous=NORMAL under WAL); a process that dies
    # without closing the database must still leave every committed question behind.
    path = tmp_path / "feedback.sqlite"
    script = (
        "import os, sys; from pathlib import Path; from assistant.feedback import FeedbackLog\n"
        "log = FeedbackLog(Path(sys.argv[1]))\n"
        "assert log._db.execute('PRAGMA synchronous').fetchone()[0] == 1, 'one fsync per answer'\n"
        "for i in range(5): log.record_question(f'Question {i}?', 'en', True, 'v1')\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(path)], check=True, cwd=ROOT, timeout=60)
    with sqlite3.connect(path) as db:
        questions = [q for (q,) in db.execute("SELECT question FROM questions ORDER BY id")]
    assert questions == [f"Question {i}?" for i in range(5)]


def test_gaps_group_misses_and_rank_the_most_frequent_first(tmp_path, database_url) -> None:
    log = FeedbackLog(database_url or tmp_path / "feedback.sqlite")
    try:
        for _ in range(3):
            log.record_question("Do gift cards expire?", "en", False, "v1")
        log.record_question("Can I pay with crypto?", "en", False, "v1")
        down = Feedback("can i pay with CRYPTO", "Not found.", False, "v1", "down", "Asked twice today")
        log.record_feedback(down)
        log.record_question("Do gift cards expire", "en", False, "v1")
        log.record_question("Where is my parcel?", "en", True, "v1")
        log.record_feedback(Feedback("Where is my parcel?", "It is on its way. [1]", True, "v1", "up"))
        log.record_feedback(Feedback("Is BLIK accepted?", "Yes. [1]", True, "v1", "down"))
        gaps = log.content_gaps(10)
    finally:
        log.close()
    assert [(g.question, g.count, g.not_found, g.thumbs_down) for g in gaps] == [
        ("Do gift cards expire", 4, 4, 0),
        ("can i pay with CRYPTO", 2, 1, 1),
        ("Is BLIK accepted?", 1, 0, 1),
    ]
    assert gaps[1].comments == ["Asked twice today"]


def test_gaps_endpoint_shows_unanswered_questions_and_thumbs_down(client) -> None:
    for _ in range(2):
        client.post("/v1/ask", json={"question": "quantum teleportation warranty xyzzy"})
    client.post("/v1/feedback", json=GOOD)
    body = client.get("/v1/manage/gaps").json()
    assert [(g["question"], g["count"]) for g in body["gaps"]] == [
        ("quantum teleportation warranty xyzzy", 2),
        (GOOD["question"], 1),
    ]
    assert body["gaps"][1]["comments"] == [GOOD["comment"]]
    assert client.get("/v1/manage/gaps", params={"limit": 1}).json()["gaps"][0]["count"] == 2
    assert client.get("/v1/manage/gaps", params={"limit": 0}).status_code == 422


def test_the_feedback_database_closes_when_the_app_stops(service, tmp_path, database_url) -> None:
    app = create_app(service, Settings(feedback_db=tmp_path / "custom" / "fb.sqlite", database_url=database_url))
    with TestClient(app) as client:
        assert client.post("/v1/feedback", json=GOOD).status_code == 201
    # With a database URL the SQLite file is not made at all.
    assert (tmp_path / "custom" / "fb.sqlite").exists() != bool(database_url)
    with pytest.raises(app.state.feedback._db.Error):
        app.state.feedback.content_gaps()
