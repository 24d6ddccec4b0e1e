"""The API's app factory: routers, the error handler that maps every typed error to an HTTP
status with a readable message, request logs, and the embedded indexer's thread."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.config import ApiSettings
from api.context import AppContext
from api.dashboard import mount_dashboard
from api.limits import RequestGuard
from api.logs import configure as configure_logs
from api.problems import CORRELATION_HEADER, error_response
from api.routes import (
    accounts,
    alarms,
    attestations,
    auctions,
    audit,
    auth,
    batches,
    bulletin,
    cards,
    compliance,
    health,
    holdings,
    market,
    participants,
    permits,
    plans,
    production,
    reserve,
    review,
    safe,
    statements,
    stats,
    surveillance,
    tx,
    valve,
)
from api.stream import market_streams
from domain.errors import EtsError
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade

logger = logging.getLogger(__name__)

DESCRIPTION = """
One API over every ETS Chain contract, for people who do not run a chain node.

* **Sign in** with an Ethereum wallet (EIP-4361): `POST /auth/nonce`, sign the message,
  `POST /auth/verify`, then send `Authorization: Bearer <token>`. Roles come from the
  ConsortiumRegistry on the chain.
* **Read** participants, devices, holdings, transfers, caps, auctions, the market (book, trades,
  daily quotes, your orders and fills), attestations, compliance, anchored batches and readings
  from the read model the indexer keeps.
* **Act** with your own wallet: the API builds unsigned transactions and relays the signed ones.
  Keys never reach the server.
* **Audit**: any account's, token's or device's full event history, and Merkle proofs of
  readings checked against the chain.
"""


class RequestLog:
    """One log line a request (method, path, status, milliseconds, and the correlation id of a
    failed one), as plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` runs every request
    through an extra task and stream."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        correlation: str | None = None

        async def sending(message: Message) -> None:
            nonlocal status, correlation
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", ()):
                    if name == _CORRELATION:
                        correlation = value.decode("latin-1")
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            extra = {
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "ms": round((time.perf_counter() - start) * 1000, 2),
            }
            if correlation is not None:
                extra["correlation_id"] = correlation
            logger.info("request", extra=extra)


#: The correlation id's header as ASGI carries it (lower-case bytes).
_CORRELATION = CORRELATION_HEADER.lower().encode("latin-1")


def _start_indexer(app: FastAPI, ctx: AppContext) -> None:
    streams = app.state.market_streams
    streams.embedded = True  # the market streams wake on the indexer's commits
    indexer = Indexer(
        ctx.chain, ctx.manifest, ctx.engine,
        confirmations=ctx.settings.indexer_confirmations, page_blocks=ctx.settings.indexer_page_blocks,
        oracle_queues=ctx.settings.oracle_queues, on_commit=streams.committed,
    )  # fmt: skip
    stop = threading.Event()

    def follow() -> None:
        try:
            indexer.run(stop, ctx.settings.indexer_poll_seconds)
        except Exception:
            logger.exception("embedded indexer stopped")

    thread = threading.Thread(target=follow, name="ets-indexer", daemon=True)
    thread.start()
    app.state.indexer_stop = stop
    app.state.indexer_thread = thread


def create_app(
    ctx: AppContext | None = None, *, migrate: bool = True, indexer: bool | None = None
) -> FastAPI:
    """The FastAPI application.

    Args:
        ctx: the process context (default: from the environment, at start-up).
        migrate: bring the read model's schema up to date at start-up.
        indexer: run the indexer in this process (default: ``ETS_API_EMBEDDED_INDEXER``).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        context = ctx or AppContext.from_env()
        app.state.ctx = context
        # Routes run in anyio's worker threads. A few suffice (SQLite and the network release the
        # GIL while they wait); dozens only trade the GIL back and forth under load.
        to_thread.current_default_thread_limiter().total_tokens = context.settings.api_threads
        if migrate:
            upgrade(context.engine)
        app.state.market_streams = market_streams(context)
        if indexer if indexer is not None else context.settings.api_embedded_indexer:
            _start_indexer(app, context)
        yield
        app.state.market_streams.close()
        stop = getattr(app.state, "indexer_stop", None)
        if stop is not None:
            stop.set()
            app.state.indexer_thread.join(timeout=10)

    app = FastAPI(
        title="ETS Chain API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        responses={
            422: {
                "description": "Invalid request: a malformed body or parameter, or a call a contract refuses"
            }
        },
    )
    if ctx is not None:
        app.state.ctx = ctx
        if ctx.settings.cors_origins:
            app.add_middleware(CORSMiddleware, allow_origins=ctx.settings.cors_origins, allow_methods=["*"],
                               allow_headers=["*"])  # fmt: skip

    @app.exception_handler(EtsError)
    async def on_ets_error(_request: Request, exc: EtsError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return JSONResponse(
            {"error": "RequestValidationError", "message": "; ".join(problems)[:2000],
             "details": {"problems": problems[:50]}},
            status_code=422,
        )  # fmt: skip

    @app.exception_handler(StarletteHTTPException)
    async def on_http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": "HTTPException", "message": str(exc.detail)}, status_code=exc.status_code
        )

    # JSON pages, CSV exports and the dashboard's files go out gzip-compressed to clients that
    # accept it (the regulator overview: 536 kB of JSON); small answers are sent as they are.
    # oversized bodies and clients over their rate limits are refused before any route runs
    app.add_middleware(RequestGuard)
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_middleware(RequestLog)

    routers = (
        health,
        auth,
        participants,
        holdings,
        auctions,
        market,
        bulletin,
        attestations,
        compliance,
        batches,
        audit,
        stats,
        production,
        surveillance,
        plans,
        permits,
        reserve,
        review,
        accounts,
        alarms,
        statements,
        safe,
        cards,
        valve,
        tx,
    )
    for module in routers:
        app.include_router(module.router)
    mount_dashboard(app)
    return app


def app_from_env() -> FastAPI:
    """The application configured from the environment (``uvicorn api.main:app_from_env --factory``);
    with ``ETS_API_JSON_LOGS=1`` (as ``ets api --workers N`` sets) each process logs JSON lines."""
    if ApiSettings.load().api_json_logs:
        configure_logs()
    return create_app()
