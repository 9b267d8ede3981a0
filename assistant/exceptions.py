"""One base for the errors the assistant raises on purpose: the API maps each to a status, the CLI catches one type."""

from __future__ import annotations


class AssistantError(Exception):
    """An error with a human message, a machine `code` and the HTTP `status` it is answered with.

    Subclasses set `status` and `code` as class attributes; one raised with explicit values
    (ApiError, UploadRejected) overrides them per instance. Anything that is not an
    AssistantError and escapes a route is a bug and answers 500.
    """

    status: int = 500
    code: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.headers = headers
