"""The oracle gateway's frame path: quality control, device signatures, quota, durable queueing.

One :class:`Gateway` serves a site's controllers. The transports hand it every checked frame
(:meth:`Gateway.handle` is a :data:`~oracle.transport.FrameHandler`); the data answer goes back
to the device only after ``handle`` returned, and ``handle`` returns only after the frame's
readings are committed to the :class:`~oracle.queue.Queue`. The anchoring side
(:mod:`oracle.anchor`) then cuts and anchors batches from that queue.

Per frame, before anything else (:meth:`Gateway.authenticate`, which the transports also
call for every packet before the reassembler keeps any of it):

* the frame's device code (MN) must be one of the gateway's devices, else
  :class:`UnknownDeviceError`;
* its access password (``PW``) must be the device's password from the site file, compared in
  constant time, else :class:`FramePasswordError`;
* the device must not be blocked (its sequence numbers used up on-chain), else
  :class:`DeviceBlockedError`;

then its DataTime must not lie further ahead of the gateway's clock than ``clock_tolerance``
(:class:`FrameFromFutureError`). A frame refused by any of these gets **no answer** (the
device keeps it and sends it again), and nothing of it is stored, signed, or seen by quality
control or the quota controller, so a forged frame dated in the future cannot make the
device's later genuine frames "out of order". Each refusal is counted and logged (never with
the password).

Per data frame then:

1. (checked above: device, password, clock);
2. quality control (:class:`~oracle.qc.QualityControl`) gives the readings with their status.
   A frame already stored (same MN, command and DataTime: the device re-sent it because an
   answer was lost) is answered and not stored again; a frame QC refuses (older than the last
   accepted, no DataTime) is answered, counted and logged, since re-sending cannot fix it;
3. every **measured** value that describes the discharge is signed with the device key, one
   EIP-712 signature per frame covering all of the frame's readings (see :mod:`oracle.signing`):
   the interval concentration (``Avg``, or ``Rtd`` in real-time data) in its concentration unit
   and the interval total (``Cou``) in its total unit, each a reading of its own. ``Min``
   and ``Max`` serve quality control only. Readings QC *filled* into a gap are estimates made
   here, not measurements: they are counted and logged, never signed or anchored, so the
   anchored record holds only what the device measured and a gap stays visible as a gap.
   Outliers and out-of-range values are signed as sent (they are what the device said) and
   queued with their QC status;
4. the card-swipe quota controller counts the frame's ``Cou`` totals (alarms, valve);
5. the site's field rules (``watch``, :class:`oracle.field.FieldWatch`) judge the frame:
   over-standard averages, facility and instrument status, parameter tampering;
6. readings, the frame's key, the controller's state and the field rules' effects (their
   alarms and the quota's, review marks, the rules' state: a document in the queue's outbox
   that the watch then moves into its field store) are committed in one transaction. A
   frame not stored takes its effects back out of the controller and the rules.

Card-swipe frames (``CN_CARD_SWIPE``) load the month's quota; an unknown or foreign card is
refused (counted and logged) and the frame answered.

Frames signed elsewhere (a controller that signs on its own) enter through
:meth:`Gateway.accept_signed`: the signature must recover to the claimed device, and the
device must be bound on-chain to the enterprise they are filed for.

Back-fill (:mod:`oracle.backfill`): after each stored minute, hourly or daily data frame the
gateway looks for a gap before it in the device's series; for an open gap it returns a
history request (CN=2051 ``BeginTime``/``EndTime``...) that the transport sends on the
device's link after the data answer, one request in flight per device. Frames that carry
the QN of the device's request in flight are its answers:

* a data frame of the requested command dated inside the window is quality-controlled on
  its own (a fresh QC per request, no gap filling), signed with the device key like a live
  frame, counted by the quota controller and stored with its frame key, its readings flagged
  ``backfilled`` in the queue (the read model imports the flag) and a
  ``backfill:<mn>:<cn>:<datatime>`` state document, in the same transaction: it is anchored
  like a live frame and marked back-filled. A frame stored before (live or back-filled) is
  refused by its key, so nothing is anchored twice;
* a frame dated outside the window is refused (``history_outside_window``), answered and
  not stored;
* the request answer (CN=9011) and the execution result (CN=9012) close the exchange.

Data frames with any other QN take the live path, so a replay of stored data or an answer to
a request no longer in flight (another QN, another MN) is refused by quality control as
older than the last accepted frame. Operators ask for a window with
:meth:`Gateway.request_history` or, from another process, ``ets oracle backfill`` (a
``backfill:ask:<mn>`` document in the queue, read every ``ask_poll`` seconds).

Thread-safe: one lock serialises frames from all links (QC and quota are single-threaded).

:class:`SequenceTracker` is the per-device replay guard over signed readings' sequence numbers
(a jump is reported as a :class:`SequenceGap`, a repeat refused).
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Final, Protocol

from oracle.backfill import Backfiller, Gap, HistoryRequest
from oracle.errors import (
    DeviceBlockedError,
    FieldStoreError,
    ForeignCardError,
    ForeignDeviceError,
    FrameAlreadyStoredError,
    FrameCrcVariantError,
    FrameFromFutureError,
    FramePasswordError,
    FrameRejectedError,
    GatewayConfigError,
    HistoryError,
    HistoryRequestError,
    HistoryWindowError,
    ReadingDuplicateError,
    ReadingReplayError,
    ReadingSignatureError,
    ReadingValueError,
    ReplayedFrameError,
    UnknownCardError,
    UnknownDeviceError,
    UnregisteredDeviceError,
    ValveOrderError,
)
from oracle.field import FieldWatch
from oracle.hj212 import (
    CN_CARD_SWIPE,
    CN_EXECUTION_RESULT,
    CN_REQUEST_ANSWER,
    HISTORY_CNS,
    ST_SYSTEM_INTERACTION,
    CrcVariant,
    Frame,
    format_qn,
    history_request,
)
from oracle.qc import QcReading, QcStatus, QualityControl
from oracle.queue import SEQUENCE_LIMIT, Estimate, FrameKey, Queue
from oracle.quota import QuotaAlarm, QuotaController, QuotaState
from oracle.signing.eip712 import ReadingDomain
from oracle.signing.proof import SignedFrame, SignedReading, verify_frame
from oracle.signing.reading import Reading, ReadingFields, checksum_address, scale_decimal
from oracle.signing.signer import DeviceSigner
from oracle.valve import (
    VALVE_NONCES_KEY,
    VALVE_ORDER_CODE,
    VALVE_ORDERS_KEY,
    ReverseControl,
    SignedValveOrder,
    ValveOrderCheck,
    nonce_key,
    valve_command,
)

__all__ = [
    "BACKFILL_ASK_PREFIX",
    "BACKFILL_PREFIX",
    "CHINA_STANDARD_TIME",
    "DEFAULT_CLOCK_TOLERANCE",
    "MAX_ASKS",
    "SIGNED_SUFFIXES",
    "DeviceDirectory",
    "Gateway",
    "GatewayDevice",
    "GatewayStats",
    "SequenceGap",
    "SequenceTracker",
    "ask_history",
    "signed_unit",
]

logger = logging.getLogger(__name__)

#: HJ 212 DataTime is local time without a zone; Chinese sites report UTC+8.
CHINA_STANDARD_TIME: Final = timezone(timedelta(hours=8), "CST")
#: Seconds a frame's DataTime may lie ahead of the gateway's clock (controllers' clocks drift).
DEFAULT_CLOCK_TOLERANCE: Final = 300.0
#: CP suffixes signed as readings: the interval concentration and the interval total.
SIGNED_SUFFIXES: Final = frozenset({"Rtd", "Avg", "Cou"})
#: Queue state key prefix of back-filled frames (``backfill:<mn>:<cn>:<unix datatime>``).
BACKFILL_PREFIX: Final = "backfill:"
#: Queue state key prefix of operators' back-fill windows (``backfill:ask:<mn>``).
BACKFILL_ASK_PREFIX: Final = "backfill:ask:"
#: Seconds between reads of operators' back-fill windows from the queue.
DEFAULT_ASK_POLL: Final = 5.0
#: Operators' windows kept per device in the queue (oldest dropped first).
MAX_ASKS: Final = 16
#: System code of history requests when the device's own is not known yet.
_DEFAULT_ST: Final = "32"
#: Units as signed (``bytes8`` ASCII): superscripts and degree signs spelled out.
_ASCII_UNITS: Final = str.maketrans({"³": "3", "²": "2", "°": "deg", "µ": "u"})


@lru_cache(maxsize=256)
def signed_unit(unit: str) -> str:
    """The ASCII form of a unit that goes into a signed reading (``"mg/m³"`` → ``"mg/m3"``)."""
    return unit.translate(_ASCII_UNITS)


class DeviceDirectory(Protocol):
    """Who a device belongs to, as the chain says (``chain.registry`` implements it)."""

    def enterprise_of(self, device: str) -> str | None:
        """The enterprise account the device is bound to; ``None`` when it is not registered."""
        ...


@dataclass(frozen=True)
class GatewayDevice:
    """One controller this gateway signs for.

    Attributes:
        mn: the controller's HJ 212 device code.
        enterprise: the enterprise account it is bound to on-chain.
        key: the device's private key (from its encrypted keystore); never shown.
        password: the controller's HJ 212 access password (``PW``); never shown or logged.
        crc: the checksum variant the controller computes (``"hj212"`` or ``"modbus"``); its
            frames are accepted only under it, and what the gateway sends it carries it.
    """

    mn: str
    enterprise: str
    key: bytes = field(repr=False)
    password: str = field(repr=False)
    crc: CrcVariant = "hj212"

    def __post_init__(self) -> None:
        if not self.password:
            raise GatewayConfigError(f"device {self.mn} has no access password")


@dataclass
class GatewayStats:
    """What the gateway did, for operators (all counters only grow)."""

    frames: int = 0
    frames_resent: int = 0
    readings_signed: int = 0
    readings_filled: int = 0
    readings_unsignable: int = 0
    swipes: int = 0
    alarms: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    blocked: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def snapshot(self) -> dict[str, object]:
        """A JSON-safe copy."""
        with self._lock:
            return {
                "frames": self.frames,
                "frames_resent": self.frames_resent,
                "readings_signed": self.readings_signed,
                "readings_filled": self.readings_filled,
                "readings_unsignable": self.readings_unsignable,
                "swipes": self.swipes,
                "alarms": self.alarms,
                "rejected": dict(self.rejected),
                "blocked": dict(self.blocked),
            }


def _state_key(mn: str) -> str:
    return f"quota:{mn}"


class Gateway:
    """Turns controllers' frames into signed, durably queued readings (see the module docstring).

    On start it resumes from the queue: each device's signer continues after its last stored
    sequence, QC refuses DataTimes at or before the last stored frame of each device and
    command, and each quota controller resumes its saved state.

    Args:
        devices: the controllers served, each with its key and enterprise.
        queue: the durable queue.
        domain: EIP-712 domain readings are signed under (chain id, EmissionsLedger).
        qc: quality control; default settings when ``None``.
        quotas: card-swipe quota controller per device code (devices without one are not
            quota-controlled); their saved state in the queue replaces their initial state.
        directory: the on-chain device registry; when given, every device must be bound to
            its configured enterprise, and :meth:`accept_signed` checks against it.
        zone: time zone of the devices' DataTime.
        card_swipe_cn: command code of card-swipe events.
        on_alarm: called with each quota alarm (after it was committed).
        anchored_sequences: device address → last sequence anchored on-chain; a device's
            signer continues after the larger of it and the queue's last (a gateway whose
            queue was lost must not reuse sequence numbers the ledger has seen). A device
            whose sequences are used up there (someone anchored ``2**64 - 1`` for it) is
            *blocked*: logged, flagged in :attr:`GatewayStats.blocked` and reported to
            ``on_blocked``; its frames are refused unanswered, the other devices are served.
        clock: the gateway's clock (unix seconds).
        clock_tolerance: seconds a frame's DataTime may lie ahead of ``clock``.
        on_blocked: called with (device code, reason) for each blocked device.
        backfill: gap finder and history requests; default limits on the monotonic clock
            (request timeouts are real seconds, whatever ``clock`` says) when ``None``.
        ask_poll: seconds between reads of operators' back-fill windows (and of regulators'
            valve orders) from the queue.
        control: reverse control of the controllers' valves (:mod:`oracle.valve`): its
            commands go out after the answer to a device's frame, its 9011/9012 come back here.
        valve_orders: checks regulators' signed valve orders (with ``control``); ``None``
            refuses every order.
        watch: the site's field rules; their effects are committed with each stored frame
            (see the module docstring). What a crash left in the queue's outbox is moved to
            the watch's field store at once, before its state is read back.

    Raises:
        UnregisteredDeviceError: a device's address is not registered on-chain.
        ForeignDeviceError: a device is bound to another enterprise than configured.
        ReadingValueError: two devices share a device code.
    """

    def __init__(
        self,
        devices: Sequence[GatewayDevice],
        queue: Queue,
        domain: ReadingDomain,
        *,
        qc: QualityControl | None = None,
        quotas: Mapping[str, QuotaController] | None = None,
        directory: DeviceDirectory | None = None,
        zone: timezone = CHINA_STANDARD_TIME,
        card_swipe_cn: str = CN_CARD_SWIPE,
        on_alarm: Callable[[QuotaAlarm], None] | None = None,
        anchored_sequences: Mapping[str, int] | None = None,
        clock: Callable[[], float] = time.time,
        clock_tolerance: float = DEFAULT_CLOCK_TOLERANCE,
        on_blocked: Callable[[str, str], None] | None = None,
        backfill: Backfiller | None = None,
        ask_poll: float = DEFAULT_ASK_POLL,
        control: ReverseControl | None = None,
        valve_orders: ValveOrderCheck | None = None,
        watch: FieldWatch | None = None,
    ) -> None:
        self.queue = queue
        self.watch = watch
        self.control = control
        self._valve_orders = valve_orders
        self._orders_seen = 0
        self.backfill = backfill if backfill is not None else Backfiller(clock=time.monotonic)
        self._ask_poll = ask_poll
        self._next_ask = 0.0
        self._asks_seen: dict[str, int] = {}
        self._st: dict[str, str] = {}
        self._last_qn: dict[str, datetime] = {}
        # Per device: the request in flight's QN, its own QC and the DataTimes it brought.
        self._history_qc: dict[str, tuple[str, QualityControl, set[datetime]]] = {}
        self.domain = domain
        self.qc = qc if qc is not None else QualityControl()
        self.zone = zone
        self.card_swipe_cn = card_swipe_cn
        self.directory = directory
        self.stats = GatewayStats()
        self._on_alarm = on_alarm
        self._on_blocked = on_blocked
        self._clock = clock
        self._clock_tolerance = clock_tolerance
        self._lock = threading.Lock()
        last_sequences = queue.last_sequences()
        self._signers: dict[str, DeviceSigner] = {}
        self._passwords: dict[str, bytes] = {}
        self._crcs: dict[str, CrcVariant] = {}
        self._enterprises: dict[str, str] = {}  # device address -> enterprise
        for device in devices:
            if device.mn in self._signers:
                raise ReadingValueError(f"device code {device.mn} is configured twice")
            address = DeviceSigner(device.key, domain).address
            last = max(last_sequences.get(address, 0), (anchored_sequences or {}).get(address, 0))
            if last + 1 >= SEQUENCE_LIMIT:
                self.block(device.mn, f"sequence numbers used up on-chain (last anchored {last})")
                last = 0  # the signer exists for the device's address; it never signs
            signer = DeviceSigner(device.key, domain, next_sequence=last + 1)
            if directory is not None:
                self._check_binding(signer.address, device.enterprise, device.mn)
            self._signers[device.mn] = signer
            self._passwords[device.mn] = device.password.encode()
            self._crcs[device.mn] = device.crc
            self._enterprises[signer.address] = device.enterprise
        for (mn, cn), last in queue.last_frame_times().items():
            if mn in self._signers:
                self.qc.resume(mn, cn, datetime.fromtimestamp(last, zone).replace(tzinfo=None))
                self.backfill.resume(mn, cn, datetime.fromtimestamp(last, zone).replace(tzinfo=None))
        if control is not None and control.signer_of is None:
            control.signer_of = self._valve_signer  # valve events are anchored as readings
        self._quotas = dict(quotas or {})
        for mn, controller in self._quotas.items():
            saved = queue.get_state(_state_key(mn))
            if saved is not None:
                controller.restore(QuotaState.from_dict(json.loads(saved)))
        if watch is not None:
            watch.recover(queue)
        logger.info("gateway ready", extra={"devices": len(self._signers), "quotas": len(self._quotas)})

    # --- views ---

    @property
    def devices(self) -> dict[str, str]:
        """Device code → device address."""
        return {mn: signer.address for mn, signer in self._signers.items()}

    @property
    def enterprises(self) -> dict[str, str]:
        """Device address → enterprise account (recorded on the batches)."""
        return dict(self._enterprises)

    def crc_of(self, mn: str) -> CrcVariant:
        """The checksum variant of a device code (a :data:`~oracle.transport.CrcOf` for the
        transports); ``"hj212"`` for codes this gateway does not serve."""
        return self._crcs.get(mn, "hj212")

    def quota(self, mn: str) -> QuotaController | None:
        """The quota controller of a device code, if it has one."""
        return self._quotas.get(mn)

    def next_sequence(self, mn: str) -> int:
        """The sequence number the device's next reading will take."""
        return self._signers[mn].next_sequence

    @property
    def blocked(self) -> dict[str, str]:
        """Device code → why the gateway refuses its frames (see :meth:`block`)."""
        with self.stats._lock:
            return dict(self.stats.blocked)

    def block(self, mn: str, reason: str) -> None:
        """Refuse the device's frames unanswered from now on (they wait on the controller),
        log it and report it to ``on_blocked``; the other devices are served as before."""
        with self.stats._lock:
            self.stats.blocked[mn] = reason
        logger.error("device blocked: %s", reason, extra={"device": mn, "reason": reason})
        if self._on_blocked is not None:
            self._on_blocked(mn, reason)

    # --- frames ---

    def authenticate(self, frame: Frame) -> None:
        """Check a frame's (or a split packet's) device code and password, before anything else.

        The transports call this for every packet before keeping any of it (a
        :data:`~oracle.transport.FrameAuthenticator`); :meth:`handle` calls it again.

        Raises:
            UnknownDeviceError: the frame's device code is not one of this gateway's devices.
            FramePasswordError: the frame's ``PW`` is not the device's password.
            DeviceBlockedError: the device is blocked (see :meth:`block`).
            FrameCrcVariantError: the frame was checked under the other CRC variant than its
                device's (a link without :meth:`crc_of`).
        """
        expected = self._passwords.get(frame.mn)
        if expected is None:
            self._reject("unknown_device", frame.mn, "frame from an unknown device code")
            raise UnknownDeviceError(f"device code {frame.mn!r} is not served by this gateway")
        if not hmac.compare_digest(frame.pw.encode(), expected):
            self._reject("wrong_password", frame.mn, "frame with a wrong access password")
            raise FramePasswordError(f"wrong access password for device code {frame.mn!r}")
        variant = self._crcs.get(frame.mn, "hj212")
        if frame.crc != variant:
            self._reject("crc_variant", frame.mn, f"frame with a {frame.crc} CRC")
            raise FrameCrcVariantError(
                f"device code {frame.mn!r} sends {variant} CRCs; this frame was checked as {frame.crc}"
            )
        if frame.mn in self.stats.blocked:
            reason = self.stats.blocked.get(frame.mn, "")
            self._reject("device_blocked", frame.mn, reason)
            raise DeviceBlockedError(f"device code {frame.mn!r} is blocked: {reason}")

    def _check_clock(self, frame: Frame) -> None:
        if frame.datatime is None:
            return
        ahead = self._unix(frame.datatime) - self._clock()
        if ahead > self._clock_tolerance:
            message = f"DataTime {frame.datatime:%Y-%m-%d %H:%M:%S} is {ahead:.0f} s ahead of the clock"
            self._reject("future_datatime", frame.mn, message)
            raise FrameFromFutureError(
                f"device code {frame.mn!r}: {message} (tolerance {self._clock_tolerance:g} s)"
            )

    def handle(self, frame: Frame) -> list[str] | None:
        """Take one frame from a transport; return only once its readings are durable.

        Returns:
            Commands for the device (a history request for a gap), to send after the data
            answer; ``None`` when there are none.

        Raises:
            UnknownDeviceError: the frame's device code is not one of this gateway's devices.
            FramePasswordError: the frame's ``PW`` is not the device's password.
            DeviceBlockedError: the device is blocked.
            FrameFromFutureError: the frame's DataTime lies too far ahead of the clock.
            QueueError: the queue could not store the frame (the device will re-send it).
        """
        self.authenticate(frame)
        self._check_clock(frame)
        signer = self._signers[frame.mn]
        with self._lock:
            if self.control is not None and self.control.answer(frame):
                return self._commands(frame.mn) if frame.cn == CN_EXECUTION_RESULT else None
            if frame.cn == CN_REQUEST_ANSWER:
                self._history_answer(frame)
                return None
            if frame.cn == CN_EXECUTION_RESULT:  # the next gap's request may go out at once
                self._history_answer(frame)
                return self._commands(frame.mn)
            request = self.backfill.pending(frame.mn, frame.qn)
            if request is not None and frame.cn == request.cn:
                alarms = self._backfill(signer, frame, request)
            else:
                if frame.st != ST_SYSTEM_INTERACTION:
                    self._st[frame.mn] = frame.st
                if frame.cn == self.card_swipe_cn:
                    self._swipe(frame)
                    return self._commands(frame.mn)
                try:
                    checked = self.qc.check(frame)
                except FrameRejectedError as error:
                    if isinstance(error, ReplayedFrameError):
                        self._resent(frame)
                    else:
                        self._reject(type(error).__name__, frame.mn, str(error))
                    return None
                if frame.datatime is None:  # QC refuses data frames without one; others give no readings
                    return None
                signed, statuses, estimates = self._sign(signer, checked)
                readings = 0 if signed is None else len(signed.readings)
                controller = self._quotas.get(frame.mn)
                before = None if controller is None else controller.snapshot()
                alarms = [] if controller is None else controller.observe(frame)
                if not self._commit(
                    frame, controller, before, signed, statuses, estimates=estimates, quota=alarms
                ):
                    return None
                with self.stats._lock:
                    self.stats.frames += 1
                    self.stats.readings_signed += readings
                    self.stats.alarms += len(alarms)
                if frame.cn in HISTORY_CNS:
                    self.backfill.observe(frame.mn, frame.cn, frame.datatime)
            commands = self._commands(frame.mn)
        if self._on_alarm is not None:
            for alarm in alarms:
                self._on_alarm(alarm)
        return commands

    # --- back-fill ---

    def request_history(self, mn: str, cn: str, begin: datetime, end: datetime) -> Gap:
        """Ask a device for its stored frames of a window (both ends inclusive, local time);
        the request goes out after the answer to the device's next frame.

        Raises:
            UnknownDeviceError: the device code is not served here.
            HistoryRequestError: ``cn`` is not minute, hourly or daily data, or the window
                ends before it begins.
            HistoryLimitError: the device has as many open gaps as the gateway keeps.
        """
        if mn not in self._signers:
            raise UnknownDeviceError(f"device code {mn!r} is not served by this gateway")
        gap = Gap(mn, cn, begin, end, manual=True)
        with self._lock:
            self.backfill.open(gap)
        logger.info("back-fill asked by an operator", extra={"device": mn, "cn": cn})
        return gap

    def _next_qn(self, mn: str) -> str:
        """A request number from the gateway's clock, strictly increasing per device."""
        at = datetime.fromtimestamp(self._clock(), self.zone).replace(tzinfo=None)
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)
        last = self._last_qn.get(mn)
        if last is not None and at <= last:
            at = last + timedelta(milliseconds=1)
        self._last_qn[mn] = at
        return format_qn(at)

    def _commands(self, mn: str) -> list[str] | None:
        """The valve command and the history request due for the device, as wire text (``None``
        when none is)."""
        now = time.monotonic()
        if self._ask_poll >= 0 and now >= self._next_ask:
            self._next_ask = now + self._ask_poll
            self._read_asks()
            self._read_orders()
        commands = []
        if self.control is not None:
            due = self.control.due(mn, lambda: self._next_qn(mn))
            if due is not None:
                commands.append(
                    valve_command(
                        mn=mn, pw=self._passwords[mn].decode(), st=self._st.get(mn, _DEFAULT_ST), qn=due[1],
                        action=due[0], crc=self._crcs.get(mn, "hj212"),
                    )
                )  # fmt: skip
        history = self._history_command(mn)
        if history is not None:
            commands.append(history)
        return commands or None

    # --- valve orders ---

    def order_valve(self, signed: SignedValveOrder) -> int:
        """Execute a regulator's signed valve order: the command goes to the controller after
        the answer to its next frame. Returns the command's id.

        Raises:
            ValveOrderError: no order check is configured, or the order is refused by name
                (:class:`~oracle.valve.ValveOrderCheck`); nothing is stored or sent then.
        """
        if self.control is None or self._valve_orders is None:
            raise ValveOrderError("this gateway takes no valve orders (no reverse control configured)")
        text = self.queue.get_state(VALVE_NONCES_KEY)
        used: list[str] = json.loads(text) if text else []
        try:
            self._valve_orders.check(signed, frozenset(used))
        except ValveOrderError as error:
            self._reject(type(error).__name__, signed.order.mn, str(error))
            raise
        order = signed.order
        used.append(nonce_key(order))
        self.control.record(
            order.mn,
            {"event": "order", **signed.as_json()},
            state={VALVE_NONCES_KEY: json.dumps(used)},
            anchor=(VALVE_ORDER_CODE, 0 if order.action == "close" else 1),
        )
        return self.control.command(order.mn, order.action, f"regulator {order.regulator}", order.reason)

    def _valve_signer(self, mn: str) -> DeviceSigner | None:
        """The device's signer for its valve events (``None`` for a blocked device)."""
        return None if mn in self.stats.blocked else self._signers.get(mn)

    def _read_orders(self) -> None:
        """Take the signed valve orders left in the queue (``ets oracle valve``) since the last read."""
        if self.control is None:
            return
        text = self.queue.get_state(VALVE_ORDERS_KEY)
        if text is None:
            return
        try:
            orders = json.loads(text)
        except ValueError:
            self._reject("valve_orders_unusable", "-", "valve orders are not JSON")
            return
        for entry in orders:
            number = int(entry.get("id", 0)) if isinstance(entry, dict) else 0
            if number <= self._orders_seen:
                continue
            self._orders_seen = number
            try:
                self.order_valve(SignedValveOrder.from_json(entry))
            except ValveOrderError as error:
                logger.warning("valve order refused: %s: %s", type(error).__name__, error)

    def _history_command(self, mn: str) -> str | None:
        """The history request due for the device, as wire text (``None`` when none is)."""
        if not self.backfill.gaps(mn):
            return None
        request = self.backfill.due(mn, self._next_qn(mn))
        if request is None:
            return None
        wire = history_request(
            st=self._st.get(mn, _DEFAULT_ST),
            cn=request.cn,
            pw=self._passwords[mn].decode(),
            mn=mn,
            qn=request.qn,
            begin=request.begin,
            end=request.end,
            crc=self._crcs.get(mn, "hj212"),
        )
        logger.info(
            "history request sent: %s .. %s",
            f"{request.begin:%Y-%m-%d %H:%M:%S}",
            f"{request.end:%Y-%m-%d %H:%M:%S}",
            extra={"device": mn, "cn": request.cn, "qn": request.qn, "attempt": request.attempts},
        )
        return wire

    def _read_asks(self) -> None:
        """Open the windows operators asked for with ``ets oracle backfill`` since the last read."""
        for mn in self._signers:
            text = self.queue.get_state(f"{BACKFILL_ASK_PREFIX}{mn}")
            if text is None:
                continue
            try:
                asks = json.loads(text)
                seen = self._asks_seen.get(mn, 0)
                for ask in asks:
                    if int(ask["id"]) <= seen:
                        continue
                    self._asks_seen[mn] = int(ask["id"])
                    begin = datetime.fromisoformat(str(ask["begin"]))
                    end = datetime.fromisoformat(str(ask["end"]))
                    self.backfill.open(Gap(mn, str(ask["cn"]), begin, end, manual=True))
            except (HistoryError, ValueError, KeyError, TypeError) as error:
                self._reject("backfill_ask_unusable", mn, str(error))

    def _history_answer(self, frame: Frame) -> None:
        """A request answer (9011) or execution result (9012) of the device's request in flight."""
        request = self.backfill.pending(frame.mn, frame.qn)
        if request is None:
            self.backfill.reject("unsolicited_answer")
            self._reject("history_unsolicited_answer", frame.mn, f"CN={frame.cn} for no request in flight")
            return
        text = frame.extras.get("QnRtn" if frame.cn == CN_REQUEST_ANSWER else "ExeRtn", "")
        code = int(text) if text.isascii() and text.isdigit() and len(text) <= 5 else -1
        if frame.cn == CN_REQUEST_ANSWER:
            self.backfill.answered(request, code)
            return
        closed = self.backfill.finished(request, code)
        self._history_qc.pop(frame.mn, None)
        logger.info(
            "history request done: %d frames stored, %d stored before%s",
            request.frames,
            request.duplicates,
            "; gap closed" if closed else "",
            extra={"device": frame.mn, "qn": request.qn, "cn": request.cn},
        )

    def _backfill(self, signer: DeviceSigner, frame: Frame, request: HistoryRequest) -> list[QuotaAlarm]:
        """Store one history frame of the request in flight (see the module docstring)."""
        when = frame.datatime
        try:
            self.backfill.check(request, when)
        except HistoryWindowError as error:
            self.backfill.reject("outside_window")
            self._reject("history_outside_window", frame.mn, str(error))
            return []
        assert when is not None
        held = self._history_qc.get(frame.mn)
        if held is None or held[0] != request.qn:
            config = replace(self.qc.config, max_fill=0, detect_factor_changes=False)
            held = self._history_qc[frame.mn] = (request.qn, QualityControl(config), set())
        if when in held[2]:  # re-sent (its data answer was lost) or sent twice: stored once
            self.backfill.duplicate(request)
            return []
        try:
            checked = held[1].check(frame)
        except FrameRejectedError as error:
            self.backfill.reject(type(error).__name__)
            self._reject(f"history_{type(error).__name__}", frame.mn, str(error))
            return []
        held[2].add(when)
        signed, statuses, estimates = self._sign(signer, checked)
        readings = 0 if signed is None else len(signed.readings)
        controller = self._quotas.get(frame.mn)
        before = None if controller is None else controller.snapshot()
        alarms = [] if controller is None else controller.observe(frame)
        document = json.dumps({"qn": request.qn, "readings": readings})
        mark = {f"{BACKFILL_PREFIX}{frame.mn}:{frame.cn}:{self._unix(when)}": document}
        if not self._commit(
            frame,
            controller,
            before,
            signed,
            statuses,
            estimates=estimates,
            extra=mark,
            history=True,
            quota=alarms,
        ):
            self.backfill.duplicate(request)
            return []
        self.backfill.stored(request, readings)
        with self.stats._lock:
            self.stats.frames += 1
            self.stats.readings_signed += readings
            self.stats.alarms += len(alarms)
        return alarms

    def is_backfilled(self, mn: str, cn: str, datatime: datetime) -> bool:
        """Whether the stored frame of ``mn``/``cn`` at ``datatime`` (local time) came by back-fill."""
        return self.queue.get_state(f"{BACKFILL_PREFIX}{mn}:{cn}:{self._unix(datatime)}") is not None

    def _commit(
        self,
        frame: Frame,
        controller: QuotaController | None,
        before: QuotaState | None,
        signed: SignedFrame | None = None,
        statuses: Sequence[str] = (),
        *,
        estimates: Sequence[Estimate] = (),
        extra: Mapping[str, str] | None = None,
        history: bool = False,
        quota: Sequence[QuotaAlarm] = (),
    ) -> bool:
        """Store the frame's readings, QC's unsigned gap ``estimates``, its key, the quota
        controller's state, ``extra`` state documents and the field rules' effects (with the
        ``quota`` alarms) in one transaction. On a re-sent frame or a failed write the
        controller goes back to ``before`` and the rules forget the frame. Returns ``False``
        for a frame stored already (a re-sent one is counted as such; a ``history`` one is the
        caller's to count)."""
        assert frame.datatime is not None
        key = FrameKey(frame.mn, frame.cn, self._unix(frame.datatime))
        state = (
            {} if controller is None else {_state_key(frame.mn): json.dumps(controller.snapshot().to_dict())}
        )
        if extra:
            state.update(extra)
        effects = None if self.watch is None else self.watch.effects(frame, quota)
        try:
            self.queue.append(
                () if signed is None else (signed,),
                qc=statuses,
                frame=key,
                state=state,
                estimates=estimates,
                backfilled=history,
                outbox=(effects.to_json(),) if effects else (),
            )
        except FrameAlreadyStoredError:
            if controller is not None and before is not None:
                controller.restore(before)
            if self.watch is not None:
                self.watch.rollback()
            if not history:
                self._resent(frame)
            return False
        except ReadingDuplicateError as error:
            # Cannot happen with this gateway's own signers; a second gateway signing
            # with the same key would cause it. The other readings are stored.
            self._reject("duplicate_sequence", frame.mn, str(error))
        except BaseException:
            if controller is not None and before is not None:
                controller.restore(before)
            if self.watch is not None:
                self.watch.rollback()
            raise
        if self.watch is not None and effects is not None:
            self.watch.committed(effects)
            try:
                self.watch.deliver(self.queue)
            except FieldStoreError:  # they wait in the queue's outbox for the next delivery
                logger.exception("field alarms not moved to the field store", extra={"device": frame.mn})
        return True

    def _unix(self, datatime: datetime) -> int:
        """Unix seconds of a DataTime in the devices' zone."""
        return int(datatime.replace(tzinfo=self.zone).timestamp())

    def _sign(
        self, signer: DeviceSigner, checked: Iterable[QcReading]
    ) -> tuple[SignedFrame | None, list[str], list[Estimate]]:
        """The frame's signable readings signed as one frame (``None`` when there are none),
        with their QC statuses, and the values QC filled into a gap as unsigned estimates
        (method ``linear``): stored beside the measured readings, never mixed into them."""
        items: list[ReadingFields] = []
        statuses: list[str] = []
        estimates: list[Estimate] = []
        filled = 0
        unix = 0
        last_time: datetime | None = None
        for r in checked:
            if r.suffix not in SIGNED_SUFFIXES:
                continue
            if r.status is QcStatus.FILLED:
                filled += 1
                try:
                    value, decimals = scale_decimal(r.text)
                except ReadingValueError:
                    continue  # an estimate that does not fit is not kept
                unit = signed_unit(r.unit)
                estimates.append(
                    Estimate(signer.address, self._unix(r.time), r.code, unit, value, decimals, "linear")
                )
                continue
            if r.time is not last_time:
                last_time = r.time
                unix = self._unix(r.time)
            try:
                value, decimals = scale_decimal(r.text)
            except ReadingValueError as error:
                self._unsignable(signer, r.code, error)
                continue
            flag = r.flag.value if r.flag is not None else "N"
            items.append(ReadingFields(unix, r.code, value, decimals, signed_unit(r.unit), flag))
            statuses.append(r.status.value)
        if filled:
            with self.stats._lock:
                self.stats.readings_filled += filled
            logger.info(
                "gap filled by QC, kept as unsigned estimates: %d readings",
                filled,
                extra={"device": signer.address},
            )
        if not items:
            return None, statuses, estimates
        try:
            return signer.sign_frame(items), statuses, estimates
        except ReadingValueError:
            pass  # rare: find the readings that do not fit their types, sign the others
        kept: list[ReadingFields] = []
        kept_statuses: list[str] = []
        for item, status in zip(items, statuses, strict=True):
            try:
                Reading(signer.address, 0, *item)
            except ReadingValueError as error:
                self._unsignable(signer, item.pollutant, error)
                continue
            kept.append(item)
            kept_statuses.append(status)
        return (signer.sign_frame(kept) if kept else None), kept_statuses, estimates

    def _unsignable(self, signer: DeviceSigner, pollutant: str, error: Exception) -> None:
        with self.stats._lock:
            self.stats.readings_unsignable += 1
        logger.warning(
            "reading not signable: %s", error, extra={"device": signer.address, "pollutant": pollutant}
        )

    def _swipe(self, frame: Frame) -> None:
        controller = self._quotas.get(frame.mn)
        card = frame.extras.get("CardId")
        if controller is None or card is None or frame.datatime is None:
            self._reject("swipe_unusable", frame.mn, "card swipe without CardId, DataTime or quota")
            return
        before = controller.snapshot()
        try:
            loaded = controller.swipe(card, at=frame.datatime)
        except (UnknownCardError, ForeignCardError) as error:
            self._reject(type(error).__name__, frame.mn, str(error))
            return
        if not self._commit(frame, controller, before):
            return
        with self.stats._lock:
            self.stats.swipes += 1
        logger.info(
            "card swiped: %s", "month loaded" if loaded else "already loaded",
            extra={"device": frame.mn, "enterprise": controller.enterprise},
        )  # fmt: skip

    def _resent(self, frame: Frame) -> None:
        with self.stats._lock:
            self.stats.frames_resent += 1
        logger.info("frame re-sent by device, stored already", extra={"device": frame.mn, "cn": frame.cn})

    def _reject(self, reason: str, device: str, message: str) -> None:
        with self.stats._lock:
            self.stats.rejected[reason] += 1
        logger.warning("rejected: %s: %s", reason, message, extra={"device": device, "reason": reason})

    # --- readings signed elsewhere ---

    def _check_binding(self, device: str, enterprise: str, what: str) -> None:
        assert self.directory is not None
        owner = self.directory.enterprise_of(device)
        if owner is None:
            self._reject("unregistered_device", what, f"device {device} is not registered on-chain")
            raise UnregisteredDeviceError(f"device {device} ({what}) is not registered on-chain")
        if owner.lower() != enterprise.lower():
            self._reject("foreign_device", what, f"device {device} is bound to {owner}, not {enterprise}")
            raise ForeignDeviceError(f"device {device} ({what}) is bound to {owner}, not to {enterprise}")

    def accept_signed(self, frames: Sequence[SignedFrame], *, enterprise: str) -> int:
        """Queue frames a device signed itself, filed for ``enterprise``.

        All or nothing on the checks: every frame's signature must recover to its device, and
        each device must be bound on-chain to ``enterprise``.

        Returns:
            How many readings were stored.

        Raises:
            ReadingSignatureError: a signature does not recover to its frame's device.
            UnregisteredDeviceError: a device is not registered on-chain.
            ForeignDeviceError: a device belongs to another enterprise.
            ReadingDuplicateError: some frames repeat stored readings (a replay); the other
                frames are stored.
        """
        if self.directory is None:
            raise UnregisteredDeviceError("no device directory: this gateway accepts only its own devices")
        checked: set[str] = set()
        for signed in frames:
            try:
                verify_frame(self.domain, signed, signed.device)
            except ReadingSignatureError:
                self._reject("bad_signature", signed.device, f"frame from sequence {signed.first_sequence}")
                raise
            if signed.device not in checked:
                self._check_binding(signed.device, enterprise, "signed frame")
                checked.add(signed.device)
        with self._lock:
            try:
                stored = self.queue.append(frames, qc=QcStatus.MEASURED.value)
            except ReadingDuplicateError as error:
                self._reject("replayed_sequence", frames[0].device, str(error))
                with self.stats._lock:
                    self.stats.readings_signed += error.stored
                raise
        for signed in frames:
            self._enterprises.setdefault(signed.device, enterprise)
        with self.stats._lock:
            self.stats.readings_signed += stored
        return stored


