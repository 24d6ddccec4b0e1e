"""Factories of the back-fill tests: clean virtual controllers and a chain-less gateway for them."""

from __future__ import annotations

from datetime import datetime, timedelta

from oracle.gateway import CHINA_STANDARD_TIME, Gateway, GatewayDevice
from oracle.queue import Queue
from oracle.simulator.controller import VirtualController
from oracle.simulator.profiles import SiteKind, device_mn
from tests.utils.readings import DOMAIN, device_key

START = datetime(2027, 3, 1, 0, 0)
PASSWORD = "pw-bf0001"
LATE = datetime(2028, 1, 1).replace(tzinfo=CHINA_STANDARD_TIME).timestamp()
MINUTE = timedelta(minutes=1)


def controllers(count: int, *, seed: int = 40) -> list[VirtualController]:
    """``count`` wastewater controllers without faults, device numbers 1.., one password."""
    return [
        VirtualController(
            device_mn(i + 1),
            SiteKind.WASTEWATER,
            start=START,
            seed=seed + i,
            password=PASSWORD,
            fault_rate=0.0,
        )
        for i in range(count)
    ]


def gateway(queue: Queue, count: int, **kwargs: object) -> Gateway:
    """A gateway without a chain for the first ``count`` controllers, its clock well after them."""
    devices = [
        GatewayDevice(device_mn(i + 1), f"0x{i + 1:040x}", device_key(i + 1), PASSWORD) for i in range(count)
    ]
    return Gateway(devices, queue, DOMAIN, clock=lambda: LATE, **kwargs)  # type: ignore[arg-type]
