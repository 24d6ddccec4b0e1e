"""Serial and TCP transports: HJ 212 bytes in, checked frames to a handler, data answers out.

Two transports share one per-link pipeline (:class:`FrameLink`):

* :class:`SerialFrameReader` reads one RS-232/485 line (or any pyserial URL: ``/dev/ttyS0``,
  ``/dev/pts/3``, ``loop://``, ``socket://host:port``) in a background thread.
* :class:`TcpFrameServer` listens on a platform port and serves many controller connections
  from one background thread (a :mod:`selectors` loop), so handler calls never overlap.

The pipeline of every link: bytes → :class:`~oracle.hj212.FrameScanner` (resynchronises on
garbage) → :func:`~oracle.hj212.parse` (CRC, fields) → the authenticator (device code and
``PW`` password, before anything is kept) → :class:`~oracle.hj212.Reassembler`
(packet-split messages, bounded per link) → the handler → the data answer (CN=9014) when the
frame's Flag asks for one → the commands the handler returned (history requests), if any.

Design choices:

* **The answer follows durability.** The handler is where a reading is stored durably; the
  9014 answer is written on the same link only after the handler returned. A handler that
  raises is logged and counted and no answer is sent, so the device keeps the data and
  resends it.
* A packet-split message is answered once, after its joined frame was handled (all packets
  share the QN the answer names); packets of an incomplete message are not answered.
* Nothing on the wire crashes a loop: every defect is counted in :class:`TransportStats`
  (``frames_bad`` by error class name) and logged without the frame's bytes, since they hold
  the ``PW=`` password.
* **A refused frame is not answered and keeps nothing.** The authenticator (the gateway's
  password check) sees every packet before the reassembler holds any of it; a packet it refuses
  is counted (``frames_bad`` by error class) and dropped. The reassembler holds at most
  ``max_packets`` packets per message and ``max_pending_bytes`` per link.
* **Only a valid frame keeps a TCP connection open**: the idle timer restarts on a frame that
  parsed and passed the authenticator, not on any byte; each peer address may hold at most
  ``max_connections_per_address`` connections.
* A serial port that fails (unplugged adapter, closed pseudo-terminal) is reopened every
  ``reconnect_delay`` seconds until :meth:`SerialFrameReader.stop`.
"""

from __future__ import annotations

import contextlib
import logging
import re
import selectors
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from types import TracebackType
from typing import Literal, Self

import serial
from pydantic import BaseModel, ConfigDict, Field, field_validator

from oracle.errors import FrameError, TransportOpenError, TransportStateError
from oracle.hj212 import (
    MAX_DATA_LEN,
    MAX_DATA_LEN_FIELD,
    MAX_PACKETS,
    MAX_PENDING_BYTES,
    CrcVariant,
    Frame,
    FrameScanner,
    Reassembler,
    data_ack,
    parse,
)

__all__ = [
    "CrcOf",
    "FrameAuthenticator",
    "FrameHandler",
    "FrameLink",
    "SerialFrameReader",
    "SerialSettings",
    "StatsSnapshot",
    "TcpFrameServer",
    "TcpSettings",
    "TransportStats",
]

logger = logging.getLogger(__name__)

#: Called with every checked (and, when split, joined) frame; raise to refuse it (no answer).
#: It may return frames (wire text) to send to the device on the same link after the data
#: answer, e.g. the gateway's history requests for a gap it found.
FrameHandler = Callable[[Frame], Sequence[str] | None]
#: Called with every parsed frame (each packet of a split message) before anything of it is
#: kept; raise a :class:`~oracle.errors.FrameError` or :class:`~oracle.errors.GatewayError`
#: to refuse it (dropped, counted, not answered).
FrameAuthenticator = Callable[[Frame], None]
#: The checksum variant of a device code (the site file's per-device ``crc``); a frame is parsed
#: only under its device's variant, so one link may serve devices of both variants.
CrcOf = Callable[[str], CrcVariant]

_MN_FIELD = re.compile(rb"(?:^|;)MN=([^;&]*);")


