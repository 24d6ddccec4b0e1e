"""Links from a simulated controller to the gateway: a pseudo-terminal or a TCP connection."""

from __future__ import annotations

import contextlib
import os
import select
import socket
import time
import tty
from typing import Protocol

__all__ = [
    "DeviceLink",
    "PtyLink",
    "TcpLink",
]


class DeviceLink(Protocol):
    """The controller's end of a serial line or TCP connection."""

    @property
    def name(self) -> str:
        """A label for logs (a device path, ``host:port``); never holds secrets."""
        ...

    @property
    def connected(self) -> bool:
        """Whether :meth:`send` may be tried now."""
        ...

    def connect(self) -> None:
        """Open the link; raises :class:`OSError` when it cannot."""
        ...

    def send(self, data: bytes, timeout: float) -> None:
        """Write all of ``data`` within ``timeout`` seconds; raises :class:`OSError` otherwise."""
        ...

    def receive(self, timeout: float) -> bytes:
        """Bytes read within ``timeout`` seconds (``b""`` when none); raises :class:`OSError`."""
        ...

    def disconnect(self) -> None:
        """Drop the connection after a failure (a later :meth:`connect` reopens it)."""
        ...

    def close(self) -> None:
        """Release the link for good."""
        ...


class PtyLink:
    """A pseudo-terminal pair: the controller writes on the master, a gateway opens :attr:`path`.

    Both ends are in raw mode. The slave end stays open here too, so the line does not hang
    up while no gateway has it open; bytes written then wait in the terminal's buffer (and
    are flushed by a reader that resets its input when it opens: the resends cover that).

    Raises:
        OSError: no pseudo-terminal is available.
    """

    def __init__(self) -> None:
        master, slave = os.openpty()
        try:
            tty.setraw(master)
            tty.setraw(slave)
            os.set_blocking(master, False)
            self.path = os.ttyname(slave)
        except BaseException:
            os.close(master)
            os.close(slave)
            raise
        self._master: int | None = master
        self._slave: int | None = slave

    @property
    def name(self) -> str:
        """The slave device path."""
        return self.path

    @property
    def connected(self) -> bool:
        """Whether the pair is open."""
        return self._master is not None

    def connect(self) -> None:
        """Nothing to do: the pair is open from the start.

        Raises:
            OSError: the link was closed.
        """
        if self._master is None:
            raise OSError(f"pseudo-terminal {self.path} is closed")

    def send(self, data: bytes, timeout: float) -> None:
        """Write ``data`` on the master within ``timeout`` seconds.

        Raises:
            TimeoutError: the terminal's buffer stayed full (nobody reads the slave).
            OSError: the link is closed or the write failed.
        """
        fd = self._fd()
        view = memoryview(data)
        deadline = time.monotonic() + timeout
        while view:
            with contextlib.suppress(BlockingIOError):
                view = view[os.write(fd, view) :]
            if view:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"pseudo-terminal {self.path} takes no more bytes")
                select.select([], [fd], [], min(left, 0.05))

    def receive(self, timeout: float) -> bytes:
        """Bytes the gateway wrote on the slave within ``timeout`` seconds."""
        fd = self._fd()
        if not select.select([fd], [], [], max(timeout, 0.0))[0]:
            return b""
        try:
            return os.read(fd, 4096)
        except BlockingIOError:
            return b""

    def disconnect(self) -> None:
        """Nothing to drop: a terminal stays open."""

    def close(self) -> None:
        """Close both ends; safe to call twice."""
        master, slave, self._master, self._slave = self._master, self._slave, None, None
        for fd in (master, slave):
            if fd is not None:
                os.close(fd)

    def _fd(self) -> int:
        if self._master is None:
            raise OSError(f"pseudo-terminal {self.path} is closed")
        return self._master


class TcpLink:
    """A TCP connection to the platform port (a gateway's :class:`~oracle.transport.TcpFrameServer`).

    Args:
        host: platform host.
        port: platform port.
        connect_timeout: seconds a connection attempt may take.
    """

    def __init__(self, host: str, port: int, *, connect_timeout: float = 2.0) -> None:
        self.host = host
        self.port = port
        self._connect_timeout = connect_timeout
        self._sock: socket.socket | None = None

    @property
    def name(self) -> str:
        """``host:port`` of the platform."""
        return f"{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        """Whether a connection is open."""
        return self._sock is not None

    def connect(self) -> None:
        """Connect unless connected.

        Raises:
            OSError: the platform refused or did not answer.
        """
        if self._sock is None:
            sock = socket.create_connection((self.host, self.port), timeout=self._connect_timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock = sock

    def send(self, data: bytes, timeout: float) -> None:
        """Write all of ``data`` within ``timeout`` seconds.

        Raises:
            OSError: not connected, or the connection failed or stalled.
        """
        sock = self._connected_socket()
        sock.settimeout(timeout)
        sock.sendall(data)

    def receive(self, timeout: float) -> bytes:
        """Bytes the platform sent within ``timeout`` seconds.

        Raises:
            ConnectionResetError: the platform closed the connection.
            OSError: not connected, or the connection failed.
        """
        sock = self._connected_socket()
        if not select.select([sock], [], [], max(timeout, 0.0))[0]:
            return b""
        sock.settimeout(0.0)
        try:
            data = sock.recv(4096)
        except BlockingIOError:
            return b""
        if not data:
            raise ConnectionResetError(f"platform {self.name} closed the connection")
        return data

    def disconnect(self) -> None:
        """Close the connection (a later :meth:`connect` opens a new one)."""
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        self.disconnect()

    def _connected_socket(self) -> socket.socket:
        if self._sock is None:
            raise ConnectionError(f"not connected to {self.name}")
        return self._sock
