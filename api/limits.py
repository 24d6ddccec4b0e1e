"""Request guards: rate limits per client IP address, per sign-in endpoint and per signed-in
account (the ``limits`` library, moving windows, counters in memory or a shared store), and the
request body cap.

Check order of :class:`RequestGuard`, before any route runs: the body's declared size (413), the
sign-in endpoints' limit per client (429), the client's limit (429); the body is also counted as
it arrives (413 when a client sends more than it declared, or declares nothing). The per-account
limit is checked once the session token has been resolved (:func:`api.deps.current_principal`).
Every 429 carries ``Retry-After`` (whole seconds).
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.config import ApiSettings
from api.errors import ApiError, BodyTooLargeError, RateLimitedError
from api.problems import error_response

#: Paths whose every call writes a row or checks a signature: their own, tighter limit per client.
SIGN_IN_PATHS = frozenset({"/auth/nonce", "/auth/verify"})


class RateLimits:
    """The API's rate limits, from its settings.

    Args:
        settings: ``api_rate_limit_*`` (``limits`` notation) and the counters' storage URI.
    """

    def __init__(self, settings: ApiSettings) -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(settings.api_rate_limit_storage))
        self.client = parse_many(settings.api_rate_limit_client)
        self.sign_in = parse_many(settings.api_rate_limit_sign_in)
        self.principal = parse_many(settings.api_rate_limit_principal)

    def _hit(self, items: list[RateLimitItem], scope: str, key: str) -> None:
        for item in items:
            if not self._limiter.hit(item, scope, key):
                reset = self._limiter.get_window_stats(item, scope, key).reset_time
                retry = max(math.ceil(reset - time.time()), 1)
                raise RateLimitedError(
                    f"too many requests ({item} per {scope}): try again in {retry} s", retry_after=retry
                )

    def hit_client(self, address: str) -> None:
        """Count a request from client ``address``.

        Raises:
            RateLimitedError: the client is over its limit.
        """
        self._hit(self.client, "client", address)

    def hit_sign_in(self, address: str) -> None:
        """Count a sign-in request (nonce or verify) from client ``address``.

        Raises:
            RateLimitedError: the client is over the sign-in limit.
        """
        self._hit(self.sign_in, "sign-in", address)

    def hit_principal(self, account: str) -> None:
        """Count a request signed in as ``account`` (whichever session or address it comes from).

        Raises:
            RateLimitedError: the account is over its limit.
        """
        self._hit(self.principal, "account", account)


def client_address(scope: Scope) -> str:
    """The client's IP address as the server saw it (behind a proxy, run uvicorn with
    ``--proxy-headers --forwarded-allow-ips`` so this is the real client's)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class RequestGuard:
    """ASGI middleware that refuses oversized bodies (413) and clients over their rate limits
    (429) before the request reaches a route.

    The limits and the body cap are the context's (``scope["app"].state.ctx``, built at
    start-up). A body that turns out larger than declared stops being read and the route answers
    413 (an ``HTTPException``: FastAPI turns any other error while reading a body into a 400).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ctx = scope["app"].state.ctx
        max_body: int = ctx.settings.api_max_body_bytes
        try:
            declared = _content_length(scope)
            if declared is not None and declared > max_body:
                raise BodyTooLargeError(
                    f"the request body is {declared} bytes; at most {max_body} are accepted"
                )
            address = client_address(scope)
            if scope["method"] == "POST" and scope["path"] in SIGN_IN_PATHS:
                ctx.rate_limits.hit_sign_in(address)
            ctx.rate_limits.hit_client(address)
        except ApiError as exc:
            await error_response(exc)(scope, receive, send)
            return

        received = 0

        async def counting() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_body:
                    raise HTTPException(413, f"the request body is over {max_body} bytes")
            return message

        await self.app(scope, counting, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
