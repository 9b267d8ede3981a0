"""Shared by the Zendesk and Chatwoot app tests: the knowledge base, a ticket's words, and static servers."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from assistant.api import create_app
from assistant.auth import hash_key
from assistant.service import KnowledgeService, ServiceConfig
from assistant.settings import ApiKey, Settings
from ingest.embedding_cache import EmbeddingCache
from ingest.store.layout import IndexStore
from ingest.sync import sync_folder
from tests.conftest import write_corpus
from tests.fakes import FakeEmbedder
from tests.live_server import LiveServer

HARNESS = Path(__file__).resolve().parent / "harness"
AGENT_KEY = "helpdesk-app-agent-key-0123456789"
# A plain-text document keeps its markup as text: the passage an answer cites carries it verbatim.
KETTLE = (
    'The kettle warranty lasts 36 months from delivery <img src=x onerror="window.__pwned=1"> '
    "and covers the <script>window.__pwned=2</script> heating plate.\n"
)
RETURN_QUESTION = "How many days do I have to return an item?"
MISSING_QUESTION = "Do you sell gift cards for spaceships?"
KETTLE_QUESTION = "How long is the kettle warranty?"
CUSTOMER_EMAIL = f"Hello,\n\n{RETURN_QUESTION} {MISSING_QUESTION}\n\n{KETTLE_QUESTION}\n\nBest regards,\nAnna"
# Would be found if it were read: it must not be, being an internal note.
NOTE_QUESTION = "How long does Matkahuolto delivery take?"


def knowledge_server(tmp_path: Path, frame_ancestors: list[str] | None = None) -> LiveServer:
    """The tiny corpus plus the kettle document, served with one agent key."""
    root = write_corpus(write_corpus(tmp_path / "kb"), {"kettle.txt": KETTLE})
    store = IndexStore(tmp_path / "index")
    embedder = FakeEmbedder()
    cache = EmbeddingCache(tmp_path / "embeddings.sqlite")
    assert sync_folder(root, store, embedder, cache).failed == []
    cache.close()
    service = KnowledgeService(store, embedder, ServiceConfig(min_dense_score=0.4))
    service.load()
    settings = Settings(
        cache_dir=tmp_path / "cache",
        api_keys=[ApiKey(name="helpdesk", sha256=hash_key(AGENT_KEY), role="agent")],
        frame_ancestors=frame_ancestors or [],
    )
    return LiveServer(create_app(service, settings))


def static_server(directory: Path) -> LiveServer:
    """A folder on its own loopback port: its own origin, as a helpdesk or an app CDN would be."""
    return LiveServer(Starlette(routes=[Mount("/", StaticFiles(directory=directory))]))
