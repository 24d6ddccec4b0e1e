"""Valve and reverse control: the controller's valve commanded over HJ 212, and the regulator's
signed orders (停产整顿) relayed to the gateway.

* The quota controller's valve is a :class:`ControllerValve` where a controller is connected: a
  close or open becomes a reverse-control command, CN=3098 ``CP=&&ValveCmd=0|1&&``
  (:data:`~oracle.hj212.CN_VALVE_CONTROL`, a documented site extension like the card swipe's
  3097), sent to the controller after the answer to its next frame (the link's command path, as
  back-fill's history requests). The controller answers 9011 (``QnRtn``) and, once the valve
  moved, 9012 (``ExeRtn``); an unanswered command is resent after ``resend_seconds``.
* A regulator orders a closure or reopening as an EIP-712 :class:`~chain.valve.ValveOrder`
  signed by its wallet. The order reaches the gateway through its queue file (``ets oracle
  valve close|open`` leaves it there with :func:`leave_valve_order`; the gateway polls, as for
  operators' back-fill windows). :class:`ValveOrderCheck` refuses, by name and before anything
  is sent, an order whose signature does not recover its regulator, whose signer is not an
  active REGULATOR of the registry, that expired, whose (regulator, nonce) was executed before,
  or that names a device code the gateway does not serve.
* Every accepted order, command sent and acknowledgement is appended to the device's valve log,
  a state document of the queue (``valve.log.<MN>``), and anchored with the readings: in the
  same queue transaction the gateway signs, with the device's key and its next sequence number,
  one reading of a documented code (:data:`VALVE_ORDER_CODE` ``VLVORD`` = the ordered action,
  :data:`VALVE_COMMAND_CODE` ``VLVCMD`` = the ``ValveCmd`` sent, :data:`VALVE_ACK_CODE` ``VLVACK``
  = the controller's ``ExeRtn``; no unit, decimals 0, flag N, time = the gateway's clock), which
  is batched and anchored like any reading and verified with the ledger's unchanged
  ``verifyReading``. Refused orders are only logged (nothing is stored or sent).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from chain.valve import ValveAction, ValveOrder, recover_valve_order_signer
from domain.errors import InvalidInputError
from oracle.errors import (
    ReadingValueError,
    ValveOrderDeviceError,
    ValveOrderError,
    ValveOrderExpiredError,
    ValveOrderNotRegulatorError,
    ValveOrderReplayedError,
    ValveOrderSignatureError,
)
from oracle.hj212 import (
    CN_EXECUTION_RESULT,
    CN_REQUEST_ANSWER,
    CN_VALVE_CONTROL,
    FLAG_ACK,
    VERSION_2017,
    CrcVariant,
    Frame,
    encode,
)
from oracle.queue import Queue
from oracle.signing.reading import ReadingFields
from oracle.signing.signer import DeviceSigner

__all__ = [
    "VALVE_ACK_CODE",
    "VALVE_COMMAND_CODE",
    "VALVE_LOG_PREFIX",
    "VALVE_NONCES_KEY",
    "VALVE_ORDERS_KEY",
    "VALVE_ORDER_CODE",
    "ControllerValve",
    "RegistryRegulators",
    "ReverseControl",
    "SignedValveOrder",
    "ValveOrderCheck",
    "leave_valve_order",
    "nonce_key",
    "valve_command",
]

logger = logging.getLogger(__name__)

#: Reading codes of the anchored valve events (value: 0 close / 1 open; ExeRtn for the ack).
VALVE_ORDER_CODE: Final = "VLVORD"
VALVE_COMMAND_CODE: Final = "VLVCMD"
VALVE_ACK_CODE: Final = "VLVACK"
VALVE_LOG_PREFIX: Final = "valve.log."
VALVE_ORDERS_KEY: Final = "valve.orders"
VALVE_NONCES_KEY: Final = "valve.nonces"
_MAX_LOG: Final = 1_000
_MAX_ORDERS: Final = 100
_COMMAND_FLAG: Final = (VERSION_2017 << 2) | FLAG_ACK
_VALVE_CMD: Final = {"close": 0, "open": 1}


def valve_command(
    *, mn: str, pw: str, st: str, qn: str, action: ValveAction, crc: CrcVariant = "hj212"
) -> str:
    """The reverse-control command (CN=3098) closing (``ValveCmd=0``) or opening (``1``) a valve."""
    return encode(
        qn=qn, st=st, cn=CN_VALVE_CONTROL, pw=pw, mn=mn, flag=_COMMAND_FLAG,
        extras={"ValveCmd": _VALVE_CMD[action]}, crc=crc,
    )  # fmt: skip


# --- the regulator's signed orders ----------------------------------------------------------


@dataclass(frozen=True)
class SignedValveOrder:
    """A valve order with the regulator's 65-byte EIP-712 signature."""

    order: ValveOrder
    signature: bytes

    def as_json(self) -> dict[str, Any]:
        return {**self.order.as_json(), "signature": "0x" + self.signature.hex()}

    @classmethod
    def from_json(cls, data: Any) -> SignedValveOrder:
        """Raises: ValveOrderSignatureError (no usable signature), ValveOrderError (bad fields)."""
        try:
            order = ValveOrder.from_json(data)
        except InvalidInputError as error:
            raise ValveOrderError(str(error)) from None
        text = str(data.get("signature", "")) if isinstance(data, dict) else ""
        try:
            signature = bytes.fromhex(text.removeprefix("0x"))
        except ValueError:
            raise ValveOrderSignatureError("valve order signature is not hex") from None
        return cls(order, signature)


