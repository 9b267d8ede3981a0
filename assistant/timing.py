"""Milliseconds since a perf_counter() reading, rounded for the `timings_ms` fields."""

from __future__ import annotations

import time


def ms_since(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
