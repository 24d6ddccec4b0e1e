"""Many simulated controllers at once, one thread each, over pseudo-terminals or TCP."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Self

from oracle.errors import SimulationStateError, SimulatorConfigError
from oracle.simulator.controller import VirtualController
from oracle.simulator.forward import ControllerStats, LinkSettings, StoreAndForward
from oracle.simulator.links import DeviceLink, PtyLink, TcpLink

__all__ = [
    "Simulation",
    "run_on_pty",
    "run_over_tcp",
]

logger = logging.getLogger(__name__)


class Simulation:
    """Runs controllers in background threads, one each, every one on its own link.

    Use as a context manager or call :meth:`start`, :meth:`join` and :meth:`stop`. The links
    stay open until :meth:`stop` (a gateway may still be reading them after the last frame).

    Args:
        controllers: the controllers.
        links: one link per controller, in the same order; closed by :meth:`stop`.
        frames: minute frames each controller sends.
        interval: real seconds between minute frames (0: as fast as answers allow).
        settings: upload timeouts and retries.

    Raises:
        SimulatorConfigError: the counts of controllers and links differ, a negative frame
            count or interval, or two controllers share an MN.
    """

    def __init__(
        self,
        controllers: Sequence[VirtualController],
        links: Sequence[DeviceLink],
        *,
        frames: int,
        interval: float = 0.0,
        settings: LinkSettings | None = None,
    ) -> None:
        if len(controllers) != len(links):
            raise SimulatorConfigError(f"{len(controllers)} controllers but {len(links)} links")
        if frames < 0 or not interval >= 0:
            raise SimulatorConfigError("frame count and interval must not be negative")
        if len({c.mn for c in controllers}) != len(controllers):
            raise SimulatorConfigError("two controllers share an MN")
        self.frames = frames
        self.interval = interval
        self._stop = threading.Event()
        self._senders = [
            StoreAndForward(controller, link, settings, stop=self._stop)
            for controller, link in zip(controllers, links, strict=True)
        ]
        self._threads: list[threading.Thread] = []
        self._errors: dict[str, BaseException] = {}
        self._errors_lock = threading.Lock()
        self._started = False
        self._closed = False

    @property
    def controllers(self) -> list[VirtualController]:
        """The controllers, in order."""
        return [s.controller for s in self._senders]

    @property
    def links(self) -> list[DeviceLink]:
        """The links, in controller order."""
        return [s.link for s in self._senders]

    @property
    def ports(self) -> list[str]:
        """Slave device paths of the pseudo-terminal links, in controller order."""
        return [s.link.path for s in self._senders if isinstance(s.link, PtyLink)]

    @property
    def done(self) -> bool:
        """Whether every controller sent all its frames."""
        return self._started and all(s.snapshot().done for s in self._senders)

    @property
    def errors(self) -> dict[str, BaseException]:
        """Unexpected errors that ended a controller's thread, by MN."""
        with self._errors_lock:
            return dict(self._errors)

    def start(self) -> None:
        """Start one thread per controller.

        Raises:
            SimulationStateError: started before, or stopped.
        """
        if self._started or self._closed:
            raise SimulationStateError("simulation was already started or stopped")
        self._started = True
        for sender in self._senders:
            thread = threading.Thread(
                target=self._run, args=(sender,), name=f"hj212-sim-{sender.controller.mn}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        logger.info("simulation started with %d controllers", len(self._senders))

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every controller is done (or stopped).

        Args:
            timeout: seconds to wait in all; ``None`` waits for ever.

        Returns:
            ``True`` when every thread ended.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every controller, join the threads and close the links; safe to call twice.

        Args:
            timeout: seconds to wait for the threads in all.
        """
        self._stop.set()
        if not self.join(timeout):
            logger.error("simulation threads did not stop within %.1f s", timeout)
        if not self._closed:
            self._closed = True
            for sender in self._senders:
                try:
                    sender.link.close()
                except OSError:
                    logger.debug("error closing %s", sender.link.name, exc_info=True)

    def stats(self) -> dict[str, ControllerStats]:
        """A consistent copy of each controller's counters, by MN."""
        return {s.controller.mn: s.snapshot() for s in self._senders}

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

    def _run(self, sender: StoreAndForward) -> None:
        mn = sender.controller.mn
        try:
            sender.run(self.frames, interval=self.interval)
        except Exception as error:
            with self._errors_lock:
                self._errors[mn] = error
            logger.exception("controller stopped by an error", extra={"device": mn})


def run_on_pty(
    controllers: Sequence[VirtualController],
    *,
    frames: int,
    interval: float = 0.0,
    settings: LinkSettings | None = None,
    start: bool = True,
) -> Simulation:
    """Give each controller a pseudo-terminal and (unless ``start=False``) start sending.

    A gateway opens each path of :attr:`Simulation.ports` with
    ``SerialFrameReader(SerialSettings(port=path), handler)``. Start the simulation after the
    readers to avoid resends of frames written before a reader opened its port.

    Args:
        controllers: the controllers.
        frames: minute frames each controller sends.
        interval: real seconds between minute frames.
        settings: upload timeouts and retries.
        start: start the threads before returning.

    Returns:
        The simulation; call :meth:`Simulation.stop` to close the terminals.

    Raises:
        OSError: no pseudo-terminal is available.
        SimulatorConfigError: see :class:`Simulation`.
    """
    links: list[PtyLink] = []
    try:
        for _ in controllers:
            links.append(PtyLink())
        simulation = Simulation(controllers, links, frames=frames, interval=interval, settings=settings)
    except BaseException:
        for link in links:
            link.close()
        raise
    if start:
        simulation.start()
    return simulation


def run_over_tcp(
    controllers: Sequence[VirtualController],
    host: str,
    port: int,
    *,
    frames: int,
    interval: float = 0.0,
    settings: LinkSettings | None = None,
    connect_timeout: float = 2.0,
    start: bool = True,
) -> Simulation:
    """Connect each controller to a platform port and (unless ``start=False``) start pushing.

    A refused or dropped connection (gateway restarted) is retried with a backoff and the
    unanswered frame resent.

    Args:
        controllers: the controllers.
        host: platform host.
        port: platform port.
        frames: minute frames each controller sends.
        interval: real seconds between minute frames.
        settings: upload timeouts and retries.
        connect_timeout: seconds each connection attempt may take.
        start: start the threads before returning.

    Returns:
        The simulation.

    Raises:
        SimulatorConfigError: see :class:`Simulation`.
    """
    links = [TcpLink(host, port, connect_timeout=connect_timeout) for _ in controllers]
    simulation = Simulation(controllers, links, frames=frames, interval=interval, settings=settings)
    if start:
        simulation.start()
    return simulation
