"""The `assistant` command in-process: ingest, status, ask and search, their JSON and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant import cli, components
from assistant.settings import Settings
from tests.fakes import FakeEmbedder


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    fake = FakeEmbedder()
    monkeypatch.setattr(components, "build_embedder", lambda settings: fake)
    return Settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", min_dense_score=0.4)


def run(capsys: pytest.CaptureFixture[str], settings: Settings, *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv), settings=settings)
    return code, capsys.readouterr().out


def test_ingest_json_then_unchanged(corpus, settings, capsys) -> None:
    code, out = run(capsys, settings, "ingest", str(corpus), "--json")
    first = json.loads(out)
    assert code == 0
    assert set(first) == {"added", "updated", "unchanged", "removed", "failed", "chunks", "embedded", "index_version"}
    assert len(first["added"]) == 4 and first["embedded"] == first["chunks"] > 0
    code, out = run(capsys, settings, "ingest", str(corpus), "--json")
    again = json.loads(out)
    assert code == 0 and again["embedded"] == 0 and len(again["unchanged"]) == 4
    assert again["index_version"] == first["index_version"]


def test_partial_failure_exits_1_and_lists_the_reason(corpus, settings, capsys) -> None:
    (corpus / "broken.docx").write_bytes(b"not a zip")
    code, out = run(capsys, settings, "ingest", str(corpus), "--json")
    report = json.loads(out)
    assert code == 1
    assert report["failed"] == [
        {"source": "broken.docx", "reason": "corrupt", "message": report["failed"][0]["message"]}
    ]
    assert "broken.docx" in report["failed"][0]["message"]


def test_missing_folder_exits_2(settings, capsys, tmp_path) -> None:
    assert cli.main(["ingest", str(tmp_path / "nope")], settings=settings) == 2


def test_index_flag_overrides_the_setting(corpus, settings, capsys, tmp_path) -> None:
    other = tmp_path / "elsewhere"
    run(capsys, settings, "ingest", str(corpus), "--index", str(other), "--json")
    assert (other / "CURRENT").exists() and not settings.index_dir.exists()


def test_status_reports_documents_languages_and_model(corpus, settings, capsys) -> None:
    run(capsys, settings, "ingest", str(corpus), "--json")
    code, out = run(capsys, settings, "status", "--json")
    status = json.loads(out)
    assert code == 0
    assert status["documents"] == 4 and status["chunks"] > 0
    assert status["languages"] == {"en": 1, "fi": 1, "pl": 1, "th": 1}
    assert status["model"] == "fake-embedder" and status["size_bytes"] > 0 and status["last_ingest"]
    assert status["state_database"] == "sqlite" and status["embed_executor"] == "local"


def test_status_names_the_shared_database_without_its_password(corpus, settings, capsys) -> None:
    run(capsys, settings, "ingest", str(corpus), "--json")
    shared = settings.model_copy(
        update={
            "database_url": "postgresql://app:s3cret@db.internal:5432/assistant",
            "embed_executor": "ray",
            "ray_address": "10.0.0.5:6379",
        }
    )
    code, out = run(capsys, shared, "status", "--json")
    status = json.loads(out)
    assert code == 0 and status["state_database"] == "postgresql://app:***@db.internal:5432/assistant"
    assert status["embed_executor"] == "ray at 10.0.0.5:6379"
    assert "s3cret" not in out


def test_status_names_the_abstention_rule_and_the_collections_null(corpus, settings, capsys) -> None:
    run(capsys, settings, "ingest", str(corpus), "--json")
    code, out = run(capsys, settings, "status", "--json")
    assert json.loads(out)["abstention"] == {"rule": "fixed", "min_dense_score": 0.4}
    adaptive = settings.model_copy(update={"min_dense_score": None})
    code, out = run(capsys, adaptive, "status", "--json")
    abstention = json.loads(out)["abstention"]
    assert code == 0 and abstention["rule"] == "adaptive"
    assert abstention["min_confidence"] == adaptive.min_confidence
    # One null per configured language, from the 45 bundled off-topic questions of each.
    assert set(abstention["null"]) == {"en", "fi", "pl", "th"}
    assert all(n["questions"] == 45 and 0 < n["std"]["dense_top"] < 1 for n in abstention["null"].values())
    assert abstention["pooled"]["questions"] == 180


def test_status_without_index_exits_2(settings, capsys) -> None:
    assert cli.main(["status"], settings=settings) == 2


def test_ask_json_is_the_api_body(corpus, settings, capsys) -> None:
    run(capsys, settings, "ingest", str(corpus), "--json")
    code, out = run(capsys, settings, "ask", "How many days to return an item?", "--json")
    body = json.loads(out)
    assert code == 0
    assert {"answer", "found", "language", "citations", "related", "index_version", "timings_ms"} <= set(body)
    # The CLI keeps no conversation: no ids, but it says what it searched.
    assert body["conversation_id"] is None and body["answer_id"] is None
    assert body["searched_for"] == "How many days to return an item?"
    assert body["found"] and body["citations"][0]["source"] == "returns.md"


def test_ask_human_output_shows_answer_and_numbered_sources(corpus, settings, capsys) -> None:
    run(capsys, settings, "ingest", str(corpus), "--json")
    code, out = run(capsys, settings, "ask", "How many days to return an item?")
    assert code == 0 and "[1]" in out and "returns.md" in out and "30 days" in out


def test_search_json_and_top_k(corpus, settings, capsys) -> None:
    run(capsys, settings, "ingest", str(corpus), "--json")
    code, out = run(capsys, settings, "search", "BLIK", "--top-k", "2", "--json")
    body = json.loads(out)
    assert code == 0 and len(body["hits"]) <= 2 and body["hits"][0]["source"] == "platnosci.md"


def test_empty_question_is_refused(corpus, settings, capsys) -> None:
    run(capsys, settings, "ingest", str(corpus), "--json")
    assert cli.main(["ask", "  "], settings=settings) == 2


@pytest.mark.parametrize("command", [["search", "refund"], ["ask", "refund"], ["serve"]])
def test_an_index_built_with_another_model_exits_2_with_what_to_do(corpus, settings, capsys, monkeypatch, command):
    run(capsys, settings, "ingest", str(corpus), "--json")
    monkeypatch.setattr(components, "build_embedder", lambda settings: FakeEmbedder(model_id="another-model"))
    assert cli.main(command, settings=settings) == 2
    assert "was built with model 'fake-embedder'" in " ".join(capsys.readouterr().err.split())


def test_a_search_without_any_index_exits_2(settings, capsys) -> None:
    assert cli.main(["search", "refund"], settings=settings) == 2
    assert "assistant ingest" in " ".join(capsys.readouterr().err.split())
