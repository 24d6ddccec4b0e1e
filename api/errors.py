"""Exceptions raised by the API package; ``api.main`` maps every one to an HTTP status."""

from __future__ import annotations

from domain.errors import EtsError


class ApiError(EtsError):
    """Base class of errors raised by the API."""


class ApiConfigError(ApiError, ValueError):
    """Raised when the API's settings are invalid."""


class NotFoundError(ApiError, LookupError):
    """Raised when a requested resource (participant, auction, batch ...) does not exist."""


class QueryError(ApiError, ValueError):
    """Raised when query parameters are valid one by one but not together (a window that ends
    before it starts, a page past the end, a grouping the data cannot give)."""


class AuthError(ApiError):
    """Raised when a request has no valid session (missing, unknown or expired token)."""


class ForbiddenError(ApiError, PermissionError):
    """Raised when the signed-in account may not see or do what it asked (another
    enterprise's data, an action its roles do not allow)."""


class ConflictError(ApiError):
    """Raised when a request conflicts with stored state (a transaction intent already used)."""


class RateLimitedError(ApiError):
    """Raised when a client or a signed-in account is over its rate limit (429, ``Retry-After``)."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BodyTooLargeError(ApiError):
    """Raised when a request body is larger than ``api_max_body_bytes`` (413)."""
