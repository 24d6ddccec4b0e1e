"""``ets api`` (the HTTP API under uvicorn) and ``ets index`` (the read model: migrate, backfill,
follow, status, reset)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ets.cli.context import context
from ets.cli.options import cli_errors

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from api.config import ApiSettings
    from readmodel.indexer.run import Indexer

index_app: typer.Typer = typer.Typer(
    help="The read model the API serves: migrate, index, status.", no_args_is_help=True
)


def _api_settings() -> ApiSettings:
    from api.config import ApiSettings

    return ApiSettings.load()


def _engine() -> Engine:
    from readmodel.session import make_engine

    return make_engine(_api_settings().database(context().settings))


def _indexer() -> Indexer:
    from readmodel.indexer.run import Indexer
    from readmodel.migrate import upgrade

    chain, manifest = context().deployment()
    settings = _api_settings()
    engine = _engine()
    upgrade(engine)
    return Indexer(
        chain,
        manifest,
        engine,
        confirmations=settings.indexer_confirmations,
        page_blocks=settings.indexer_page_blocks,
        oracle_queues=settings.oracle_queues,
    )


def api(
    host: Annotated[str | None, typer.Option(help="Address to bind (default ETS_API_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default ETS_API_PORT).")] = None,
    indexer: Annotated[bool, typer.Option(help="Run the indexer inside the API process.")] = True,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="API processes (one per core; more than one: run `ets index run "
            "--follow` beside them, the workers do not index).",
        ),
    ] = 1,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs) with JSON logs; the read model is migrated first."""
    cli_errors(_serve)(host, port, indexer, workers)


def _serve(host: str | None, port: int | None, indexer: bool, workers: int) -> None:
    import os

    import uvicorn

    from api.context import AppContext
    from api.logs import configure
    from api.main import create_app
    from readmodel.migrate import upgrade

    configure()
    settings = _api_settings()
    if host is not None:
        settings.api_host = host
    if port is not None:
        settings.api_port = port
    settings.check()  # --host 0.0.0.0 needs ETS_API_DOMAIN, as ETS_API_HOST=0.0.0.0 does
    ctx = AppContext.from_env(settings, context().settings)
    context().console.print(
        f"ETS Chain API on http://{settings.api_host}:{settings.api_port} (docs at /docs)"
    )
    if workers == 1:
        uvicorn.run(create_app(ctx, indexer=indexer), host=settings.api_host, port=settings.api_port,
                    log_config=None, access_log=False,
                    timeout_graceful_shutdown=settings.api_shutdown_seconds)  # fmt: skip
        return
    # several processes: each builds its app from the environment; the schema is migrated here,
    # once, and the indexer runs as its own process (`ets index run --follow`)
    upgrade(ctx.engine)
    ctx.engine.dispose()
    if indexer:
        context().console.print(
            "[yellow]--workers > 1: the workers do not index; run `ets index run --follow`[/]"
        )
    os.environ["ETS_API_EMBEDDED_INDEXER"] = "0"
    os.environ["ETS_API_JSON_LOGS"] = "1"
    if settings.api_domain is None:
        os.environ["ETS_API_DOMAIN"] = f"{settings.api_host}:{settings.api_port}"
    uvicorn.run("api.main:app_from_env", factory=True, workers=workers, host=settings.api_host,
                port=settings.api_port, log_config=None, access_log=False,
                timeout_graceful_shutdown=settings.api_shutdown_seconds)  # fmt: skip


@index_app.command("migrate")
@cli_errors
def index_migrate() -> None:
    """Create or upgrade the read model's schema (Alembic)."""
    from readmodel.migrate import current_revision, upgrade

    engine = _engine()
    upgrade(engine)
    context().console.print(
        f"read model at revision {current_revision(engine)} ({engine.url.render_as_string()})"
    )


@index_app.command("run")
@cli_errors
def index_run(
    follow: Annotated[bool, typer.Option(help="Keep following new blocks after catching up.")] = False,
) -> None:
    """Index every confirmed block (with a progress bar); with --follow, keep going."""
    from readmodel.indexer.run import backfill_with_progress

    indexer = _indexer()
    events = backfill_with_progress(indexer)
    indexer.import_readings()
    status = indexer.status()
    context().console.print(
        f"indexed {events:,} events; block {status.indexed} of {status.head} (lag {status.lag})"
    )
    if follow:
        stop = threading.Event()
        try:
            indexer.run(stop, _api_settings().indexer_poll_seconds)
        except KeyboardInterrupt:
            stop.set()


@index_app.command("readings")
@cli_errors
def index_readings(
    queues: Annotated[list[Path], typer.Argument(help="Oracle gateway queue files (SQLite).")],
) -> None:
    """Import the signed readings of anchored, indexed batches from oracle queues (idempotent)."""
    from readmodel.indexer.readings import import_readings

    result = import_readings(_engine(), queues)
    context().console.print(f"{result.readings:,} readings of {result.batches:,} batches imported; "
                  f"{result.present:,} batches already there, {result.skipped:,} skipped")  # fmt: skip


@index_app.command("energy")
@cli_errors
def index_energy(
    path: Annotated[
        Path, typer.Argument(help="Monthly energy CSV (enterprise_id/address, year, month, carriers).")
    ],
    enterprises: Annotated[
        Path | None, typer.Option(help="enterprises.csv mapping enterprise_id to credit code.")
    ] = None,
) -> None:
    """Import monthly energy use into the statistics (tce); re-importing a file replaces its months."""
    from chain.onboarding import read_credit_codes
    from readmodel.indexer.energy import import_energy

    codes = read_credit_codes(enterprises) if enterprises is not None else None
    result = import_energy(_engine(), path, credit_codes=codes)
    context().console.print(result)


@index_app.command("status")
@cli_errors
def index_status(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Chain head, last indexed block, lag and events in the read model."""
    ctx = context()
    status = _indexer().status()
    data = {"head": status.head, "target": status.target, "indexed": status.indexed, "lag": status.lag,
            "events": status.events}  # fmt: skip
    if as_json:
        ctx.print_json(data)
    else:
        ctx.console.print(", ".join(f"{k} {v:,}" for k, v in data.items()))


@index_app.command("reset")
@cli_errors
def index_reset(yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False) -> None:
    """Drop the read model and create it empty (the next `ets index run` rebuilds it from the chain)."""
    from sqlalchemy import text

    from readmodel.migrate import upgrade
    from readmodel.models import Base

    engine = _engine()
    if not yes:
        typer.confirm(f"Drop every table of {engine.url.render_as_string()}?", abort=True)
    Base.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(engine)
    context().console.print("read model reset")
