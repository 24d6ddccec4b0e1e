"""Factories for production-report tests: BatchAnchored events, and a plant whose controller's
minute frames go through a real gateway, queue and anchorer onto the ledger."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from chain.anchoring import BatchAnchoredEvent, BatchTotal, LedgerAnchorPort
from oracle.anchor import Anchorer, AnchorReport
from oracle.gateway import Gateway, GatewayDevice
from oracle.queue import Queue
from oracle.signing.eip712 import ReadingDomain
from tests.conftest import Consortium
from tests.utils.readings import device_key, device_password, minute_frame, signer

ENTERPRISE = "0x" + "e1" * 20
OTHER = "0x" + "e2" * 20
DEVICE = "0x" + "d1" * 20


def total(pollutant: str, text: str, unit: str = "kg") -> BatchTotal:
    """A batch total from decimal text (``"26.400"`` → total 26400, decimals 3)."""
    value = Decimal(text)
    decimals = max(0, -int(value.as_tuple().exponent))
    return BatchTotal(pollutant, unit, int(value.scaleb(decimals)), decimals)


def event(
    period_start: int,
    totals: Sequence[BatchTotal],
    *,
    enterprise: str = ENTERPRISE,
    count: int = 4,
    period_end: int | None = None,
    block: int = 1,
) -> BatchAnchoredEvent:
    """A ``BatchAnchored`` event of ``enterprise``'s device with the given period and totals."""
    return BatchAnchoredEvent(
        batch_id=bytes(32), device=DEVICE, enterprise=enterprise, first_sequence=1, last_sequence=count,
        previous_sequence=0, period_start=period_start,
        period_end=period_start + 60 if period_end is None else period_end, count=count, root=bytes(32),
        totals=tuple(totals), block=block, log_index=0, tx_hash="0x" + "00" * 32,
    )  # fmt: skip


def wastewater(
    cod_kg: str, nh3_kg: str = "1.613", flow_m3: str = "750.0"
) -> tuple[tuple[str, str, str | None], ...]:
    """Factors of a wastewater minute frame: flow (m3), COD and NH3-N (kg) totals, pH."""
    return (
        ("w00000", "12.50", flow_m3),
        ("w01018", "35.2", cod_kg),
        ("w21003", "2.15", nh3_kg),
        ("w01001", "7.21", None),
    )


#: Readings one wastewater minute frame yields: Avg and Cou of flow, COD and NH3-N, pH's Avg.
READINGS_PER_MINUTE = 7


@dataclass
class Plant:
    """An enterprise's controller behind a gateway that anchors on the consortium's ledger."""

    c: Consortium
    enterprise: str
    mn: str
    gateway: Gateway
    anchorer: Anchorer

    def feed(self, minutes: Sequence[tuple[datetime, tuple[tuple[str, str, str | None], ...]]]) -> None:
        """Send one minute frame per (local DataTime, factors)."""
        for when, factors in minutes:
            self.gateway.handle(minute_frame(self.mn, when, factors=factors))

    def anchor(self) -> AnchorReport:
        """Cut and anchor everything queued."""
        return self.anchorer.step(flush=True)


#: The plant gateway's clock: after every DataTime the production tests send.
SITE_CLOCK = datetime(2028, 1, 1).timestamp()


@contextmanager
def plant(c: Consortium, enterprise: str, *, mn: str = "33100000000777", seed: int = 77) -> Iterator[Plant]:
    """A plant of the registered ``enterprise``: its device bound on-chain, gateway and anchorer."""
    domain = ReadingDomain(c.chain.chain_id, c.ledger.address)
    c.registry.bind_device(
        c.regulator, signer(seed, domain=domain).address, enterprise, mn, oracle=c.oracle.address
    )
    gateway = Gateway(
        [GatewayDevice(mn, enterprise, device_key(seed), device_password(mn))],
        Queue(),
        domain,
        directory=c.registry,
        clock=lambda: SITE_CLOCK,
    )
    anchorer = Anchorer(
        gateway.queue,
        LedgerAnchorPort(c.ledger, c.oracle),
        max_size=64,
        max_age_seconds=3600,
        enterprises=gateway.enterprises,
    )
    try:
        yield Plant(c, enterprise, mn, gateway, anchorer)
    finally:
        gateway.queue.close()
