"""One error shape for every API response: {"error": {"status", "code", "message"}}."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from assistant.exceptions import AssistantError
from assistant.schemas import ErrorOut


class ApiError(AssistantError):
    """An error the client caused or must know about, raised by a route; rendered in the common error shape."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message, status=status, code=code, headers=headers)


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorOut.model_validate({"error": {"status": status, "code": code, "message": message}})
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)
