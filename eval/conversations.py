"""Score conversation sets: every later turn searched three ways, the service's resolution against
the follow-up alone and plain concatenation with the previous question; hit@5 per kind of turn."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from assistant.answer import ExtractiveAnswerer
from assistant.components import build_service
from assistant.conversations import Turn
from assistant.history_search import Strategy, passage_key, search_turn
from assistant.retriever import Retriever
from assistant.settings import Settings
from eval.conversation_sets import Dialogue, load_conversation_set
from eval.judges import Question, QuoteJudge, eval_set_questions

STRATEGIES: tuple[Strategy, ...] = ("resolved", "alone", "concatenated")
K = 5  # passages /v1/ask shows by default
KINDS = ("first", "follow_up", "topic_switch")


@dataclass
class TurnResult:
    dialogue: str
    turn: int  # from 1
    split: str
    lang: str | None
    kind: str  # "first", "follow_up" or "topic_switch"
    strategy: str
    question: str
    searched_for: str
    hit: bool
    rank: int | None  # of the first relevant passage within the top K


def _kind(number: int, topic_switch: bool) -> str:
    return "first" if number == 1 else "topic_switch" if topic_switch else "follow_up"


def run_dialogue(
    dialogue: Dialogue, retriever: Retriever, answerer: ExtractiveAnswerer, judge: QuoteJudge, strategy: Strategy
) -> list[TurnResult]:
    """One dialogue with one strategy; each strategy keeps its own history, as the service would."""
    history: list[Turn] = []
    results = []
    questions: list[Question] = eval_set_questions([t.item for t in dialogue.turns])
    for number, (turn, question) in enumerate(zip(dialogue.turns, questions, strict=True), start=1):
        searched = search_turn(retriever, question.text, K, history=history, strategy=strategy)
        answer = answerer.answer(searched.searched_for, searched.result)
        ranks = [r for r, h in enumerate(searched.result.hits[:K], start=1) if judge.relevant(question, h.chunk)]
        cited = tuple(passage_key(c.hit) for c in answer.citations)
        history.append(Turn(question.text, searched.searched_for, searched.result.language, cited))
        results.append(
            TurnResult(
                dialogue.id,
                number,
                dialogue.split,
                question.lang,
                _kind(number, turn.topic_switch),
                strategy,
                question.text,
                searched.searched_for,
                bool(ranks),
                ranks[0] if ranks else None,
            )
        )
    return results


def _rate(results: Sequence[TurnResult]) -> dict[str, Any]:
    return {"turns": len(results), "hit@5": round(sum(r.hit for r in results) / len(results), 4) if results else None}


def summarise(results: Sequence[TurnResult]) -> dict[str, Any]:
    """hit@5 per split (tune, holdout, all) x strategy x kind of turn, plus the later/first ratio."""
    out: dict[str, Any] = {}
    for split in ("tune", "holdout", "all"):
        chosen = [r for r in results if split in ("all", r.split)]
        if not chosen:
            continue
        per_strategy: dict[str, Any] = {}
        for strategy in STRATEGIES:
            mine = [r for r in chosen if r.strategy == strategy]
            kinds = {kind: _rate([r for r in mine if r.kind == kind]) for kind in KINDS}
            later = _rate([r for r in mine if r.kind != "first"])
            first = kinds["first"]["hit@5"]
            per_strategy[strategy] = {
                **kinds,
                "later": later,
                "later_vs_first": round(later["hit@5"] / first, 4) if first and later["hit@5"] is not None else None,
                "per_language": {
                    lang: _rate([r for r in mine if r.lang == lang and r.kind != "first"])
                    for lang in sorted({str(r.lang) for r in mine})
                },
            }
        out[split] = per_strategy
    return out


def evaluate_conversations(path: Path, settings: Settings, index_dir: Path | None = None) -> dict[str, Any]:
    """The `assistant eval` report for a conversation set: summary plus every turn's result."""
    dialogues = load_conversation_set(path)
    retriever = build_service(settings, index_dir).retriever()
    items = [t.item for d in dialogues for t in d.turns]
    judge = QuoteJudge(items, retriever.index.chunks.values())
    answerer = ExtractiveAnswerer(settings.min_dense_score, settings.min_confidence)
    results = [r for d in dialogues for s in STRATEGIES for r in run_dialogue(d, retriever, answerer, judge, s)]
    return {
        "target": str(path),
        "index_version": retriever.index.version,
        "dialogues": len(dialogues),
        "summary": summarise(results),
        "turns": [asdict(r) for r in results],
    }