def _crc_variant(raw: bytes, crc_of: CrcOf | None) -> CrcVariant:
    # The device code is read from the data segment before the CRC is checked, only to pick
    # the variant; parse() then checks everything under that variant alone.
    if crc_of is None:
        return "hj212"
    found = _MN_FIELD.search(raw, 6, max(len(raw) - 6, 6))
    if found is None:
        return "hj212"
    try:
        return crc_of(found.group(1).decode("ascii"))
    except UnicodeDecodeError:
        return "hj212"


# --- statistics -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StatsSnapshot:
    """A consistent copy of a transport's counters (see :class:`TransportStats`)."""

    bytes_received: int
    bytes_discarded: int
    frames_ok: int
    frames_bad: dict[str, int]
    handled: int
    handler_errors: int
    acks_sent: int
    ack_errors: int
    connections: int
    connections_refused: int


@dataclass
class TransportStats:
    """Counters of one transport, shared by its links; safe to read from any thread.

    Attributes:
        bytes_received: bytes read from the line or sockets.
        bytes_discarded: bytes not delivered in a checked frame: garbage the scanner skipped
            plus whole frames :func:`~oracle.hj212.parse` refused.
        frames_ok: frames that parsed and joined cleanly (each packet of a split message).
        frames_bad: defects and refusals by error class name (``FrameChecksumError``,
            ``FramePasswordError``, ``ReassemblyLimitError`` ...); a run of garbage counts once
            per read it spans (as ``FrameSyntaxError``).
        handled: messages the handler accepted.
        handler_errors: messages the handler raised on (not answered).
        acks_sent: data answers written.
        ack_errors: answers that could not be built (no QN) or written.
        connections: TCP connections accepted (0 for serial).
        connections_refused: TCP connections closed at once (server or per-address limit).
    """

    bytes_received: int = 0
    bytes_discarded: int = 0
    frames_ok: int = 0
    frames_bad: Counter[str] = field(default_factory=Counter)
    handled: int = 0
    handler_errors: int = 0
    acks_sent: int = 0
    ack_errors: int = 0
    connections: int = 0
    connections_refused: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def snapshot(self) -> StatsSnapshot:
        """A consistent copy of every counter."""
        with self._lock:
            return StatsSnapshot(
                self.bytes_received,
                self.bytes_discarded,
                self.frames_ok,
                dict(self.frames_bad),
                self.handled,
                self.handler_errors,
                self.acks_sent,
                self.ack_errors,
                self.connections,
                self.connections_refused,
            )


# --- one link -------------------------------------------------------------------------------


