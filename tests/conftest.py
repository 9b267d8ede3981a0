"""Shared fixtures: a tiny four-language corpus on disk, a fake embedder, an isolated index."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.embedding_cache import EmbeddingCache
from ingest.store.layout import IndexStore
from tests.fakes import FakeEmbedder

CORPUS = {
    "returns.md": (
        "# Returns policy\n\n"
        "## Return window\n\n"
        "You can return any item within 30 days of delivery for a full refund. "
        "The item must be unused and in its original packaging.\n\n"
        "## Damaged items\n\n"
        "If an item arrives damaged, send a photo to support@nordvik.example within 7 days."
    ),
    "toimitus.md": (
        "# Toimitusehdot\n\n"
        "## Toimitusajat\n\n"
        "Toimitamme tilaukset Postin noutopisteisiin 2–4 arkipäivässä. "
        "Matkahuollon toimitus kestää 3–5 arkipäivää.\n\n"
        "## Toimitusmaksut\n\n"
        "Yli 50 euron tilaukset toimitetaan ilmaiseksi."
    ),
    "platnosci.md": (
        "# Płatności\n\n"
        "## Metody płatności\n\n"
        "Akceptujemy płatności BLIK, karty płatnicze oraz przelewy. "
        "Zwrot pieniędzy trwa do 5 dni roboczych.\n\n"
        "## Faktury\n\n"
        "Fakturę VAT można pobrać z konta klienta w zakładce Zamówienia."
    ),
    "songkran.md": (
        "# การจัดส่งช่วงสงกรานต์\n\n"
        "## ความล่าช้า\n\n"
        "ในช่วงเทศกาลสงกรานต์ การจัดส่งอาจล่าช้าสามถึงห้าวันทำการ "
        "กรุณาแจ้งลูกค้าล่วงหน้า\n\n"
        "## การเก็บเงินปลายทาง\n\n"
        "ลูกค้าสามารถชำระเงินปลายทางได้สำหรับคำสั่งซื้อไม่เกิน 5000 บาท"
    ),
}


def write_corpus(root: Path, files: dict[str, str | bytes] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, content in (CORPUS if files is None else files).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "kb")


@pytest.fixture
def embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def store(tmp_path: Path) -> IndexStore:
    return IndexStore(tmp_path / "index")


@pytest.fixture
def cache(tmp_path: Path):
    cache = EmbeddingCache(tmp_path / "cache" / "embeddings.sqlite")
    yield cache
    cache.close()


@pytest.fixture
def service(corpus, store, embedder, cache):
    """A knowledge service over the tiny corpus, ingested with the fake embedder."""
    from assistant.service import KnowledgeService, ServiceConfig
    from ingest.sync import sync_folder

    sync_folder(corpus, store, embedder, cache)
    service = KnowledgeService(store, embedder, ServiceConfig(min_dense_score=0.4))
    service.load()
    return service


@pytest.fixture
def client(service):
    from fastapi.testclient import TestClient

    from assistant.api import create_app
    from assistant.settings import Settings

    with TestClient(create_app(service, Settings(max_top_k=20, max_question_chars=500))) as client:
        yield client


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    """A real PostgreSQL on a Unix socket (pgserver), shared by the session; each test gets its own database.

    As root, pgserver runs the server as a system user `pgserver` it creates (useradd) and opens the
    permissions of the data folder's parents to it.
    """
    pgserver = pytest.importorskip("pgserver", reason="pgserver (dev dependency) runs PostgreSQL for these tests")
    server = pgserver.get_server(tmp_path_factory.mktemp("pgdata"), cleanup_mode="stop")
    try:
        yield server
    finally:
        server.cleanup()


_database_count = 0


def fresh_postgres_database(server) -> str:
    """The URL of a new empty database on `server`."""
    import psycopg

    global _database_count
    _database_count += 1
    name = f"test_{_database_count}"
    with psycopg.connect(server.get_uri(), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    return server.get_uri(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request) -> str:
    """ASSISTANT_DATABASE_URL for a test that runs on both: empty (SQLite files) or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return ""
    return fresh_postgres_database(request.getfixturevalue("postgres_server"))
