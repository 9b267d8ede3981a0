"""Integration with the real embedding model on a handful of documents: cross-lingual retrieval and answers."""

from __future__ import annotations

import pytest

from assistant.settings import Settings

pytestmark = pytest.mark.slow

DOCS = {
    "palautus.md": (
        "# Palautukset\n\n## Palautusaika\n\n"
        "Voit palauttaa tuotteen 30 päivän kuluessa toimituksesta. Palautus on maksuton Postin kautta.\n\n"
        "## Hyvitys\n\nHyvitämme maksun 5 arkipäivän kuluessa palautuksen saapumisesta."
    ),
    "blik.md": (
        "# Płatności BLIK\n\nKod BLIK jest ważny przez 2 minuty. "
        "Jeśli płatność się nie powiedzie, wygeneruj nowy kod w aplikacji banku."
    ),
    "songkran.md": ("# สงกรานต์\n\nในช่วงเทศกาลสงกรานต์ การจัดส่งอาจล่าช้าสามถึงห้าวันทำการ กรุณาแจ้งลูกค้าล่วงหน้า"),
    "security.md": (
        "# Account security\n\nAfter five failed sign-in attempts the account is locked for 30 minutes. "
        "Agents must never ask a customer for their password."
    ),
}


@pytest.fixture(scope="module")
def real_service(tmp_path_factory: pytest.TempPathFactory):
    from assistant.components import build_cache, build_embedder, build_service
    from ingest.store.layout import IndexStore
    from ingest.sync import sync_folder
    from tests.conftest import write_corpus

    tmp = tmp_path_factory.mktemp("real")
    root = write_corpus(tmp / "kb", DOCS)
    settings = Settings(index_dir=tmp / "index")
    embedder = build_embedder(settings)
    cache = build_cache(settings)
    report = sync_folder(root, IndexStore(settings.index_dir), embedder, cache)
    cache.close()
    assert report.complete and report.chunks >= 4
    service = build_service(settings)
    service.embedder = embedder
    service.load()
    return service


@pytest.mark.parametrize(
    ("question", "source"),
    [
        ("Ile dni mam na zwrot towaru?", "palautus.md"),  # Polish question, Finnish passage
        ("How long is a BLIK code valid?", "blik.md"),  # English question, Polish passage
        ("Do deliveries get delayed during the Thai new year festival?", "songkran.md"),  # en -> th
        ("บัญชีจะถูกล็อกหลังจากเข้าสู่ระบบผิดกี่ครั้ง", "security.md"),  # Thai question, English passage
        ("Kuinka kauan BLIK-koodi on voimassa?", "blik.md"),  # Finnish question, Polish passage
    ],
)
def test_cross_lingual_question_finds_the_passage(real_service, question: str, source: str) -> None:
    result, _ = real_service.search(question, 3)
    assert result.hits[0].chunk.source == source


def test_answer_cites_the_supporting_sentence(real_service) -> None:
    answer, _ = real_service.ask("How many minutes is a BLIK code valid?", 3)
    assert answer.found
    citation = answer.citations[0]
    start, end = citation.highlight
    assert citation.hit.chunk.source == "blik.md" and "2 minuty" in citation.hit.chunk.text[start:end]


def test_unrelated_question_is_not_answered(real_service) -> None:
    answer, _ = real_service.ask("Can I pay with cryptocurrency like Bitcoin?", 3)
    assert not answer.found and answer.related


def test_int8_setting_quantizes_the_model() -> None:
    """ASSISTANT_EMBEDDING_INT8 really runs int8: vectors move a little, and stay close to fp32."""
    import numpy as np

    from assistant.components import build_embedder

    texts = list(DOCS.values())
    fp32 = build_embedder(Settings()).embed_documents(texts)
    int8_embedder = build_embedder(Settings(embedding_int8=True))
    int8 = int8_embedder.embed_documents(texts)
    cosine = np.sum(fp32 * int8, axis=1)
    assert int8_embedder.model_id.endswith("+int8")
    assert cosine.max() < 0.9999 and cosine.min() > 0.8


def test_batched_passages_come_back_in_the_callers_order() -> None:
    """Batches are planned by token count; every vector must still land on its own text."""
    import numpy as np

    from assistant.components import build_embedder

    texts = list(DOCS.values()) + ["Lyhyt.", "ขอบคุณ", DOCS["palautus.md"] * 3]
    embedder = build_embedder(Settings(embedding_batch_size=2)).loaded
    together = embedder.embed_documents(texts)
    alone = np.vstack([embedder.embed_documents([t]) for t in texts])
    assert np.sum(together * alone, axis=1).min() > 0.999


