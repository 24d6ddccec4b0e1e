"""Anchoring loop: cut queued readings into batches and anchor each on the EmissionsLedger exactly once.

Each :meth:`Anchorer.step`:

1. after a chain outage, *reconciles* first: every recently anchored batch is looked up
   on-chain, and one that is not there (a development chain restarted from an older state)
   goes back to CUT. A consortium chain with QBFT finality never needs this; it costs one call
   per batch after an outage only;
2. cuts each device's unbatched readings (``max_size`` at a time, or once the oldest waited
   ``max_age_seconds``);
3. for every pending batch, oldest first: a SUBMITTED batch whose transaction is mined is
   marked ANCHORED; a batch the ledger already holds (a re-send after a crash, another gateway)
   is marked ANCHORED with the transaction found on-chain and counted ``already_anchored``;
   any other is sent. All sends go out before any receipt is awaited, so one block carries many
   batches; the queue marks a batch ANCHORED only after its receipt.

A batch is never anchored twice: the id is deterministic, the ledger refuses a known id
(``LedgerBatchAlreadyAnchored``), and this loop asks before it sends. No batch reaches beyond
the ledger's ``MAX_SEQUENCE_SPAN`` (``max_span``, see :meth:`~oracle.queue.Queue.cut_batches`).

One device stuck never stops the others. A refusal for any other reason (the device is not
bound to this gateway's oracle key, ``LedgerOracleNotForDevice``; its sequences are blocked,
``LedgerSequenceReplayed`` / ``LedgerSequenceSpanTooLarge``; the device unbound) marks the
device *stuck*: logged at ERROR once, reported to ``on_stuck`` and in :attr:`AnchorStats.stuck`;
its batches wait (the ledger needs a device's sequences in order) and are tried again every
``stuck_retry_seconds`` (the regulator may fix the binding), while every other device's
batches are anchored as usual. The first anchoring that goes through clears the flag. A node
that does not answer (:class:`ConnectionError`) ends the step; the next one retries.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from oracle.queue import Batch, BatchStatus, Queue

__all__ = ["AnchorPort", "AnchorReceiptLike", "AnchorReport", "Anchorer", "StuckDevice"]

logger = logging.getLogger(__name__)


class AnchorReceiptLike(Protocol):
    """Where an anchoring transaction ended (``chain.anchoring.AnchorReceipt``)."""

    @property
    def tx_hash(self) -> bytes: ...
    @property
    def block(self) -> int: ...
    @property
    def ok(self) -> bool: ...


class AnchorPort(Protocol):
    """The EmissionsLedger as the anchoring loop needs it (``chain.anchoring.LedgerAnchorPort``).

    Every method raises :class:`ConnectionError` when the node does not answer.
    """

    def submit(self, batch: Batch) -> bytes:
        """Send the anchoring transaction; its hash. Raises on a refusal (with ``.error``)."""
        ...

    def wait(self, tx_hash: bytes, timeout: float) -> AnchorReceiptLike | None:
        """The receipt within ``timeout`` seconds, else ``None``."""
        ...

    def receipt(self, tx_hash: bytes) -> AnchorReceiptLike | None:
        """The receipt if mined, else ``None``."""
        ...

    def find(self, batch_id: bytes) -> AnchorReceiptLike | None:
        """The successful anchoring of ``batch_id`` on-chain, else ``None``."""
        ...


@dataclass
class AnchorReport:
    """What one step did."""

    cut: int = 0
    sent: int = 0
    anchored: int = 0
    already_anchored: int = 0
    reopened: int = 0
    refused: int = 0
    chain_unavailable: bool = False


@dataclass(frozen=True)
class StuckDevice:
    """A device whose batches the ledger refuses (see the module docstring).

    Attributes:
        reason: the ledger's error name (``LedgerOracleNotForDevice`` ...).
        message: the refusal as reported.
        first_sequence: where the refused batch starts; anchoring it (or a later batch) clears
            the flag, an earlier batch still in flight does not.
        since: when it was first refused (unix seconds).
        retry_at: when its batches are tried again (unix seconds).
    """

    reason: str
    message: str
    first_sequence: int
    since: float
    retry_at: float


@dataclass
class AnchorStats:
    """Totals over the anchorer's life (counters only grow; ``stuck`` is the current set)."""

    steps: int = 0
    batches_cut: int = 0
    batches_sent: int = 0
    batches_anchored: int = 0
    readings_anchored: int = 0
    already_anchored: int = 0
    reopened: int = 0
    outages: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    stuck: dict[str, StuckDevice] = field(default_factory=dict)

    def snapshot(self) -> dict[str, object]:
        """A JSON-safe copy."""
        out: dict[str, object] = {
            k: (dict(v) if isinstance(v, Counter) else v) for k, v in self.__dict__.items() if k != "stuck"
        }
        out["stuck"] = {device: s.reason for device, s in self.stuck.items()}
        return out