# --- operators' back-fill windows -----------------------------------------------------------


def ask_history(queue: Queue, mn: str, cn: str, begin: datetime, end: datetime) -> int:
    """Leave a back-fill window for a running gateway in its queue (``ets oracle backfill``).

    The gateway reads it within ``ask_poll`` seconds and asks the device after its next frame.

    Args:
        queue: the gateway's queue (the same SQLite file).
        mn: device code.
        cn: data command (``2051`` minute, ``2061`` hourly, ``2031`` daily data).
        begin: first DataTime wanted (naive local time).
        end: last DataTime wanted.

    Returns:
        The window's number (per device).

    Raises:
        HistoryRequestError: ``cn`` is not minute, hourly or daily data, the window ends
            before it begins, or a time is not naive.
    """
    if cn not in HISTORY_CNS:
        raise HistoryRequestError(f"CN={cn} is not minute, hourly or daily data")
    if begin.tzinfo is not None or end.tzinfo is not None:
        raise HistoryRequestError("give BeginTime and EndTime in the station's local time, without a zone")
    if end < begin:
        raise HistoryRequestError("the window ends before it begins")
    key = f"{BACKFILL_ASK_PREFIX}{mn}"
    text = queue.get_state(key)
    asks = json.loads(text) if text else []
    number = max((int(a["id"]) for a in asks), default=0) + 1
    asks.append({"id": number, "cn": cn, "begin": begin.isoformat(), "end": end.isoformat()})
    queue.append((), state={key: json.dumps(asks[-MAX_ASKS:])})
    logger.info("back-fill window left for the gateway", extra={"device": mn, "cn": cn})
    return number