class RegulatorDirectory(Protocol):
    """Who the registry holds as an active regulator (a chain read)."""

    def is_active_regulator(self, account: str) -> bool: ...


class _Registry(Protocol):
    def has_role(self, role: str, account: str) -> bool: ...

    def is_active_participant(self, account: str) -> bool: ...


class RegistryRegulators:
    """A :class:`RegulatorDirectory` over the ConsortiumRegistry (``chain.registry.RegistryClient``)."""

    def __init__(self, registry: _Registry) -> None:
        self._registry = registry

    def is_active_regulator(self, account: str) -> bool:
        return self._registry.has_role("REGULATOR", account) and self._registry.is_active_participant(account)


class ValveOrderCheck:
    """Checks a regulator's signed valve order before the gateway acts on it.

    Args:
        chain_id: the chain the order must be signed for.
        registry: the ConsortiumRegistry address (the typed data's verifying contract).
        regulators: who is an active REGULATOR.
        devices: the device codes this gateway serves (``None``: any, for a relay such as the
            API that checks orders before it leaves them for the gateways).
        clock: Unix seconds now.
    """

    def __init__(
        self,
        chain_id: int,
        registry: str,
        regulators: RegulatorDirectory,
        devices: Collection[str] | None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.chain_id = chain_id
        self.registry = registry
        self._regulators = regulators
        self._devices = None if devices is None else frozenset(devices)
        self._clock = clock

    def check(self, signed: SignedValveOrder, used: Collection[str]) -> None:
        """Refuse a bad order by name; return for one the gateway may execute.

        Args:
            signed: the order and its signature.
            used: ``"<regulator>:<nonce>"`` of the orders executed before (lower-case address).

        Raises:
            ValveOrderDeviceError: the order names a device code not served here.
            ValveOrderSignatureError: the signature is malformed or recovers another address.
            ValveOrderNotRegulatorError: the signer is not an active REGULATOR.
            ValveOrderExpiredError: the order's expiry has passed.
            ValveOrderReplayedError: the order's (regulator, nonce) was executed before.
        """
        order = signed.order
        if self._devices is not None and order.mn not in self._devices:
            raise ValveOrderDeviceError(
                f"valve order for device code {order.mn!r}, not served by this gateway"
            )
        signer = recover_valve_order_signer(self.chain_id, self.registry, order, signed.signature)
        if signer is None or signer.lower() != order.regulator.lower():
            raise ValveOrderSignatureError(
                f"valve order signature recovers {signer or 'no address'},"
                f" not its regulator {order.regulator}"
            )
        if not self._regulators.is_active_regulator(order.regulator):
            raise ValveOrderNotRegulatorError(f"{order.regulator} is not an active REGULATOR of the registry")
        now = self._clock()
        if now > order.expires_at:
            raise ValveOrderExpiredError(f"valve order expired at {order.expires_at} (now {now:.0f})")
        if nonce_key(order) in used:
            raise ValveOrderReplayedError(
                f"valve order nonce {order.nonce} of {order.regulator} was executed before"
            )


def nonce_key(order: ValveOrder) -> str:
    return f"{order.regulator.lower()}:{order.nonce}"


def leave_valve_order(queue: Queue, signed: SignedValveOrder) -> int:
    """Leave a signed order for a running gateway in its queue (``ets oracle valve``); the gateway
    checks it within its poll interval and commands the controller after the controller's next
    frame. Returns the order's number in the queue."""
    text = queue.get_state(VALVE_ORDERS_KEY)
    orders = json.loads(text) if text else []
    number = max((int(o["id"]) for o in orders), default=0) + 1
    orders.append({"id": number, **signed.as_json()})
    queue.append((), state={VALVE_ORDERS_KEY: json.dumps(orders[-_MAX_ORDERS:])})
    logger.info("valve order left for the gateway", extra={"device": signed.order.mn})
    return number


# --- commands to the controller and their acknowledgements ----------------------------------


@dataclass
class _Pending:
    id: int
    action: ValveAction
    source: str
    qn: str | None = None
    sent_at: float = 0.0
    accepted: int | None = None


@dataclass
class ReverseControl:
    """Valve commands waiting for, or sent to, each controller, and the durable valve log.

    Thread-safe. The gateway calls :meth:`due` when it may send to a device (after the answer
    to the device's frame) and :meth:`answer` with the device's 9011/9012.

    Args:
        queue: the gateway's queue; the log is its state document ``valve.log.<MN>``.
        resend_seconds: a command without its 9012 is sent again after this long.
        clock: Unix seconds now.
        signer_of: the device's signer (the gateway's); events are then anchored as readings.
    """

    queue: Queue
    resend_seconds: float = 60.0
    clock: Callable[[], float] = time.time
    signer_of: Callable[[str], DeviceSigner | None] | None = None
    _pending: dict[str, list[_Pending]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _next_id: int = 0

    def log(self, mn: str) -> list[dict[str, Any]]:
        """The device's valve log: orders, refusals, commands, answers, oldest first."""
        text = self.queue.get_state(f"{VALVE_LOG_PREFIX}{mn}")
        return list(json.loads(text)) if text else []

    def record(
        self,
        mn: str,
        event: dict[str, Any],
        state: dict[str, str] | None = None,
        *,
        anchor: tuple[str, int] | None = None,
    ) -> None:
        """Append an event to the device's log (with ``state``, in one transaction); with
        ``anchor`` (reading code, value) also a device-signed reading of it, anchored later."""
        now = self.clock()
        signed = None
        signer = None if anchor is None or self.signer_of is None else self.signer_of(mn)
        if signer is not None and anchor is not None:
            try:
                signed = signer.sign_frame([ReadingFields(int(now), anchor[0], anchor[1], 0, "", "N")])
            except ReadingValueError as error:  # sequences used up: logged, kept unanchored
                logger.error("valve event not signed: %s", error, extra={"device": mn})
        entries = self.log(mn)
        entry = {"at": round(now, 3), **event}
        if signed is not None:
            entry["reading"] = {"code": anchor[0] if anchor else "", "sequence": signed.first_sequence}
        entries.append(entry)
        documents = {f"{VALVE_LOG_PREFIX}{mn}": json.dumps(entries[-_MAX_LOG:])} | (state or {})
        self.queue.append(() if signed is None else (signed,), qc="measured", state=documents)

    def command(self, mn: str, action: ValveAction, source: str, reason: str) -> int:
        """Queue a close or open for the device's controller; returns the command's id.

        A newer command replaces one of the device not yet sent (the last word counts).
        """
        with self._lock:
            self._next_id += 1
            pending = _Pending(self._next_id, action, source)
            queue = [p for p in self._pending.get(mn, []) if p.qn is not None]
            queue.append(pending)
            self._pending[mn] = queue
        self.record(mn, {"event": "command", "id": pending.id, "action": action, "source": source,
                         "reason": reason})  # fmt: skip
        logger.warning("valve %s queued for the controller: %s", action, reason, extra={"device": mn})
        return pending.id

    def due(self, mn: str, qn: Callable[[], str]) -> tuple[ValveAction, str] | None:
        """The command to send the device now (action, QN), or ``None``."""
        now = self.clock()
        with self._lock:
            for pending in self._pending.get(mn, []):
                if pending.qn is None or now - pending.sent_at >= self.resend_seconds:
                    pending.qn = qn()
                    pending.sent_at = now
                    break
            else:
                return None
        self.record(
            mn,
            {"event": "sent", "id": pending.id, "action": pending.action, "qn": pending.qn},
            anchor=(VALVE_COMMAND_CODE, _VALVE_CMD[pending.action]),
        )
        return pending.action, pending.qn

    def answer(self, frame: Frame) -> bool:
        """Take the device's 9011/9012 if it answers a valve command in flight (``True``)."""
        if frame.cn not in (CN_REQUEST_ANSWER, CN_EXECUTION_RESULT) or frame.qn is None:
            return False
        with self._lock:
            queue = self._pending.get(frame.mn, [])
            pending = next((p for p in queue if p.qn == frame.qn), None)
            if pending is None:
                return False
            key = "QnRtn" if frame.cn == CN_REQUEST_ANSWER else "ExeRtn"
            text = frame.extras.get(key, "")
            code = int(text) if text.isascii() and text.isdigit() and len(text) <= 5 else -1
            if frame.cn == CN_EXECUTION_RESULT:
                queue.remove(pending)
        event = "accepted" if frame.cn == CN_REQUEST_ANSWER else "ack"
        self.record(
            frame.mn,
            {"event": event, "id": pending.id, "action": pending.action, "qn": frame.qn, key: code},
            anchor=None if frame.cn == CN_REQUEST_ANSWER else (VALVE_ACK_CODE, code),
        )
        if frame.cn == CN_EXECUTION_RESULT:
            logger.warning(
                "valve %s acknowledged by the controller: ExeRtn=%d", pending.action, code,
                extra={"device": frame.mn, "qn": frame.qn},
            )  # fmt: skip
        return True

    def in_flight(self, mn: str) -> int:
        """Commands of the device not yet acknowledged."""
        with self._lock:
            return len(self._pending.get(mn, []))


class ControllerValve:
    """The quota controller's :class:`~oracle.quota.Valve` for a connected controller: each close
    or open is a reverse-control command queued in ``control`` for the device ``mn``."""

    def __init__(self, control: ReverseControl, mn: str) -> None:
        self._control = control
        self._mn = mn

    def close(self, reason: str) -> None:
        self._control.command(self._mn, "close", "quota", reason)

    def open(self, reason: str) -> None:
        self._control.command(self._mn, "open", "quota", reason)
