"""The plain LangChain pipeline we compare against: RecursiveCharacterTextSplitter, HuggingFaceEmbeddings, FAISS.

One builder for every benchmark (ingest speed, retrieval quality), so the baseline is the same pipeline everywhere;
plus its on-disk cache and the bridge that lets the eval's judges score its chunks.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from langchain_community.vectorstores import FAISS
from langchain_core.documents import Document as LCDocument
from langchain_core.embeddings import Embeddings
from langchain_text_splitters import RecursiveCharacterTextSplitter

from assistant.components import embedder_identity
from assistant.settings import Settings
from ingest.documents import Chunk
from ingest.errors import IngestError
from ingest.loaders import load_document
from ingest.sources.folder import scan

CHUNK_SIZE, CHUNK_OVERLAP = 1000, 150
DESCRIPTION = (
    f"LangChain: RecursiveCharacterTextSplitter({CHUNK_SIZE},{CHUNK_OVERLAP}) + HuggingFaceEmbeddings "
    "(same model, query/document prompts) + FAISS"
)
log = logging.getLogger(__name__)


def langchain_embeddings(settings: Settings) -> Embeddings:
    """The configured model through HuggingFaceEmbeddings, with the model's own query and document prompts."""
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(
        model_name=settings.model_path_or_name,
        model_kwargs={"device": "cpu"},
        encode_kwargs={
            "prompt_name": "document",
            "normalize_embeddings": True,
            "batch_size": settings.embedding_batch_size,
        },
        query_encode_kwargs={"prompt_name": "query", "normalize_embeddings": True},
    )


def folder_documents(root: Path) -> tuple[list[LCDocument], list[str]]:
    """The files our ingest would index, with our text extraction, so only splitting and embedding differ.

    Returns the documents (metadata "source" = path relative to root, as our passages have) and a
    message for each file that could not be read.
    """
    scanned, failures = scan(root)
    docs, skipped = [], [message for _, _, message in failures]
    for item in scanned:
        try:
            text = load_document(item.path, item.source).text
        except IngestError as exc:
            skipped.append(str(exc))
            continue
        docs.append(LCDocument(page_content=text, metadata={"source": item.source}))
    for message in skipped:
        log.warning("LangChain baseline skips %s", message)
    return docs, skipped


def build_store(docs: Sequence[LCDocument], embeddings: Embeddings) -> FAISS:
    """Split and embed `docs` into a FAISS store, exactly as the LangChain docs show it."""
    splits = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP).split_documents(docs)
    return FAISS.from_documents(splits, embeddings)


def as_chunk(doc: LCDocument, position: int = 0) -> Chunk:
    """A LangChain chunk in our passage type, so the eval's judges decide its relevance exactly as for ours."""
    text = doc.page_content
    return Chunk(str(doc.id or position), str(doc.metadata["source"]), text, 0, len(text), None, None, None, "und", 0)


def store_chunks(store: FAISS) -> list[Chunk]:
    """Every chunk of the store: the quote judge builds its ideal rankings from the whole index, as for ours."""
    docs = [store.docstore.search(i) for i in store.index_to_docstore_id.values()]
    return [as_chunk(d, n) for n, d in enumerate(docs) if isinstance(d, LCDocument)]


def embed_queries(embeddings: Embeddings, texts: list[str]) -> list[list[float]]:
    """embed_query for many texts, batched when the embeddings are HuggingFaceEmbeddings."""
    from langchain_huggingface import HuggingFaceEmbeddings

    if isinstance(embeddings, HuggingFaceEmbeddings):
        # embed_query is _embed([text], query kwargs): one call per batch gives the same vectors (up to padding noise).
        return embeddings._embed(texts, embeddings.query_encode_kwargs or embeddings.encode_kwargs)
    return [embeddings.embed_query(t) for t in texts]


def file_part(text: str) -> str:
    """A name or model id as part of a cache folder name."""
    return re.sub(r"[^A-Za-z0-9@.+_-]+", "_", text)


def cached_store(
    name: str, digest: str, settings: Settings, embeddings: Embeddings, docs: Callable[[], list[LCDocument]]
) -> tuple[FAISS, str]:
    """The LangChain store of a corpus, built once per (corpus hash, model) under <cache_dir>/langchain."""
    model = file_part(embedder_identity(settings))
    folder = settings.cache_dir / "langchain" / f"{file_part(name)}-{digest[:12]}-{model}"
    if (folder / "index.faiss").is_file():
        # Our own pickle, written by save_local below; nothing from outside is deserialised.
        store = FAISS.load_local(str(folder), embeddings, allow_dangerous_deserialization=True)
        return store, f"LangChain store loaded from {folder}"
    print(f"LangChain: embedding {name} into {folder} (first run only)", file=sys.stderr)
    store = build_store(docs(), embeddings)
    # Written beside the final folder, then renamed: a killed run never leaves a half store to load.
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    store.save_local(str(partial))
    partial.rename(folder)
    return store, f"LangChain store built in {folder}"


def folder_digest(root: Path) -> str:
    """Hash of the files our ingest would index (paths and contents)."""
    scanned, _ = scan(root)
    return hashlib.sha256("\n".join(f"{s.source}\t{s.sha256}" for s in scanned).encode()).hexdigest()


def corpus_documents(corpus: Path) -> list[LCDocument]:
    """BEIR documents as eval.beir writes them for our ingest (title, blank line, text); source = corpus id."""
    docs = []
    with corpus.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                title, text = str(row.get("title") or "").strip(), str(row.get("text") or "")
                body = f"{title}\n\n{text}" if title else text
                docs.append(LCDocument(page_content=body, metadata={"source": str(row["_id"])}))
    return docs