class FrameLink:
    """The receive pipeline of one serial line or TCP connection.

    Not thread-safe: one link is fed by one thread. Transports build their links; use this
    class directly only to run the pipeline over bytes from elsewhere.

    Args:
        name: label used in logs (``/dev/ttyS0``, ``10.0.0.7:51234``); never holds secrets.
        handler: called with each checked, joined frame.
        send: writes an answer on the same link; may raise :class:`OSError`.
        stats: counters to update (shared by the links of one transport).
        max_data_len: largest data segment accepted.
        encoding: text encoding of data segments and answers.
        reassembler: joins split messages; a fresh one (600 s timeout) when ``None``.
        authenticate: checks each parsed frame before anything of it is kept (see
            :data:`FrameAuthenticator`); ``None`` accepts every frame that parses.
        crc_of: the checksum variant of each device code (:data:`CrcOf`); ``None``: every
            device uses HJ 212-2017 Appendix A.
    """

    def __init__(
        self,
        name: str,
        handler: FrameHandler,
        send: Callable[[bytes], None],
        stats: TransportStats,
        *,
        max_data_len: int = MAX_DATA_LEN,
        encoding: str = "ascii",
        reassembler: Reassembler | None = None,
        authenticate: FrameAuthenticator | None = None,
        crc_of: CrcOf | None = None,
    ) -> None:
        self.name = name
        self._crc_of = crc_of
        self._handler = handler
        self._send = send
        self._stats = stats
        self._max_data_len = max_data_len
        self._encoding = encoding
        self._scanner = FrameScanner(max_data_len=max_data_len)
        self._reassembler = reassembler if reassembler is not None else Reassembler()
        self._authenticate = authenticate
        self.valid_frames = 0

    @property
    def buffered(self) -> int:
        """Bytes held back, waiting for the rest of a frame."""
        return self._scanner.buffered

    @property
    def pending_bytes(self) -> int:
        """Bytes of incomplete split messages held for this link."""
        return self._reassembler.pending_bytes

    def feed(self, data: bytes) -> None:
        """Take bytes received on the link; handle and answer every frame they complete.

        Never raises for anything on the wire or in the handler; :meth:`send` failures are
        counted as ``ack_errors``.
        """
        stats = self._stats
        before = self._scanner.buffered
        items = self._scanner.feed(data)
        cut = sum(len(item) for item in items if isinstance(item, bytes))
        with stats._lock:
            stats.bytes_received += len(data)
            stats.bytes_discarded += before + len(data) - self._scanner.buffered - cut
        for item in items:
            if isinstance(item, FrameError):
                self._bad(item, raw_len=0)
            else:
                self._frame(item)

    def _bad(self, error: Exception, *, raw_len: int, device: str | None = None) -> None:
        name = type(error).__name__
        with self._stats._lock:
            self._stats.frames_bad[name] += 1
            self._stats.bytes_discarded += raw_len
        logger.warning(
            "dropped bad input on %s: %s: %s",
            self.name,
            name,
            str(error),  # not the exception: a kept log record would hold its frames
            extra={"link": self.name, "error": name, "bytes": raw_len, "device": device},
        )

    def _frame(self, raw: bytes) -> None:
        """Parse, join, handle and answer one frame the scanner cut out."""
        try:
            frame = parse(
                raw,
                max_data_len=self._max_data_len,
                encoding=self._encoding,
                crc=_crc_variant(raw, self._crc_of),
            )
        except FrameError as error:
            self._bad(error, raw_len=len(raw))
            return
        if self._authenticate is not None:
            try:
                self._authenticate(frame)
            except Exception as error:  # a refusal (or a fault in the check): dropped unanswered
                self._bad(error, raw_len=len(raw), device=frame.mn)
                return
        try:
            whole = self._reassembler.add(frame)
        except FrameError as error:
            self._bad(error, raw_len=len(raw), device=frame.mn)
            return
        self.valid_frames += 1
        with self._stats._lock:
            self._stats.frames_ok += 1
        if whole is not None:
            self._deliver(whole)

    def _deliver(self, frame: Frame) -> None:
        stats = self._stats
        try:
            commands = self._handler(frame)
        except Exception:
            with stats._lock:
                stats.handler_errors += 1
            logger.exception(
                "handler refused frame on %s; no answer sent",
                self.name,
                extra={"link": self.name, "device": frame.mn, "cn": frame.cn, "qn": frame.qn},
            )
            return
        with stats._lock:
            stats.handled += 1
        if frame.needs_ack:
            try:
                answer = data_ack(frame).encode(self._encoding)
                self._send(answer)
            except (FrameError, OSError) as error:
                with stats._lock:
                    stats.ack_errors += 1
                logger.warning(
                    "could not answer frame on %s: %s",
                    self.name,
                    type(error).__name__,
                    extra={"link": self.name, "device": frame.mn, "qn": frame.qn},
                )
                return
            with stats._lock:
                stats.acks_sent += 1
        for command in commands or ():
            try:
                self._send(command.encode(self._encoding))
            except (UnicodeEncodeError, OSError) as error:
                with stats._lock:
                    stats.ack_errors += 1
                logger.warning(
                    "could not send a command on %s: %s",
                    self.name,
                    type(error).__name__,
                    extra={"link": self.name, "device": frame.mn},
                )
                return


# --- serial ---------------------------------------------------------------------------------


