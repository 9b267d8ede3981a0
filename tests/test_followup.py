"""Follow-up questions: detection per language, history fusion, topic switches, the LLM condenser and its fallback."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from assistant.condense import LLMCondenser, clean_reply
from assistant.conversations import Turn
from assistant.followup import read_question
from assistant.history_search import CITED_BOOST, fuse, passage_key, search_turn
from assistant.retriever import Hit, SearchResult
from eval.conversation_sets import load_conversation_set
from eval.sets import EvalSetError
from ingest.documents import Chunk
from tests.test_cli import run
from tests.test_cli import settings as cli_settings  # noqa: F401 - a fixture

RETURNS = "How many days do I have to return an item?"


@pytest.mark.parametrize(
    ("language", "question"),
    [
        ("fi", "Entä Thaimaassa?"),
        ("fi", "entä pakettiautomaatissa?"),
        ("fi", "kuinka kauan sitä säilytetään?"),
        ("pl", "a ile to kosztuje?"),
        ("pl", "a w Tajlandii?"),
        ("pl", "a kiedy przepadają?"),
        ("en", "and for furniture?"),
        ("en", "what about Norway?"),
        ("en", "can it go in the dishwasher?"),
        ("en", "and what's the maximum order value for it?"),
        ("th", "แล้วเฟอร์นิเจอร์ล่ะ"),
        ("th", "แล้วมีค่าธรรมเนียมไหม"),
        ("th", "ส่งไปเชียงใหม่ได้ด้วยไหม"),
    ],
)
def test_follow_ups_are_recognised_in_each_language(language, question) -> None:
    assert read_question(question, language).follow_up


@pytest.mark.parametrize(
    ("language", "question"),
    [
        ("fi", "miten villaplaidi pestään?"),
        ("fi", "Kauanko asiakkaalla on aikaa palauttaa tuote?"),
        ("pl", "czy wysyłacie meble do Norwegii?"),
        ("pl", "klient dostał uszkodzoną paczkę, ile ma czasu na zgłoszenie?"),
        ("en", "what is the minimum password length?"),
        ("en", "customer says they were charged twice for the same order"),
        ("th", "ช่วงสงกรานต์แอดมินหยุดวันไหนบ้าง"),
        ("th", "ลิงก์รีเซ็ตรหัสผ่านใช้ได้นานแค่ไหน"),
    ],
)
def test_questions_with_a_topic_of_their_own_are_not_follow_ups(language, question) -> None:
    assert not read_question(question, language).follow_up


def test_pasted_text_is_never_a_follow_up_even_with_a_cue() -> None:
    pasted = (
        "And the parcel never came. I ordered a sofa three weeks ago. The tracking says delivered. "
        "Nobody rang the bell. I want my money back now, please tell me what you will do about it."
    )
    reading = read_question(pasted, "en")
    assert reading.pasted and not reading.follow_up


def _chunk(n: int) -> Chunk:
    return Chunk(f"c{n}", f"doc{n}.md", f"text {n}", 0, 6, None, None, None, "en", 0)


def _result(scores: dict[int, float]) -> SearchResult:
    hits = [Hit(_chunk(i), s, s, None, i) for i, s in sorted(scores.items(), key=lambda kv: -kv[1])]
    return SearchResult(hits, "en", np.zeros(4, dtype=np.float32))


def test_fusion_weighs_the_contextual_search_and_fills_missing_scores_with_the_floor() -> None:
    alone = _result({1: 0.9, 2: 0.5})
    contextual = _result({3: 0.8, 2: 0.7, 4: 0.2})
    fused = fuse(alone, contextual, set(), top_k=4, weight=0.7)
    scores = {h.chunk_int: round(h.score, 6) for h in fused.hits}
    # 3 is missing from the follow-up alone: it gets that ranking's floor (0.5).
    assert scores == {
        2: round(0.3 * 0.5 + 0.7 * 0.7, 6),
        3: round(0.3 * 0.5 + 0.7 * 0.8, 6),
        1: round(0.3 * 0.9 + 0.7 * 0.2, 6),
        4: round(0.3 * 0.5 + 0.7 * 0.2, 6),
    }
    assert [h.chunk_int for h in fused.hits] == [3, 2, 1, 4]
    assert fused.query_vector is contextual.query_vector


def test_passages_the_previous_answer_cited_get_the_boost() -> None:
    alone = _result({1: 0.6, 2: 0.6})
    contextual = _result({1: 0.6, 2: 0.6 - CITED_BOOST / 2})
    cited = {passage_key(contextual.hits[1])}
    fused = fuse(alone, contextual, cited, top_k=2, weight=0.5)
    assert fused.hits[0].chunk_int == 2


def test_a_follow_up_is_searched_with_the_previous_question(service) -> None:
    retriever = service.retriever()
    history = [Turn(RETURNS, RETURNS, "en")]
    turn = search_turn(retriever, "and if it arrived damaged?", 5, history=history)
    assert turn.follow_up and turn.searched_for == f"{RETURNS} and if it arrived damaged?"
    assert turn.result.hits[0].chunk.source == "returns.md"
    assert turn.result.language == "en"


def test_a_new_topic_ignores_the_history(service) -> None:
    retriever = service.retriever()
    question = "Jak długo trwa zwrot pieniędzy przy płatności BLIK?"
    with_history = search_turn(retriever, question, 5, history=[Turn(RETURNS, RETURNS, "en")])
    alone = retriever.search(question, 5)
    assert not with_history.follow_up and with_history.searched_for == question
    assert [h.chunk.chunk_id for h in with_history.result.hits] == [h.chunk.chunk_id for h in alone.hits]


def test_both_variants_are_embedded_in_one_batched_call(service, monkeypatch) -> None:
    retriever = service.retriever()
    retriever.embed_query.clear()
    calls: list[Any] = []
    embedder = service.embedder
    single = embedder.embed_query
    monkeypatch.setattr(embedder, "embed_query", lambda text: calls.append(text) or single(text))
    monkeypatch.setattr(
        embedder, "embed_queries", lambda texts: calls.append(list(texts)) or np.vstack([single(t) for t in texts])
    )
    search_turn(retriever, "and if it arrived damaged?", 5, history=[Turn(RETURNS, RETURNS, "en")])
    assert calls == [["and if it arrived damaged?", f"{RETURNS} and if it arrived damaged?"]]
    # Asked again, both vectors come from the cache.
    search_turn(retriever, "and if it arrived damaged?", 5, history=[Turn(RETURNS, RETURNS, "en")])
    assert len(calls) == 1


def test_the_llm_condenser_writes_the_standalone_question_that_is_searched(service) -> None:
    standalone = "How do I report an item that arrived damaged?"
    condenser = LLMCondenser(FakeListChatModel(responses=[f'Standalone question: "{standalone}"\n']))
    turn = search_turn(
        service.retriever(), "and damaged ones?", 5, history=[Turn(RETURNS, RETURNS, "en")], condenser=condenser
    )
    assert turn.condensed and turn.searched_for == standalone
    assert turn.result.hits[0].chunk.source == "returns.md"


class BrokenModel(FakeListChatModel):
    def _call(self, *args: Any, **kwargs: Any) -> str:
        raise ConnectionError("model server down")


class SlowModel(FakeListChatModel):
    def _call(self, *args: Any, **kwargs: Any) -> str:
        time.sleep(2)
        return "too late"


@pytest.mark.parametrize(
    "model", [BrokenModel(responses=["x"]), SlowModel(responses=["x"]), FakeListChatModel(responses=["  \n"])]
)
def test_a_failing_condenser_falls_back_to_the_llm_free_resolution(service, model) -> None:
    condenser = LLMCondenser(model, timeout_s=0.3)
    history = [Turn(RETURNS, RETURNS, "en")]
    turn = search_turn(service.retriever(), "and if it arrived damaged?", 5, history=history, condenser=condenser)
    assert not turn.condensed and turn.follow_up
    assert turn.searched_for == f"{RETURNS} and if it arrived damaged?"


def test_condensed_replies_are_cleaned_or_refused() -> None:
    assert clean_reply("Question: «Entä Thaimaassa palautus?»\nExplanation: ...") == "Entä Thaimaassa palautus?"
    assert clean_reply("x" * 301) is None
    assert clean_reply("") is None


def test_the_service_condenses_with_its_llm_and_reports_what_it_searched(service) -> None:
    from tests.test_llm_answer import llm_service

    standalone = "How do I report an item that arrived damaged?"
    reply = "If an item arrives damaged, send a photo to support@nordvik.example within 7 days [1]."
    llm = llm_service(service, FakeListChatModel(responses=[standalone, reply]))
    answer, _ = llm.ask("and damaged ones?", 5, history=[Turn(RETURNS, RETURNS, "en")])
    assert answer.searched_for == standalone
    assert answer.found and answer.citations[0].hit.chunk.source == "returns.md"


# --- conversation sets ---------------------------------------------------------------------------

DIALOGUE = {
    "id": "d1",
    "lang": "en",
    "turns": [
        {"question": RETURNS, "relevant": [{"source": "returns.md", "quote": "within 30 days of delivery"}]},
        {"question": "and if it arrived damaged?", "relevant": [{"source": "returns.md", "quote": "send a photo"}]},
        {
            "question": "Jak długo trwa zwrot pieniędzy?",
            "topic_switch": True,
            "relevant": [{"source": "platnosci.md", "quote": "Zwrot pieniędzy trwa do 5 dni roboczych"}],
        },
    ],
}


def _write(tmp_path: Path, *lines: Any) -> Path:
    path = tmp_path / "conversations.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"turns": []}, "turns"),
        ({"split": "train"}, "split"),
        ({"turns": [{**DIALOGUE["turns"][0], "topic_switch": True}]}, "topic_switch"),
        ({"turns": [{"question": "no gold"}]}, "relevant"),
    ],
)
def test_malformed_dialogues_name_their_line_and_field(tmp_path, change, message) -> None:
    path = _write(tmp_path, DIALOGUE, {**DIALOGUE, "id": "d2", **change})
    with pytest.raises(EvalSetError) as raised:
        load_conversation_set(path)
    assert raised.value.line == 2 and message in raised.value.problem


def test_the_bundled_set_is_valid_and_covers_every_language() -> None:
    dialogues = load_conversation_set(Path("eval/sets/demo_conversations.jsonl"))
    assert len(dialogues) >= 40
    assert {d.lang for d in dialogues} == {"en", "fi", "pl", "th"}
    assert all(2 <= len(d.turns) <= 3 for d in dialogues)
    assert any(t.topic_switch for d in dialogues for t in d.turns)
    assert {d.split for d in dialogues} == {"tune", "holdout"}


def test_eval_scores_a_conversation_set_three_ways(corpus, cli_settings, capsys, tmp_path) -> None:  # noqa: F811
    run(capsys, cli_settings, "ingest", str(corpus), "--json")
    code, out = run(capsys, cli_settings, "eval", str(_write(tmp_path, DIALOGUE)), "--json")
    assert code == 0
    report = json.loads(out)
    summary = report["summary"]["all"]
    assert set(summary) == {"resolved", "alone", "concatenated"}
    assert summary["resolved"]["first"] == {"turns": 1, "hit@5": 1.0}
    assert summary["resolved"]["topic_switch"]["turns"] == 1
    searched = {(r["strategy"], r["turn"]): r["searched_for"] for r in report["turns"]}
    assert searched[("alone", 2)] == "and if it arrived damaged?"
    assert searched[("concatenated", 2)] == f"{RETURNS} and if it arrived damaged?"
    assert searched[("resolved", 3)] == "Jak długo trwa zwrot pieniędzy?"
