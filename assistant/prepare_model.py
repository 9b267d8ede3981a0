"""`python -m assistant.prepare_model`: make the configured embedding model available offline."""

from __future__ import annotations

import logging

from assistant.components import prepare_model
from assistant.settings import Settings

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger(__name__).info("embedding model ready: %s", prepare_model(Settings()))
