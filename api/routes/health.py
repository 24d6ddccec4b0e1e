"""Health: the chain, the read model and how far the indexer lags behind the chain's head."""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.deps import Ctx
from readmodel import models as m
from readmodel.migrate import current_revision, head_revision

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


class ChainHealth(BaseModel):
    ok: bool
    chain_id: int | None = None
    head: int | None = None
    error: str | None = None


class DatabaseHealth(BaseModel):
    ok: bool
    dialect: str
    revision: str | None = None
    error: str | None = None


class IndexerHealth(BaseModel):
    ok: bool
    indexed_block: int | None = Field(default=None, description="Last block in the read model")
    lag_blocks: int | None = Field(default=None, description="Chain head minus the last indexed block")
    lag_seconds: int | None = Field(default=None, description="Age of the checkpoint's last update")
    running: bool = Field(description="An indexer runs inside this API process")


class Health(BaseModel):
    """Whether the API can serve: 200 when everything is up, 503 otherwise (same body)."""

    status: str = Field(examples=["ok", "degraded"])
    chain: ChainHealth
    database: DatabaseHealth
    indexer: IndexerHealth


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
def health(ctx: Ctx, request: Request, response: Response) -> Health:
    """Chain head, database revision and indexer lag."""
    chain = ChainHealth(ok=False)
    try:
        head = int(ctx.chain.rpc("eth_blockNumber", []), 16)
        chain = ChainHealth(ok=True, chain_id=ctx.chain.chain_id, head=head)
    except Exception as exc:  # the node is down: report it, do not fail the probe
        chain.error = type(exc).__name__
    database = DatabaseHealth(ok=False, dialect=ctx.engine.dialect.name)
    point = None
    try:
        revision = current_revision(ctx.engine)
        database = DatabaseHealth(
            ok=revision == head_revision(), dialect=ctx.engine.dialect.name, revision=revision
        )
        with ctx.engine.connect() as conn:
            point = conn.execute(
                select(m.Checkpoint.block_number, m.Checkpoint.updated_at).where(
                    m.Checkpoint.name == "events"
                )
            ).first()
    except Exception as exc:
        database.error = type(exc).__name__
    thread = getattr(request.app.state, "indexer_thread", None)
    indexer = IndexerHealth(ok=False, running=bool(thread and thread.is_alive()))
    if point is not None:
        lag = None if chain.head is None else max(chain.head - int(point[0]), 0)
        indexer = IndexerHealth(
            ok=lag is not None and lag <= max(ctx.settings.indexer_confirmations, 0) + 5,
            indexed_block=int(point[0]), lag_blocks=lag, running=indexer.running,
            lag_seconds=max(int(time.time()) - int(point[1]), 0),
        )  # fmt: skip
    ok = chain.ok and database.ok and indexer.ok
    response.status_code = 200 if ok else 503
    return Health(status="ok" if ok else "degraded", chain=chain, database=database, indexer=indexer)
