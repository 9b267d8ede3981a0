"""BEIR folders (corpus.jsonl, queries.jsonl, qrels/test.tsv) indexed through the real ingestion path.

Each corpus document becomes a text file `<safe id>.txt` (title, blank line, text) in a cache folder
that `ingest.sync.sync_folder` indexes like any knowledge base, so the benchmark measures the same
loading, chunking and embedding the assistant uses. The folder name carries the corpus hash, model
and chunk size, so a second run finds the index built and only re-checks it.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from assistant.exceptions import AssistantError
from eval.judges import Question
from ingest.checksums import sha256_file
from ingest.embedder import Embedder
from ingest.embedding_cache import EmbeddingCache
from ingest.store.layout import IndexStore, LoadedIndex
from ingest.sync import Progress, SyncOptions, SyncReport, sync_folder

# Languages of the datasets we know; queries of others are language-detected one by one.
KNOWN_LANGUAGES = {"xquad-th": "th", "xquad-en": "en", "iapp-th": "th", "poquad-pl": "pl", "scifact": "en"}
QRELS = Path("qrels") / "test.tsv"
IDS_FILE = "ids.json"
DOCS_PER_QUERY = 100
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,150}")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


class BeirError(AssistantError, ValueError):
    """A BEIR folder is missing a file or has a malformed line."""


@dataclass
class BeirDataset:
    """Queries and graded judgements of one BEIR folder; the corpus stays on disk until indexed."""

    name: str
    folder: Path
    queries: dict[str, str]  # only the judged ones, in qrels order
    qrels: dict[str, dict[str, int]]

    @property
    def corpus(self) -> Path:
        return self.folder / "corpus.jsonl"


def is_beir_folder(path: Path) -> bool:
    return path.is_dir() and (path / "corpus.jsonl").is_file() and (path / QRELS).is_file()


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as exc:
                    raise BeirError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    """query id -> {corpus id: grade}; the first line is a header."""
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            parts = line.rstrip("\n").split("\t")
            if number == 1 or not line.strip():
                continue
            if len(parts) != 3 or not parts[2].lstrip("-").isdigit():
                raise BeirError(f"{path}:{number}: expected 'query-id<TAB>corpus-id<TAB>score'")
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return qrels


def load_beir(folder: Path, limit: int | None = None) -> BeirDataset:
    """Read queries and qrels; only queries with judgements count, the first `limit` of them if given."""
    if not is_beir_folder(folder):
        raise BeirError(f"{folder} is not a BEIR folder (needs corpus.jsonl, queries.jsonl and {QRELS})")
    qrels = load_qrels(folder / QRELS)
    wanted = list(qrels)[:limit] if limit else list(qrels)
    texts: dict[str, str] = {}
    for number, row in _jsonl(folder / "queries.jsonl"):
        if "_id" not in row or not isinstance(row.get("text"), str):
            raise BeirError(f"{folder / 'queries.jsonl'}:{number}: needs '_id' and 'text'")
        texts[str(row["_id"])] = str(row["text"])
    missing = [q for q in wanted if q not in texts]
    if missing:
        raise BeirError(f"{len(missing)} judged queries are not in queries.jsonl, e.g. {missing[0]}")
    return BeirDataset(folder.name, folder, {q: texts[q] for q in wanted}, {q: qrels[q] for q in wanted})


def questions(dataset: BeirDataset, lang: str | None = None) -> list[Question]:
    """Judged queries as questions; `lang` defaults to the dataset's known language, else detection."""
    lang = lang or KNOWN_LANGUAGES.get(dataset.name)
    return [
        Question(qid, text, lang, True, tuple({"source": d, "grade": str(g)} for d, g in dataset.qrels[qid].items()))
        for qid, text in dataset.queries.items()
    ]


def safe_name(doc_id: str) -> str:
    """A file name stem for a corpus id; odd ids get a sanitised name plus a hash so none collide."""
    if _SAFE_ID.fullmatch(doc_id):
        return doc_id
    digest = hashlib.sha256(doc_id.encode()).hexdigest()[:12]
    return f"{_UNSAFE.sub('_', doc_id).strip('_')[:80]}~{digest}"


def cache_folder(
    cache_dir: Path, dataset: BeirDataset, model_id: str, chunk_max_tokens: int, vector_backend: str = "faiss"
) -> Path:
    """Index folder of a dataset; another vector backend gets its own, so alternating runs rebuild nothing."""
    model = re.sub(r"[^A-Za-z0-9@.+_-]+", "_", model_id)
    backend = "" if vector_backend == "faiss" else f"-{vector_backend}"
    return cache_dir / "beir" / f"{dataset.name}-{sha256_file(dataset.corpus)[:12]}-{model}-{chunk_max_tokens}{backend}"


def materialize(corpus: Path, folder: Path) -> dict[str, str]:
    """Write each document as `<safe id>.txt` (unchanged files are left alone); returns renamed ids."""
    folder.mkdir(parents=True, exist_ok=True)
    renamed: dict[str, str] = {}
    written: set[str] = set()
    for number, row in _jsonl(corpus):
        if "_id" not in row:
            raise BeirError(f"{corpus}:{number}: a document needs an '_id'")
        doc_id, title, text = str(row["_id"]), str(row.get("title") or "").strip(), str(row.get("text") or "")
        name = safe_name(doc_id)
        if name != doc_id:
            renamed[name] = doc_id
        if name in written:
            raise BeirError(f"{corpus}:{number}: corpus id {doc_id!r} appears twice")
        written.add(name)
        body = f"{title}\n\n{text}" if title else text
        path = folder / f"{name}.txt"
        data = body.encode("utf-8")
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
    for stale in folder.glob("*.txt"):
        if stale.stem not in written:
            stale.unlink()
    return renamed


def doc_id_lookup(renamed: dict[str, str]) -> Callable[[str], str]:
    """Chunk source (`<safe id>.txt`) -> corpus id."""
    return lambda source: renamed.get(Path(source).stem, Path(source).stem)


def build_index(
    dataset: BeirDataset,
    cache_dir: Path,
    embedder: Embedder,
    cache: EmbeddingCache,
    options: SyncOptions,
    progress: Progress | None = None,
    open_store: Callable[[Path], IndexStore] = IndexStore,
) -> tuple[Path, Callable[[str], str], SyncReport]:
    """Build or refresh the dataset's index under cache_dir/beir; returns its index folder.

    `open_store` opens an index folder with the configured backends (default: FAISS).
    """
    backend = open_store(cache_dir / "beir").vector_backend
    root = cache_folder(cache_dir, dataset, embedder.model_id, options.chunk_max_tokens, backend)
    renamed = materialize(dataset.corpus, root / "corpus")
    (root / IDS_FILE).write_text(json.dumps(renamed, ensure_ascii=False, indent=1), encoding="utf-8")
    store = open_store(root / "index")
    report = sync_folder(root / "corpus", store, embedder, cache, options, progress)
    return store.root, doc_id_lookup(renamed), report


def chunks_to_search(index: LoadedIndex) -> int:
    """Passages to retrieve so that, ranked by best passage, about DOCS_PER_QUERY documents remain."""
    docs = max(len(index.manifest.documents), 1)
    per_doc = math.ceil(len(index.chunks) / docs)
    return min(1000, max(200, DOCS_PER_QUERY * per_doc))
