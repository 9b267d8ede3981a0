"""The default of every setting that ingest, the service and assistant/settings.py share: one place each.

Imports nothing, so reading a default never loads FAISS, the answerer or a model. Each value is
documented where it is a setting (assistant/settings.py).
"""

from __future__ import annotations

LANGUAGES = ("en", "fi", "pl", "th")
CHUNK_MAX_TOKENS = 200
CHUNK_MIN_TOKENS = 40
MAX_FILE_BYTES = 50_000_000
PARSE_TIMEOUT_S = 60.0
KEEP_VERSIONS = 3
KEYWORD_WEIGHT = 0.15
# Adaptive abstention: answer when the evidence stands this many null spreads above the off-topic
# questions' on this collection. Weights and threshold were chosen once on the demo set, xquad-en and
# xquad-th (false abstention at most 5% on each, with margin) and hold for every collection; the
# other sets were measured after (docs/benchmarks.md, "Abstention").
MIN_CONFIDENCE = 2.75
# Past this many passages the vector index is HNSW instead of exact (docs/benchmarks.md, Approximate search).
VECTOR_HNSW_ABOVE = 50_000
