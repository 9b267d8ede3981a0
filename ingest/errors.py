"""Typed reasons a file cannot be ingested. Each carries a machine `reason` and a human message."""

from __future__ import annotations

from assistant.exceptions import AssistantError


class IngestError(AssistantError):
    """A file could not be turned into a document; the rest of the batch goes on."""

    reason = "unreadable"
    status = 422

    def __init__(self, message: str) -> None:
        super().__init__(message, code=self.reason)


class UnsupportedFormat(IngestError):
    reason = "unsupported_format"


class EncryptedDocument(IngestError):
    reason = "encrypted"


class NoTextLayer(IngestError):
    reason = "no_text_layer"


class EmptyDocument(IngestError):
    reason = "empty"


class TooLarge(IngestError):
    reason = "too_large"


class CorruptDocument(IngestError):
    reason = "corrupt"


class UndecodableText(IngestError):
    reason = "undecodable_text"


class ParseTimeout(IngestError):
    reason = "timeout"
