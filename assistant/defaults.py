"""The default of every setting that ingest, the service and assistant/settings.py share: one place each.

Imports only the standard library, so reading a default never loads FAISS, the answerer or a model. Each value is
documented where it is a setting (assistant/settings.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

LANGUAGES = ("en", "fi", "pl", "th")
CHUNK_MAX_TOKENS = 200
CHUNK_MIN_TOKENS = 40
MAX_FILE_BYTES = 50_000_000
PARSE_TIMEOUT_S = 60.0
KEEP_VERSIONS = 3
KEYWORD_WEIGHT = 0.15
# Share of a same-language keyword match a dictionary-translated match counts for (docs/benchmarks.md).
TRANSLATED_KEYWORD_WEIGHT = 0.5
# Where Debian's dict-freedict-* packages install the dictd dictionaries keyword translation reads.
DICTD_DIR = Path("/usr/share/dictd")
# Adaptive abstention: answer when the evidence stands this many null spreads above the off-topic
# questions' on this collection. Weights and threshold were chosen once on the demo set, xquad-en and
# xquad-th (false abstention at most 5% on each, with margin) and hold for every collection; the
# other sets were measured after (docs/benchmarks.md, "Abstention").
MIN_CONFIDENCE = 2.75
# Fused candidates a question keeps before the answer (and the reranker, when one is set) sees them.
CANDIDATES = 50
RERANKER_CANDIDATES = 20
# Questions arriving at the same moment are embedded together, up to this many.
QUERY_BATCH_SIZE = 16
# The optional LLM: seconds to wait for an answer or a draft, and for a follow-up's rewrite, before
# answering without it; and the cosine a generated sentence needs with its cited passage to be kept.
LLM_TIMEOUT_S = 20.0
CONDENSE_TIMEOUT_S = 5.0
LLM_MIN_SUPPORT = 0.5
# Past this many passages the vector index is IVF instead of exact (docs/benchmarks.md, Approximate search).
VECTOR_APPROXIMATE_ABOVE = 50_000
# Where new versions' vectors go, and how a server-backed one (Qdrant) names and spreads them.
VECTOR_BACKEND: Final = "faiss"
QDRANT_COLLECTION = "kb"
QDRANT_SHARDS = 1
QDRANT_REPLICAS = 1