class SerialSettings(BaseModel):
    """Settings of one serial line (HJ 212 controllers default to 9600 8N1).

    Attributes:
        port: device path or pyserial URL (``/dev/ttyUSB0``, ``/dev/pts/3``, ``loop://``,
            ``socket://host:port``, ``rfc2217://host:port``).
        baudrate: line speed in bit/s.
        bytesize: data bits.
        parity: ``N`` none, ``E`` even, ``O`` odd, ``M`` mark, ``S`` space.
        stopbits: stop bits.
        timeout: read timeout in seconds; bounds how long :meth:`SerialFrameReader.stop` waits
            on ports that cannot cancel a read.
        write_timeout: seconds an answer may take to write before it counts as failed.
        reconnect_delay: seconds between attempts to reopen a failed port.
        max_data_len: largest data segment accepted (the standard's 1024 by default).
        encoding: text encoding of data segments (``gbk`` for devices sending Chinese).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    port: str = Field(min_length=1)
    baudrate: int = Field(default=9600, gt=0)
    bytesize: Literal[5, 6, 7, 8] = 8
    parity: Literal["N", "E", "O", "M", "S"] = "N"
    stopbits: float = 1

    @field_validator("stopbits")
    @classmethod
    def _known_stopbits(cls, value: float) -> float:
        if value not in (1, 1.5, 2):
            raise ValueError("stopbits must be 1, 1.5 or 2")
        return value

    timeout: float = Field(default=0.2, gt=0)
    write_timeout: float = Field(default=1.0, gt=0)
    reconnect_delay: float = Field(default=1.0, ge=0)
    max_data_len: int = Field(default=MAX_DATA_LEN, ge=0, le=MAX_DATA_LEN_FIELD)
    encoding: str = "ascii"


class SerialFrameReader:
    """Reads HJ 212 frames from one serial line in a background thread.

    Use as a context manager, or call :meth:`start` and :meth:`stop`::

        with SerialFrameReader(SerialSettings(port="/dev/ttyUSB0"), store) as reader:
            ...

    Args:
        settings: the line's settings.
        handler: called in the reader thread with each checked frame (see :class:`FrameLink`).
        reassembler: joins split messages; a fresh one when ``None``.
        authenticate: checks each parsed frame before anything of it is kept.
        crc_of: the checksum variant of each device code (:data:`CrcOf`).
    """

    def __init__(
        self,
        settings: SerialSettings,
        handler: FrameHandler,
        *,
        reassembler: Reassembler | None = None,
        authenticate: FrameAuthenticator | None = None,
        crc_of: CrcOf | None = None,
    ) -> None:
        self.settings = settings
        self.stats = TransportStats()
        self._port: serial.Serial | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._started = False
        self._link = FrameLink(
            settings.port,
            handler,
            self._write,
            self.stats,
            max_data_len=settings.max_data_len,
            encoding=settings.encoding,
            reassembler=reassembler,
            authenticate=authenticate,
            crc_of=crc_of,
        )

    @property
    def running(self) -> bool:
        """Whether the reader thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Open the port, then start the reader thread.

        The port is open (and, for a terminal, in raw mode) when this returns, so a device
        may start writing.

        Raises:
            TransportOpenError: the port cannot be opened.
            TransportStateError: the reader was started before.
        """
        if self._started:
            raise TransportStateError(f"serial reader for {self.settings.port} was already started")
        self._port = self._open()
        self._started = True
        self._thread = threading.Thread(
            target=self._run, name=f"hj212-serial-{self.settings.port}", daemon=True
        )
        self._thread.start()
        logger.info("serial reader started on %s", self.settings.port, extra={"link": self.settings.port})

    def stop(self, timeout: float = 5.0) -> None:
        """Stop reading, join the thread and close the port; safe to call more than once.

        Args:
            timeout: seconds to wait for the thread (a handler in progress finishes first).
        """
        self._stopping.set()
        port = self._port
        if port is not None:
            cancel = getattr(port, "cancel_read", None)
            if callable(cancel):
                # The port may be closed already, or of a kind whose read cannot be cancelled.
                with contextlib.suppress(OSError, ValueError, AttributeError, TypeError):
                    cancel()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.error("serial reader thread did not stop within %.1f s", timeout)
                return
        self._close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _open(self) -> serial.Serial:
        s = self.settings
        try:
            return serial.serial_for_url(
                s.port,
                baudrate=s.baudrate,
                bytesize=s.bytesize,
                parity=s.parity,
                stopbits=s.stopbits,
                timeout=s.timeout,
                write_timeout=s.write_timeout,
            )
        except (OSError, ValueError) as error:  # SerialException is an OSError
            raise TransportOpenError(f"cannot open serial port {s.port}: {error}") from error

    def _close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except OSError:
                logger.debug("error closing %s", self.settings.port, exc_info=True)

    def _write(self, data: bytes) -> None:
        port = self._port
        if port is None:
            raise OSError(f"serial port {self.settings.port} is closed")
        port.write(data)

    def _run(self) -> None:
        name = self.settings.port
        while not self._stopping.is_set():
            port = self._port
            if port is None:
                try:
                    self._port = self._open()
                    logger.info("serial port %s reopened", name, extra={"link": name})
                except TransportOpenError as error:
                    logger.warning("%s; retrying", error, extra={"link": name})
                    self._stopping.wait(self.settings.reconnect_delay)
                continue
            try:
                data = port.read(port.in_waiting or 1)
            except (OSError, ValueError, TypeError) as error:
                if self._stopping.is_set():
                    break
                logger.warning("serial port %s failed: %s; reopening", name, error, extra={"link": name})
                self._close()
                self._stopping.wait(self.settings.reconnect_delay)
                continue
            if data:
                self._link.feed(data)
        logger.info("serial reader stopped on %s", name, extra={"link": name})


# --- TCP ------------------------------------------------------------------------------------


class TcpSettings(BaseModel):
    """Settings of the platform port controllers push HJ 212 frames to.

    Attributes:
        host: address to bind; ``0.0.0.0`` to accept controllers from the network.
        port: TCP port; 0 picks a free one (see :attr:`TcpFrameServer.address`).
        backlog: listen queue length.
        max_connections: connections served at once; more are accepted and closed at once.
        max_connections_per_address: connections one peer address may hold at once; more
            are accepted and closed at once (behind a TLS front on the same host every
            controller comes from its address: raise it to ``max_connections`` there).
        idle_timeout: seconds without a valid frame after which a connection is closed
            (half-open links of controllers that lost power, peers that send garbage or
            nothing); ``None`` keeps them forever.
        recv_size: largest read per ``recv`` call.
        max_send_buffer: answer bytes a connection may leave unread before it is closed.
        max_data_len: largest data segment accepted (the standard's 1024 by default).
        encoding: text encoding of data segments.
        max_packets: most packets of one split message.
        max_pending_bytes: most bytes of incomplete split messages held per connection.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    backlog: int = Field(default=128, gt=0)
    max_connections: int = Field(default=1024, gt=0)
    max_connections_per_address: int = Field(default=16, gt=0)
    idle_timeout: float | None = Field(default=900.0, gt=0)
    recv_size: int = Field(default=65536, gt=0)
    max_send_buffer: int = Field(default=65536, gt=0)
    max_data_len: int = Field(default=MAX_DATA_LEN, ge=0, le=MAX_DATA_LEN_FIELD)
    encoding: str = "ascii"
    max_packets: int = Field(default=MAX_PACKETS, gt=0, le=9999)
    max_pending_bytes: int = Field(default=MAX_PENDING_BYTES, gt=0)


@dataclass(eq=False)
class _Connection:
    sock: socket.socket
    name: str
    address: str
    link: FrameLink | None = None
    outbox: bytearray = field(default_factory=bytearray)
    last_seen: float = 0.0
    writing: bool = False
    closing: bool = False


class TcpFrameServer:
    """A TCP platform port: accepts many controller connections, one frame pipeline each.

    All connections are served by one background thread, so the handler is never called
    concurrently; keep it short (a durable append), as it holds up every link while it runs.

    Args:
        settings: address and limits.
        handler: called in the server thread with each checked frame.
        reassembler_timeout: seconds a split message may wait for its missing packets.
        authenticate: checks each parsed frame before anything of it is kept; only frames
            it passes restart a connection's idle timer.
        crc_of: the checksum variant of each device code (:data:`CrcOf`).
    """

    def __init__(
        self,
        settings: TcpSettings,
        handler: FrameHandler,
        *,
        reassembler_timeout: float = 600.0,
        authenticate: FrameAuthenticator | None = None,
        crc_of: CrcOf | None = None,
    ) -> None:
        self.settings = settings
        self.stats = TransportStats()
        self._handler = handler
        self._authenticate = authenticate
        self._crc_of = crc_of
        self._per_address: Counter[str] = Counter()
        self._reassembler_timeout = reassembler_timeout
        self._selector = selectors.DefaultSelector()
        self._listener: socket.socket | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._connections: dict[socket.socket, _Connection] = {}
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._started = False
        self._address: tuple[str, int] | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port), with the real port when ``port=0`` was asked.

        Raises:
            TransportStateError: the server was not started.
        """
        if self._address is None:
            raise TransportStateError("TCP server is not started")
        return self._address

    @property
    def connections(self) -> int:
        """Connections currently open."""
        return len(self._connections)

    @property
    def pending_bytes(self) -> int:
        """Bytes held for open connections: partial frames plus incomplete split messages."""
        return sum(c.link.buffered + c.link.pending_bytes for c in list(self._connections.values()) if c.link)

    @property
    def running(self) -> bool:
        """Whether the server thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Bind and listen, then start the server thread.

        Raises:
            TransportOpenError: the address cannot be bound.
            TransportStateError: the server was started before.
        """
        if self._started:
            raise TransportStateError("TCP server was already started")
        s = self.settings
        try:
            listener = socket.create_server((s.host, s.port), backlog=s.backlog, reuse_port=False)
        except OSError as error:
            raise TransportOpenError(f"cannot listen on {s.host}:{s.port}: {error}") from error
        listener.setblocking(False)
        self._listener = listener
        host, port = listener.getsockname()[:2]
        self._address = (str(host), int(port))
        self._selector.register(listener, selectors.EVENT_READ, None)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._started = True
        self._thread = threading.Thread(target=self._run, name=f"hj212-tcp-{port}", daemon=True)
        self._thread.start()
        logger.info("TCP server listening on %s:%d", host, port, extra={"link": f"{host}:{port}"})

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, join the thread, close every connection; safe to call twice.

        Args:
            timeout: seconds to wait for the thread (a handler in progress finishes first).
        """
        self._stopping.set()
        # Already closed, or the wake-up buffer is full: the loop wakes anyway.
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.error("TCP server thread did not stop within %.1f s", timeout)
                return
        for connection in list(self._connections.values()):
            self._drop(connection, "server stopping")
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._wake_r.close()
        self._wake_w.close()
        self._selector.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        tick = 1.0 if self.settings.idle_timeout is None else min(1.0, self.settings.idle_timeout / 4)
        while not self._stopping.is_set():
            try:
                events = self._selector.select(tick)
            except OSError:  # pragma: no cover - selector closed under us
                break
            for key, mask in events:
                connection: _Connection | None = key.data
                if connection is None:
                    if key.fileobj is self._listener:
                        self._accept()
                    else:
                        self._drain_wake()
                    continue
                if connection.sock not in self._connections:
                    continue  # dropped earlier in this round
                if mask & selectors.EVENT_READ:
                    self._receive(connection)
                    if connection.sock not in self._connections:
                        continue
                if mask & selectors.EVENT_WRITE and not connection.closing:
                    self._flush(connection)
                if connection.closing:
                    self._drop(connection, "answers could not be written")
            self._expire_idle()
        logger.info("TCP server stopped", extra={"link": f"{self._address}"})

    def _drain_wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while self._wake_r.recv(4096):
                pass

    def _accept(self) -> None:
        listener = self._listener
        while listener is not None:
            try:
                sock, peer = listener.accept()
            except BlockingIOError:
                return
            except OSError as error:
                logger.warning("accept failed: %s", error)
                return
            address = str(peer[0])
            name = f"{address}:{peer[1]}"
            with self.stats._lock:
                self.stats.connections += 1
            refusal = None
            if len(self._connections) >= self.settings.max_connections:
                refusal = f"{len(self._connections)} connections open"
            elif self._per_address[address] >= self.settings.max_connections_per_address:
                refusal = f"{self._per_address[address]} connections open from {address}"
            if refusal is not None:
                with self.stats._lock:
                    self.stats.connections_refused += 1
                logger.warning("refusing %s: %s", name, refusal, extra={"link": name})
                sock.close()
                continue
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = _Connection(sock, name, address, last_seen=time.monotonic())
            connection.link = FrameLink(
                name,
                self._handler,
                partial(self._queue, connection),
                self.stats,
                max_data_len=self.settings.max_data_len,
                encoding=self.settings.encoding,
                reassembler=Reassembler(
                    timeout=self._reassembler_timeout,
                    max_packets=self.settings.max_packets,
                    max_pending_bytes=self.settings.max_pending_bytes,
                ),
                authenticate=self._authenticate,
                crc_of=self._crc_of,
            )
            self._connections[sock] = connection
            self._per_address[address] += 1
            self._selector.register(sock, selectors.EVENT_READ, connection)
            logger.info("controller connected from %s", name, extra={"link": name})

    def _receive(self, connection: _Connection) -> None:
        try:
            data = connection.sock.recv(self.settings.recv_size)
        except BlockingIOError:
            return
        except OSError as error:
            self._drop(connection, f"receive failed: {error}")
            return
        if not data:
            self._drop(connection, "closed by peer")
            return
        link = connection.link
        assert link is not None
        valid = link.valid_frames
        link.feed(data)
        if link.valid_frames != valid:  # bytes alone (garbage, refused frames) keep no link open
            connection.last_seen = time.monotonic()

    def _queue(self, connection: _Connection, data: bytes) -> None:
        """Send an answer (the link's ``send``); raises :class:`OSError` when it cannot."""
        if connection.closing:
            raise OSError(f"connection {connection.name} is closing")
        connection.outbox += data
        if len(connection.outbox) > self.settings.max_send_buffer:
            connection.closing = True
            raise OSError(f"{connection.name} leaves its answers unread")
        if not connection.writing and not self._flush(connection):
            raise OSError(f"send to {connection.name} failed")

    def _flush(self, connection: _Connection) -> bool:
        """Write what the socket takes now; watch for writability while bytes remain."""
        try:
            sent = connection.sock.send(connection.outbox)
        except BlockingIOError:
            sent = 0
        except OSError as error:
            connection.closing = True
            logger.info("send to %s failed: %s", connection.name, error, extra={"link": connection.name})
            return False
        del connection.outbox[:sent]
        writing = bool(connection.outbox)
        if writing != connection.writing:
            connection.writing = writing
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if writing else 0)
            self._selector.modify(connection.sock, events, connection)
        return True

    def _expire_idle(self) -> None:
        limit = self.settings.idle_timeout
        if limit is None:
            return
        now = time.monotonic()
        for connection in list(self._connections.values()):
            if now - connection.last_seen > limit:
                self._drop(connection, f"idle for more than {limit:g} s")

    def _drop(self, connection: _Connection, why: str) -> None:
        if self._connections.pop(connection.sock, None) is None:
            return
        self._per_address[connection.address] -= 1
        if self._per_address[connection.address] <= 0:
            del self._per_address[connection.address]
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(connection.sock)
        pending = connection.link.buffered if connection.link is not None else 0
        if pending:
            with self.stats._lock:
                self.stats.bytes_discarded += pending
        connection.sock.close()
        logger.info("controller %s disconnected: %s", connection.name, why, extra={"link": connection.name})
