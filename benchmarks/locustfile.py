"""Locust users for benchmarks/load_test.py: agents asking (3 of 4 requests) and searching, no think time.

Environment: LOAD_TEST_KEY (API key to send), LOAD_TEST_QUESTIONS (a .jsonl eval set with
"question" fields; default eval/sets/demo.jsonl), LOAD_TEST_UNCACHED=1 (make every question new,
so the server's query-embedding cache never answers), LOAD_TEST_THINK_S (mean pause between an
agent's requests, uniform between half and one and a half times it; 0 = closed loop, the default).
"""

from __future__ import annotations

import itertools
import json
import os
import random
from pathlib import Path

from locust import FastHttpUser, between, constant, task

FALLBACK = [
    "How many days do I have to return an item?",
    "Kuinka kauan toimitus kestää?",
    "Jak zapłacić BLIKIEM?",
    "การจัดส่งช่วงสงกรานต์ล่าช้ากี่วัน",
]


def _questions() -> list[str]:
    path = Path(os.environ.get("LOAD_TEST_QUESTIONS", "eval/sets/demo.jsonl"))
    if not path.is_file():
        return FALLBACK
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()] or FALLBACK


QUESTIONS = _questions()
UNCACHED = os.environ.get("LOAD_TEST_UNCACHED") == "1"
THINK_S = float(os.environ.get("LOAD_TEST_THINK_S", "0") or 0)
_counter = itertools.count()


def question() -> str:
    text = random.choice(QUESTIONS)
    return f"{text} ({next(_counter)})" if UNCACHED else text


class Agent(FastHttpUser):
    # FastHttpUser (geventhttpclient), not HttpUser (requests): the load generator shares the server's
    # two cores, and requests' per-call CPU showed up in the measured tail. Same requests, same JSON.
    # Closed loop by default: each simulated agent sends its next request as soon as the last one
    # returns, so the number of users is the number of requests in flight. With a think time, agents
    # pause between questions (reading the answer, typing the next one), as people do.
    wait_time = between(0.5 * THINK_S, 1.5 * THINK_S) if THINK_S > 0 else constant(0)

    def on_start(self) -> None:
        key = os.environ.get("LOAD_TEST_KEY", "")
        self.headers = {"X-API-Key": key} if key else {}

    @task(3)
    def ask(self) -> None:
        self.client.post("/v1/ask", json={"question": question()}, headers=self.headers, name="/v1/ask")

    @task(1)
    def search(self) -> None:
        self.client.post("/v1/search", json={"query": question()}, headers=self.headers, name="/v1/search")
