"""Compliance alarms: follow notices on-chain, raise overdue and reminder alarms, deliver them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chain.compliance import ComplianceClient, ObligationStatus
from domain.compliance import Outcome
from domain.tokens import POLLUTANT_SYMBOLS
from scheduler.alarms import Alarm, AlarmDraft, AlarmKind, AlarmStore, NoticeRecord, utc
from scheduler.config import SchedulerSettings
from scheduler.delivery import DeliveryResult, deliver_pending
from scheduler.errors import SchedulerConfigError
from scheduler.notify import Notifier, build_notifiers

logger = logging.getLogger(__name__)

__all__ = [
    "CONTRACT",
    "EVENTS",
    "Clock",
    "ComplianceAlarms",
    "DeliveryResult",
    "ScanReport",
    "chain_clock",
]

DAY = 24 * 3600
#: The watched contract, by its manifest name (the checkpoint's name).
CONTRACT = "ComplianceManager"
#: Events the scan follows.
EVENTS = ("NoticeIssued", "NoticeAcknowledged", "ApplicationApproved", "ObligationFinalized")

#: Returns "now" in unix seconds; the scheduler judges deadlines by it.
Clock = Callable[[], int]


def chain_clock(client: ComplianceClient) -> Clock:
    """The latest block's timestamp: the contract judges deadlines by block time.

    On an idle development chain that mines only on transactions, block time lags wall time.
    """
    return client.chain.timestamp


def _span(seconds: int) -> str:
    if seconds % DAY == 0:
        return f"{seconds // DAY} d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds} s"


@dataclass(frozen=True)
class ScanReport:
    """What one scan did.

    Attributes:
        now: the clock's time the scan judged deadlines by.
        from_block: first block scanned for events.
        to_block: last block scanned (``to_block < from_block``: nothing new).
        events: contract events applied.
        raised: alarms raised by this scan.
        deliveries: delivery attempts of this scan (of new and earlier alarms).
    """

    now: int
    from_block: int
    to_block: int
    events: int
    raised: tuple[Alarm, ...]
    deliveries: tuple[DeliveryResult, ...]

    @property
    def failed(self) -> tuple[DeliveryResult, ...]:
        return tuple(d for d in self.deliveries if not d.delivered)


class ComplianceAlarms:
    """Raises and delivers the alarms of the compliance cycle.

    A notice is one obligation, keyed by (enterprise, pollutant, year): an enterprise owing two
    pollutants in a year has two notices, and an alarm of each.

    * **Acknowledgement overdue**: a notice not acknowledged when ``now`` is past its on-chain
      acknowledgement deadline (the contract marks an acknowledgement late when it is after the
      deadline), while its obligation is open. One per notice.
    * **Submission reminder**: an obligation still open (no approval covering it, no outcome)
      when ``now`` is within a lead time of its submission deadline and not past it. One per
      notice and lead; when several leads have opened since the last scan, only the shortest
      is raised (no burst of stale reminders).

    Every alarm is stored once (see :class:`~scheduler.alarms.AlarmStore`) with a pending
    delivery per notifier configured when it is raised; each scan tries the pending deliveries.

    Args:
        client: the ComplianceManager client; its ``from_block`` is where the first scan starts.
        store: the alarm store.
        notifiers: delivery channels (names must be distinct: :class:`SchedulerConfigError`).
        reminder_leads: lead times before the submission deadline, in seconds.
        clock: "now" in unix seconds (default: :func:`chain_clock`).
        max_block_range: most blocks per event query.
        max_attempts: delivery attempts per alarm and channel before giving up.
        confirmations: blocks left unscanned at the head (0 on QBFT, which has finality).
    """

    def __init__(
        self,
        client: ComplianceClient,
        store: AlarmStore,
        notifiers: Sequence[Notifier],
        *,
        reminder_leads: Sequence[int] = (7 * DAY, DAY),
        clock: Clock | None = None,
        max_block_range: int = 5_000,
        max_attempts: int = 20,
        confirmations: int = 0,
    ) -> None:
        names = [n.name for n in notifiers]
        if len(set(names)) != len(names):
            raise SchedulerConfigError(f"notifier names must be distinct, got {names}")
        self.client = client
        self.store = store
        self.notifiers = tuple(notifiers)
        self.reminder_leads = tuple(sorted({int(lead) for lead in reminder_leads if lead > 0}, reverse=True))
        self.clock = clock or chain_clock(client)
        self.max_block_range = max_block_range
        self.max_attempts = max_attempts
        self.confirmations = confirmations
        self._lock = threading.Lock()

    @classmethod
    def from_settings(
        cls,
        client: ComplianceClient,
        settings: SchedulerSettings,
        state_dir: Path,
        *,
        clock: Clock | None = None,
        notifiers: Sequence[Notifier] | None = None,
        confirmations: int = 0,
    ) -> ComplianceAlarms:
        """Alarms as ``settings`` configure them (store URL, channels, leads, limits).

        Raises:
            SchedulerConfigError: invalid settings (e.g. SMS recipients without SMS enabled).
            AlarmStoreError: the alarm database cannot be opened.
        """
        chosen = build_notifiers(settings) if notifiers is None else notifiers
        return cls(
            client, AlarmStore(settings.database(state_dir)), chosen, reminder_leads=settings.reminder_leads,
            clock=clock, max_block_range=settings.max_block_range, max_attempts=settings.max_attempts,
            confirmations=confirmations,
        )  # fmt: skip

    # ------------------------------------------------------------------ the scan

    def scan(self, now: int | None = None) -> ScanReport:
        """Follow new events, raise what is due at ``now`` (default: the clock), deliver what is pending.

        Scans never overlap within a process; an alarm raised or delivered before (by this or an
        earlier process on the same database) is neither raised nor delivered again.

        Raises:
            ChainError: the chain could not be read (nothing is lost: the next scan resumes).
            AlarmStoreError: the alarm database failed.
        """
        with self._lock:
            at = self.clock() if now is None else int(now)
            first, last, events = self.sync()
            raised = self.evaluate(at)
            deliveries = self.deliver(at)
        report = ScanReport(at, first, last, events, tuple(raised), tuple(deliveries))
        blocks = f"blocks {first}..{last}" if last >= first else "no new block"
        logger.info(
            "scan at %s: %s, %d events, %d alarms raised, %d deliveries (%d failed)",
            utc(at), blocks, events, len(raised), len(deliveries), len(report.failed),
        )  # fmt: skip
        return report

    def sync(self) -> tuple[int, int, int]:
        """Apply the contract's events since the checkpoint to the store's notices.

        Returns:
            ``(first block, last block, events applied)``.
        """
        done = self.store.checkpoint(CONTRACT, self.client.address)
        first = self.client.from_block if done is None else done + 1
        head = self.client.latest_block() - self.confirmations
        count = 0
        for lo in range(first, head + 1, self.max_block_range):
            hi = min(lo + self.max_block_range - 1, head)
            count += self._apply(self.client.events_between(lo, hi, EVENTS), hi)
        return first, head, count

    def _apply(self, rows: Sequence[dict[str, Any]], to_block: int) -> int:
        notices: dict[tuple[str, int, int], NoticeRecord] = {}
        acknowledged: list[tuple[str, int, int, int]] = []
        closed: list[tuple[str, int, int, int]] = []
        for row in rows:
            args = row["args"]
            key = (str(args["enterprise"]), int(args["pollutant"]), int(args["year"]))
            name = row["event"]
            if name == "NoticeIssued":
                notices[key] = NoticeRecord(key[0], key[2], key[1], int(args["ackDeadline"]),
                                            int(args["submissionDeadline"]))  # fmt: skip
            elif name == "NoticeAcknowledged":
                acknowledged.append((*key, int(args["acknowledgedAt"])))
            elif name == "ObligationFinalized":
                closed.append((*key, int(args["outcome"])))
            elif name == "ApplicationApproved" and int(args["uncovered"]) == 0:
                closed.append((*key, int(Outcome.COVERED)))
        for key in {(e, p, y) for e, p, y, _ in (*acknowledged, *closed)} - notices.keys():
            if self.store.notice(*key) is None:  # issued before the first block scanned
                notices[key] = self._fetch(*key)
        self.store.record(CONTRACT, self.client.address, to_block, notices=list(notices.values()),
                          acknowledged=acknowledged, closed=closed)  # fmt: skip
        return len(rows)

    def _fetch(self, enterprise: str, pollutant: int, year: int) -> NoticeRecord:
        view = self.client.notice(enterprise, pollutant, year)
        outcome = int(view.outcome) if view.outcome is not Outcome.NONE else None
        if outcome is None and view.status is ObligationStatus.FULFILLED:
            outcome = int(Outcome.COVERED)
        return NoticeRecord(
            view.enterprise, year, view.pollutant, view.ack_deadline, view.submission_deadline,
            view.acknowledged_at or None, outcome,
        )  # fmt: skip

    def due(self, notice: NoticeRecord, now: int) -> list[AlarmDraft]:
        """The alarms ``notice`` calls for at ``now`` (raised or not)."""
        if not notice.open:
            return []
        drafts: list[AlarmDraft] = []
        symbol = POLLUTANT_SYMBOLS.get(notice.pollutant, f"P{notice.pollutant}")
        who = f"{notice.enterprise} ({symbol} {notice.year})"
        if notice.acknowledged_at is None and now > notice.ack_deadline:
            text = f"notice to {who} not acknowledged; deadline {utc(notice.ack_deadline)} passed"
            drafts.append(self._draft(AlarmKind.ACK_OVERDUE, notice, "", notice.ack_deadline, text))
        deadline = notice.submission_deadline
        opened = [lead for lead in self.reminder_leads if deadline - lead <= now <= deadline]
        if opened:
            lead = min(opened)
            text = f"obligation of {who} open; submission deadline {utc(deadline)} ({_span(lead)} reminder)"
            drafts.append(self._draft(AlarmKind.SUBMISSION_REMINDER, notice, str(lead), deadline, text))
        return drafts

    @staticmethod
    def _draft(kind: AlarmKind, notice: NoticeRecord, key: str, due_at: int, text: str) -> AlarmDraft:
        return AlarmDraft(kind, notice.enterprise, notice.year, notice.pollutant, key, due_at, text)

    def evaluate(self, now: int) -> list[Alarm]:
        """Raise the alarms due at ``now`` that were not raised before; returns the new ones."""
        channels = [n.name for n in self.notifiers]
        raised: list[Alarm] = []
        for notice in self.store.notices(open_only=True):
            for draft in self.due(notice, now):
                alarm = self.store.raise_alarm(draft, channels, now)
                if alarm is not None:
                    raised.append(alarm)
                    logger.info("alarm raised", extra={"enterprise": alarm.enterprise, "year": alarm.year,
                                                       "pollutant": alarm.pollutant,
                                                       "kind": str(alarm.kind)})  # fmt: skip
        return raised

    def deliver(self, now: int) -> list[DeliveryResult]:
        """Try every pending delivery (:func:`scheduler.delivery.deliver_pending`)."""
        return deliver_pending(self.store, self.notifiers, now, max_attempts=self.max_attempts)
