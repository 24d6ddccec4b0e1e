"""The indexer's loop: pages of blocks behind the confirmation depth, each page's events and
its checkpoint committed in one transaction, so a restart resumes without loss or duplicates."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import CursorResult, Engine, func, insert, select, update

from chain.deploy import Manifest
from chain.errors import IndexerError
from chain.events import EventSource
from chain.tx import ChainClient
from readmodel import models as m
from readmodel.indexer.project import Projector
from readmodel.indexer.readings import import_readings
from readmodel.models import CHECKPOINT

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexerStatus:
    """Where the indexer stands.

    Attributes:
        head: the chain's latest block.
        target: the newest block deep enough to index (head − confirmations).
        indexed: the last block indexed (−1: none yet).
        events: events in the read model.
    """

    head: int
    target: int
    indexed: int
    events: int

    @property
    def lag(self) -> int:
        """Blocks the read model is behind the chain's head."""
        return max(self.head - self.indexed, 0)


@dataclass(frozen=True)
class StepResult:
    """What one page did: blocks ``from_block``..``to_block`` and the events they held."""

    from_block: int
    to_block: int
    events: int


class Indexer:
    """Follows every contract of a deployment into the read model.

    Args:
        chain: the chain gateway.
        manifest: the deployment (addresses, deployment blocks, chain id).
        engine: the read model (migrated).
        confirmations: blocks an event must be buried under before it is indexed.
        page_blocks: blocks fetched per query.
        oracle_queues: oracle gateway queue files whose anchored readings are imported once the
            indexer has caught up (readings are off-chain; their batches are on-chain).
        on_commit: called with each page's result right after its transaction commits (in the
            indexer's thread; e.g. the API's market streams wake on it); its errors are logged,
            never stop indexing.
    """

    def __init__(
        self,
        chain: ChainClient,
        manifest: Manifest,
        engine: Engine,
        *,
        confirmations: int = 0,
        page_blocks: int = 2_000,
        oracle_queues: Sequence[Path] = (),
        on_commit: Callable[[StepResult], None] | None = None,
    ) -> None:
        if confirmations < 0 or page_blocks < 1:
            raise ValueError("confirmations must be >= 0 and page_blocks >= 1")
        self.chain = chain
        self.manifest = manifest
        self.engine = engine
        self.confirmations = confirmations
        self.page_blocks = page_blocks
        self.oracle_queues = list(oracle_queues)
        self.on_commit = on_commit
        contracts = {name: record.address for name, record in manifest.contracts.items()}
        self.source = EventSource(chain, contracts)
        auction = manifest.contracts.get("SealedBidAuction")
        self.projector = Projector(
            system=list(self.source.addresses), auction_house=auction.address if auction else None
        )
        self.start_block = min((r.block for r in manifest.contracts.values()), default=0)
        self._identity_checked = False

    # ------------------------------------------------------------------ bookkeeping

    def _identity(self) -> dict[str, str]:
        registry = self.manifest.contracts.get("ConsortiumRegistry")
        return {
            "chain_id": str(self.manifest.chain_id),
            "registry": registry.address if registry else "",
        }

    def check_identity(self) -> None:
        """Claim an empty read model for this deployment, or check it belongs to it.

        Raises:
            IndexerError: the read model was built from another chain or deployment.
        """
        if self._identity_checked:
            return
        wanted = self._identity()
        with self.engine.begin() as conn:
            stored = {str(k): str(v) for k, v in conn.execute(select(m.Meta.key, m.Meta.value))}
            for key, value in wanted.items():
                if key not in stored:
                    conn.execute(insert(m.Meta).values(key=key, value=value))
                elif stored[key] != value:
                    raise IndexerError(
                        f"the read model belongs to {key} {stored[key]}, not {value}: "
                        "point ETS_DATABASE_URL at another database or run `ets index reset`"
                    )
        self._identity_checked = True

    def checkpoint(self) -> tuple[int, str] | None:
        """(block, hash) of the last indexed block, or None before the first page."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(m.Checkpoint.block_number, m.Checkpoint.block_hash).where(
                    m.Checkpoint.name == CHECKPOINT
                )
            ).first()
        return None if row is None else (int(row[0]), str(row[1]))

    def status(self) -> IndexerStatus:
        """Head, target, last indexed block and event count."""
        head = self.source.head()
        point = self.checkpoint()
        with self.engine.connect() as conn:
            events = int(conn.execute(select(func.count()).select_from(m.Event)).scalar_one())
        return IndexerStatus(
            head=head,
            target=max(head - self.confirmations, -1),
            indexed=-1 if point is None else point[0],
            events=events,
        )

    # ------------------------------------------------------------------ indexing

    def step(self) -> StepResult | None:
        """Index the next page of confirmed blocks; None when there is nothing new.

        Raises:
            IndexerError: the chain no longer has the checkpoint's block (reset or
                reorganised below the confirmation depth), or another deployment's read model.
            ChainUnavailableError: the node does not answer (retry later).
        """
        self.check_identity()
        target = self.source.head() - self.confirmations
        point = self.checkpoint()
        if point is not None:
            number, stored_hash = point
            if number > target + self.confirmations or self.source.block_hash(number) != stored_hash:
                raise IndexerError(
                    f"block {number} indexed as {stored_hash} is no longer on the chain (was it reset?); "
                    "run `ets index reset` to rebuild the read model"
                )
        start = self.start_block if point is None else point[0] + 1
        if start > target:
            return None
        end = min(start + self.page_blocks - 1, target)
        page = self.source.fetch(start, end)
        with self.engine.begin() as conn:
            self.projector.apply(conn, page.events)
            now = int(time.time())
            values = {"block_number": end, "block_hash": page.to_block_hash, "updated_at": now}
            updated: CursorResult[Any] = conn.execute(
                update(m.Checkpoint).where(m.Checkpoint.name == CHECKPOINT).values(**values)
            )
            if not updated.rowcount:
                conn.execute(insert(m.Checkpoint).values(name=CHECKPOINT, **values))
        logger.info("indexed", extra={"from_block": start, "to_block": end, "events": len(page.events)})
        result = StepResult(start, end, len(page.events))
        if self.on_commit is not None:
            try:
                self.on_commit(result)
            except Exception:  # a listener's failure is its own: the page is committed
                logger.exception("indexer commit listener failed", extra={"to_block": end})
        return result

    def catch_up(self, on_step: Callable[[StepResult, int], None] | None = None) -> int:
        """Index every confirmed block; returns the number of events indexed.

        Args:
            on_step: called after each page with its result and the target block (progress).
        """
        total = 0
        while True:
            result = self.step()
            if result is None:
                return total
            total += result.events
            if on_step is not None:
                on_step(result, self.source.head() - self.confirmations)

    def run(self, stop: threading.Event, poll_seconds: float = 1.0) -> None:
        """Follow the chain until ``stop`` is set; node outages are logged and retried."""
        while not stop.is_set():
            try:
                caught_up = self.step() is None
            except IndexerError:
                logger.exception("indexer stopped")
                raise
            except Exception:  # a node restart, a dropped connection: try again next poll
                logger.exception("indexer step failed; retrying")
                caught_up = True
            if caught_up:
                self.import_readings()
                stop.wait(poll_seconds)

    def import_readings(self) -> None:
        """Import the anchored readings of the configured oracle queues (errors are logged)."""
        if not self.oracle_queues:
            return
        try:
            result = import_readings(self.engine, self.oracle_queues)
        except Exception:  # a queue being written, a file gone: next poll
            logger.exception("readings import failed; retrying")
            return
        if result.readings:
            logger.info("readings imported", extra={"batches": result.batches, "readings": result.readings})


def backfill_with_progress(indexer: Indexer) -> int:
    """:meth:`Indexer.catch_up` with a rich progress bar of blocks; returns events indexed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    point = indexer.checkpoint()
    first = indexer.start_block if point is None else point[0] + 1
    target = indexer.source.head() - indexer.confirmations
    with Progress(
        TextColumn("[bold]indexing blocks"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[events]} events"),
        TimeRemainingColumn(),
    ) as progress:
        task = progress.add_task("blocks", total=max(target - first + 1, 0), events=0)
        events = 0

        def on_step(result: StepResult, new_target: int) -> None:
            nonlocal events
            events += result.events
            progress.update(
                task,
                total=max(new_target - first + 1, 0),
                completed=result.to_block - first + 1,
                events=events,
            )

        return indexer.catch_up(on_step)