# --- replay and gap detection ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SequenceGap:
    """A jump in a device's sequence: ``received`` came where ``expected`` was due.

    Attributes:
        device: the device's address.
        expected: the sequence number that was due (last seen + 1).
        received: the sequence number that arrived.
    """

    device: str
    expected: int
    received: int

    @property
    def missing(self) -> int:
        """How many sequence numbers were skipped."""
        return self.received - self.expected


class SequenceTracker:
    """Per-device replay guard: sequences must increase; jumps are reported, not refused.

    One tracker follows any number of devices, each on its own. Not thread-safe: feed it
    from the one task that receives readings.

    Args:
        last_seen: last accepted sequence per device (e.g. from the queue after a restart).
        max_gaps: how many recent gaps :attr:`gaps` keeps.
    """

    def __init__(self, last_seen: Mapping[str, int] | None = None, *, max_gaps: int = 1000) -> None:
        self._last: dict[str, int] = {checksum_address(d): s for d, s in (last_seen or {}).items()}
        #: Recent gaps, oldest first (bounded by ``max_gaps``).
        self.gaps: deque[SequenceGap] = deque(maxlen=max_gaps)

    def last_seen(self, device: str) -> int | None:
        """The last sequence accepted from ``device``, ``None`` if none yet."""
        return self._last.get(checksum_address(device))

    def accept(self, device: str, sequence: int) -> SequenceGap | None:
        """Record ``sequence`` from ``device``.

        Returns:
            The gap if ``sequence`` skips numbers after the last one seen, else ``None``
            (also for a device's first reading, where nothing was due yet).

        Raises:
            ReadingReplayError: ``sequence`` is at or below the last one accepted.
        """
        device = checksum_address(device)
        last = self._last.get(device)
        if last is not None:
            if sequence <= last:
                raise ReadingReplayError(f"device {device} sequence {sequence} replayed (last seen {last})")
            if sequence != last + 1:
                gap = SequenceGap(device, last + 1, sequence)
                self.gaps.append(gap)
                self._last[device] = sequence
                logger.warning(
                    "sequence gap: %d readings missing",
                    gap.missing,
                    extra={"device": device, "expected": gap.expected, "sequence": sequence},
                )
                return gap
        self._last[device] = sequence
        return None

    def accept_reading(self, signed_reading: SignedReading) -> SequenceGap | None:
        """:meth:`accept` with the device and sequence of a signed reading.

        Raises:
            ReadingReplayError: the reading's sequence is at or below the last one accepted.
        """
        return self.accept(signed_reading.reading.device, signed_reading.reading.sequence)