class Anchorer:
    """Cuts and anchors the queue's batches (see the module docstring).

    Args:
        queue: the durable queue.
        port: the ledger.
        max_size: most readings in a batch.
        max_age_seconds: longest a reading waits before its partial batch is cut.
        enterprises: device address → enterprise, recorded on the batches (or a callable
            returning that mapping, read at each cut).
        receipt_timeout: seconds to wait for the receipts of one step's sends.
        reconcile_window: how many of the latest anchored batches a reconciliation checks.
        max_span: the ledger's ``MAX_SEQUENCE_SPAN``; no batch is cut beyond it.
        stuck_retry_seconds: how long a stuck device's batches wait before they are tried again.
        on_stuck: called with (device address, reason) when a device becomes stuck.
        clock: the gateway's clock (unix seconds), for the retry delay.
    """

    def __init__(
        self,
        queue: Queue,
        port: AnchorPort,
        *,
        max_size: int = 1024,
        max_age_seconds: float = 60.0,
        enterprises: Mapping[str, str] | None = None,
        receipt_timeout: float = 60.0,
        reconcile_window: int = 1000,
        max_span: int | None = None,
        stuck_retry_seconds: float = 60.0,
        on_stuck: Callable[[str, str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.queue = queue
        self.port = port
        self.max_size = max_size
        self.max_age_seconds = max_age_seconds
        self.enterprises = dict(enterprises or {})
        self.receipt_timeout = receipt_timeout
        self.reconcile_window = reconcile_window
        self.max_span = max_span
        self.stuck_retry_seconds = stuck_retry_seconds
        self._on_stuck = on_stuck
        self._clock = clock
        self.stats = AnchorStats()
        self._reconcile = True  # a (re)start is like the end of an outage
        self._lock = threading.Lock()

    def request_reconcile(self) -> None:
        """Check recently anchored batches on-chain at the next step (e.g. after a node restart)."""
        self._reconcile = True

    # --- one step ---

    def step(self, now: float | None = None, *, flush: bool = False) -> AnchorReport:
        """Reconcile if needed, cut, and anchor every pending batch.

        Args:
            now: the gateway's clock for the age rule (default: now).
            flush: cut every device's remainder whatever its age.

        Never raises for a node that does not answer: the report says ``chain_unavailable``.
        """
        report = AnchorReport()
        with self._lock:
            self.stats.steps += 1
            try:
                if self._reconcile:
                    report.reopened = self._reconcile_anchored()
                    self._reconcile = False
                cut = self.queue.cut_batches(
                    self.max_size,
                    0.0 if flush else self.max_age_seconds,
                    now,
                    enterprises=self.enterprises,
                    max_span=self.max_span,
                )
                report.cut = len(cut)
                self.stats.batches_cut += len(cut)
                self._anchor_pending(report)
            except ConnectionError as error:
                report.chain_unavailable = True
                self._reconcile = True
                self.stats.outages += 1
                logger.warning("chain unavailable, will retry: %s", error)
        return report

    def _reconcile_anchored(self) -> int:
        anchored = self.queue.batches(BatchStatus.ANCHORED)[-self.reconcile_window :]
        reopened = 0
        for batch in anchored:
            if self.port.find(batch.batch_id) is None:
                self.queue.reopen(batch.batch_id)
                reopened += 1
        if reopened:
            self.stats.reopened += reopened
            logger.warning("%d anchored batches were not on-chain and are pending again", reopened)
        return reopened

    @property
    def stuck(self) -> dict[str, StuckDevice]:
        """Device address → why the ledger refuses its batches (see the module docstring)."""
        return dict(self.stats.stuck)

    def _anchor_pending(self, report: AnchorReport) -> None:
        clock = self._clock()
        blocked = {device for device, s in self.stats.stuck.items() if s.retry_at > clock}
        in_flight: list[tuple[Batch, bytes]] = []
        for batch in self.queue.pending_batches():
            if batch.device in blocked:
                continue
            if batch.status is BatchStatus.SUBMITTED and batch.tx_hash is not None:
                mined = self.port.receipt(batch.tx_hash)
                if mined is not None and mined.ok:
                    self._anchored(batch, mined, report)
                    continue
            found = self.port.find(batch.batch_id)
            if found is not None:
                self._anchored(batch, found, report)
                report.already_anchored += 1
                self.stats.already_anchored += 1
                logger.info("batch found on-chain already", extra={"batch_id": _hex(batch.batch_id)})
                continue
            try:
                tx_hash = self.port.submit(batch)
            except ConnectionError:
                raise
            except Exception as error:  # a refusal: the port's revert error names it
                name = str(getattr(error, "error", type(error).__name__))
                if name == "LedgerBatchAlreadyAnchored":
                    # An earlier send was mined between the look-up and this send: record it
                    # now if the node shows it, else the next step finds it.
                    found = self.port.find(batch.batch_id)
                    if found is not None:
                        self._anchored(batch, found, report)
                        report.already_anchored += 1
                        self.stats.already_anchored += 1
                    continue
                self._refused(batch, name, str(error), report)
                blocked.add(batch.device)
                continue
            self.queue.mark_submitted(batch.batch_id, tx_hash)
            in_flight.append((batch, tx_hash))
            report.sent += 1
            self.stats.batches_sent += 1
        for batch, tx_hash in in_flight:
            mined = self.port.wait(tx_hash, self.receipt_timeout)
            if mined is None:
                logger.warning("no receipt yet; will check again", extra={"batch_id": _hex(batch.batch_id)})
            elif mined.ok:
                self._anchored(batch, mined, report)
            else:
                self._refused(batch, "reverted", f"transaction {_hex(tx_hash)} reverted", report)

    def _anchored(self, batch: Batch, receipt: AnchorReceiptLike, report: AnchorReport) -> None:
        self.queue.mark_anchored(batch.batch_id, receipt.tx_hash, receipt.block)
        report.anchored += 1
        self.stats.batches_anchored += 1
        self.stats.readings_anchored += batch.count
        stuck = self.stats.stuck.get(batch.device)
        if stuck is not None and batch.first_sequence >= stuck.first_sequence:
            del self.stats.stuck[batch.device]
            logger.warning("device anchoring resumed", extra={"device": batch.device})

    def _refused(self, batch: Batch, name: str, message: str, report: AnchorReport) -> None:
        report.refused += 1
        self.stats.refused[name] += 1
        now = self._clock()
        known = self.stats.stuck.get(batch.device)
        self.stats.stuck[batch.device] = StuckDevice(
            name,
            message,
            batch.first_sequence,
            now if known is None else known.since,
            now + self.stuck_retry_seconds,
        )
        extra = {"batch_id": _hex(batch.batch_id), "device": batch.device, "reason": name}
        if known is not None and known.reason == name:
            logger.info("ledger still refuses the device's batches: %s", name, extra=extra)
            return
        logger.error(
            "ledger refused batch: %s: %s; the device's batches wait, the other devices go on",
            name,
            message,
            extra=extra,
        )
        if self._on_stuck is not None:
            self._on_stuck(batch.device, name)

    # --- loop ---

    def run(self, stop: threading.Event, *, interval: float = 1.0, on_step: Any = None) -> None:
        """Step every ``interval`` seconds until ``stop`` is set, then flush once more.

        Args:
            stop: set it to end the loop.
            interval: seconds between steps (longer after an outage, up to 30 s).
            on_step: called with each :class:`AnchorReport`.
        """
        delay = interval
        while not stop.is_set():
            try:
                report = self.step()
            except Exception:  # the loop outlives any one failure: log it, back off, try again
                logger.exception("anchoring step failed; will retry")
                self._reconcile = True
                report = AnchorReport(chain_unavailable=True)
            if on_step is not None:
                on_step(report)
            delay = min(delay * 2, 30.0) if report.chain_unavailable else interval
            stop.wait(delay)
        try:
            final = self.step(flush=True)
        except Exception:
            logger.exception("final anchoring step failed; what is left stays queued")
            return
        if on_step is not None:
            on_step(final)


def _hex(raw: bytes) -> str:
    return "0x" + raw.hex()
