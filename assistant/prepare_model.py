"""`python -m assistant.prepare_model`: make the configured embedding model (and its ONNX export) available offline."""

from __future__ import annotations

import logging

from assistant.components import prepare_model, prepare_off_topic_vectors, prepare_onnx, uses_onnx
from assistant.settings import Settings

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = Settings()
    log = logging.getLogger(__name__)
    log.info("embedding model ready: %s", prepare_model(settings))
    if uses_onnx(settings):
        export = prepare_onnx(settings)
        if export is None:
            log.warning("no ONNX export: the assistant will embed with torch (same vectors, slower)")
        else:
            log.info("ONNX export ready: %s", export)
    log.info("off-topic questions in the embedding cache: %d", prepare_off_topic_vectors(settings))