def test_onnx_runtime_gives_the_torch_vectors() -> None:
    """The default runtime is ONNX (exported by `make setup`) and an index built by either serves with the other."""
    import numpy as np

    from assistant.components import build_embedder

    texts = list(DOCS.values()) + ["Lyhyt.", DOCS["palautus.md"] * 3]
    questions = ["Ile dni mam na zwrot towaru?", "บัญชีจะถูกล็อกหลังจากเข้าสู่ระบบผิดกี่ครั้ง"]
    onnx = build_embedder(Settings(embedding_batch_size=2))
    torch = build_embedder(Settings(embedding_backend="torch"))
    assert onnx.loaded.model_id == torch.loaded.model_id
    assert (onnx.backend, torch.backend) == ("onnx", "torch")
    assert np.sum(onnx.embed_documents(texts) * torch.embed_documents(texts), axis=1).min() > 0.9999
    assert np.sum(onnx.embed_queries(questions) * torch.embed_queries(questions), axis=1).min() > 0.9999
    assert float(onnx.embed_query(questions[0]) @ torch.embed_query(questions[0])) > 0.9999
    assert onnx.count_tokens(texts[0]) == torch.count_tokens(texts[0])


def test_onnx_runtime_truncates_like_sentence_transformers() -> None:
    """ASSISTANT_EMBEDDING_DIM (Matryoshka) cuts and re-normalises the same way on both runtimes."""
    import numpy as np

    from assistant.components import build_embedder

    texts = list(DOCS.values())
    onnx = build_embedder(Settings(embedding_dim=256))
    torch = build_embedder(Settings(embedding_dim=256, embedding_backend="torch"))
    ours, theirs = onnx.embed_documents(texts), torch.embed_documents(texts)
    assert ours.shape == theirs.shape == (len(texts), 256)
    assert np.sum(ours * theirs, axis=1).min() > 0.9999


def test_questions_embed_correctly_while_a_reindex_embeds_in_another_thread() -> None:
    """The server re-indexes in a thread while request threads embed questions on the same runtime."""
    import threading

    import numpy as np

    from assistant.components import build_embedder

    embedder = build_embedder(Settings()).loaded
    passages = list(DOCS.values()) * 6
    questions = ["Ile dni mam na zwrot towaru?", "How long is a BLIK code valid?", "บัญชีจะถูกล็อกกี่นาที"]
    expected_passages = embedder.embed_documents(passages)
    expected = {q: embedder.embed_query(q) for q in questions}
    got: dict[str, list[np.ndarray]] = {q: [] for q in questions}
    errors: list[BaseException] = []
    reindexed: list[np.ndarray] = []

    def reindex() -> None:
        try:
            reindexed.append(embedder.embed_documents(passages))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def ask(question: str) -> None:
        try:
            for _ in range(5):
                got[question].append(embedder.embed_query(question))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reindex)] + [threading.Thread(target=ask, args=(q,)) for q in questions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert np.sum(reindexed[0] * expected_passages, axis=1).min() > 0.9999
    for question, vectors in got.items():
        assert len(vectors) == 5 and min(float(v @ expected[question]) for v in vectors) > 0.9999


def test_onnx_runtime_tokenizes_like_transformers_without_importing_it() -> None:
    """ONNX embedding reads the tokenizer saved beside the export: same ids, same vectors, no transformers/torch."""
    import json
    import subprocess
    import sys

    script = (
        "import sys, json\n"
        "from assistant.components import build_embedder\n"
        "from assistant.settings import Settings\n"
        "e = build_embedder(Settings()).loaded\n"
        "texts = sys.argv[1:]\n"
        "vectors = e.embed_documents(texts)\n"
        "print(json.dumps({'backend': e.backend, 'counts': [e.count_tokens(t) for t in texts],\n"
        "  'vectors': vectors.tolist(), 'imported': [m for m in ('transformers', 'torch') if m in sys.modules]}))\n"
    )
    texts = list(DOCS.values()) + ["Lyhyt.", "palautus " * 2500]
    done = subprocess.run([sys.executable, "-c", script, *texts], capture_output=True, text=True, check=True)
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["backend"] == "onnx" and got["imported"] == []

    import numpy as np
    from transformers import AutoTokenizer

    from assistant.components import build_embedder

    reference = AutoTokenizer.from_pretrained(Settings().model_path_or_name)
    assert got["counts"] == [len(reference(t, add_special_tokens=False)["input_ids"]) for t in texts]
    assert got["counts"][-1] > 2048  # counting is never truncated: a long text is split, not cut
    torch = build_embedder(Settings(embedding_backend="torch"))
    assert np.sum(np.array(got["vectors"][:-1]) * torch.embed_documents(texts[:-1]), axis=1).min() > 0.9999
