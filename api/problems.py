"""The API's one mapping of typed errors to HTTP answers: a status per error class, a readable
message for the caller's own mistakes, and a generic message with a correlation id for failures
that are not the caller's (the details go to the log line with the same id)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi.responses import JSONResponse

from api.errors import (
    ApiError,
    AuthError,
    BodyTooLargeError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    QueryError,
    RateLimitedError,
)
from chain.errors import ChainUnavailableError, ContractRevertError
from domain.errors import EtsError
from readmodel.errors import ReadModelError

logger = logging.getLogger(__name__)

_STATUS: list[tuple[type[Exception], int]] = [
    (AuthError, 401),
    (RateLimitedError, 429),
    (BodyTooLargeError, 413),
    (ForbiddenError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (ContractRevertError, 422),
    (ChainUnavailableError, 503),
    (ReadModelError, 503),
    (QueryError, 400),
    (ValueError, 400),  # typed input errors (SIWE, call arguments, raw transactions ...)
    (LookupError, 404),
]


def status_of(exc: EtsError) -> int:
    """The HTTP status of a typed error (502 for chain failures that are not the caller's)."""
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 500 if isinstance(exc, ApiError) else 502


#: What a client is told when the failure is not its own (the details go to the log only: a node's
#: URL or raw error says nothing useful to a client and something useful to an attacker).
_GENERIC = {
    502: "the chain node answered with an error",
    503: "a service the API depends on (the chain node or the read model) is unavailable: try again later",
}
#: Response header carrying the correlation id of a failed request (also in its body and log line).
CORRELATION_HEADER = "X-Correlation-ID"


def error_response(exc: EtsError) -> JSONResponse:
    """The JSON answer to a typed error. The caller's own errors (4xx) say what was wrong; a
    failure that is not the caller's (5xx) gets a generic message and a correlation id, also in
    the ``X-Correlation-ID`` header and in the log line that holds the real error."""
    status = status_of(exc)
    body: dict[str, Any] = {"error": type(exc).__name__, "message": str(exc)}
    headers: dict[str, str] = {}
    if isinstance(exc, ContractRevertError):
        body = {
            "error": exc.error,
            "message": exc.explain(),
            "details": {"args": exc.json_args(), "tx_hash": exc.tx_hash},
        }
    if status >= 500:
        correlation = uuid.uuid4().hex
        logger.error(
            "request failed: %s",
            exc,
            extra={"error": type(exc).__name__, "status": status, "correlation_id": correlation},
        )
        generic = _GENERIC.get(status, "internal error")
        body = {
            "error": type(exc).__name__,
            "message": f"{generic} (correlation id {correlation})",
            "correlation_id": correlation,
        }
        headers[CORRELATION_HEADER] = correlation
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse(body, status_code=status, headers=headers or None)
