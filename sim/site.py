"""A simulated monitoring site end to end: devices bound on-chain, keystores, gateway, virtual controllers.

:func:`run_site_simulation` is what ``ets oracle simulate`` and the demo run:

1. :func:`prepare_site` binds ``devices`` simulated controllers to the demo enterprises
   (demo mode: the regulator's public demo key signs the bindings) and sets the gateway's
   oracle key as the one that may anchor their readings, writes each device key to an
   encrypted keystore under ``<state dir>/oracle/keys`` and a site file (0600) with each
   device's own access password and each enterprise's annual quota of its main pollutant
   (COD for wastewater, SO2 for flue gas) and IC card. Quotas are sized from a dry run of
   the same controllers so that, over the simulated period, some enterprises pass the 80 %
   and 90 % alarms and one has its valve closed;
2. the gateway service (:class:`~oracle.service.OracleService`) reads the controllers over
   pseudo-terminals (or its TCP platform port), checks every frame's password and DataTime
   (against the simulated clock: the end of the simulated period), signs, queues and anchors;
3. the controllers (:mod:`oracle.simulator`) send ``minutes`` minute frames each, with daily
   cycles, faults, gaps and a card swipe, as fast as the gateway answers; with ``drop_rate``
   some minute frames are lost in transit, and the gateway back-fills them with HJ 212-2017
   history requests (:mod:`oracle.backfill`) the controllers answer from their history;
   the first wastewater controller also plays :func:`field_script` (facility stopped,
   instrument maintenance, a parameter change, an over-standard hour) against the site file's
   concentration limits and facility settings, so a 12-hour run raises one field alarm of each
   kind (``SimulationResult.field_alarms``; the gateway's field store keeps them for the
   scheduler's relay);
4. once every frame is answered, the rest is anchored and the result summarised, with a chart.

Simulated device keys and passwords derive from a public seed: demo only, never for real devices.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr

from chain.accounts import account_from_key, demo_account, write_keystore
from chain.compile import compile_contracts
from chain.deploy import load_for_chain
from chain.errors import ConfigError
from chain.registry import RegistryClient
from chain.tx import ChainClient
from oracle.gateway import CHINA_STANDARD_TIME
from oracle.queue import Queue
from oracle.service import (
    DeviceEntry,
    FacilityEntry,
    LimitEntry,
    OracleService,
    OracleSettings,
    QuotaEntry,
    SiteConfig,
)
from oracle.signing.eip712 import ReadingDomain
from oracle.signing.hashing import keccak
from oracle.signing.signer import DeviceSigner
from oracle.simulator.controller import VirtualController, fleet
from oracle.simulator.field import FieldScript
from oracle.simulator.forward import LinkSettings
from oracle.simulator.profiles import SiteKind, card_id, device_mn, device_password
from oracle.simulator.simulation import run_on_pty, run_over_tcp

__all__ = ["SIM_FIRST_DEVICE", "SimulationResult", "prepare_site", "run_site_simulation", "sim_device_key"]

logger = logging.getLogger(__name__)

#: Device number of the first simulated controller (the demo's own six devices come before).
SIM_FIRST_DEVICE = 101
#: Simulated period starts here (local time) unless the queue already holds later frames.
DEFAULT_START = datetime(2027, 1, 1, 0, 0)
#: Demo keystore password when none is configured (demo mode only).
DEMO_KEYSTORE_PASSWORD = "ets-demo-device"
#: Monthly quota as a multiple of the simulated discharge, by device (cycled): the third
#: device (wastewater) spends its quota and has its valve closed, others pass 80 % or 90 %.
_QUOTA_HEADROOM = (
    Decimal("1.6"),
    Decimal("1.15"),
    Decimal("0.95"),
    Decimal("1.3"),
    Decimal("1.08"),
    Decimal("2.5"),
)
_QUOTA_POLLUTANT = {SiteKind.WASTEWATER: "w01018", SiteKind.FLUE_GAS: "a21026"}
#: Hourly concentration limits of the main pollutants in the site file (COD: GB 8978-1996 class 1,
#: mg/L; SO2: mg/m³), above what the simulated sites discharge except in the scripted hour.
_LIMITS = {SiteKind.WASTEWATER: Decimal(100), SiteKind.FLUE_GAS: Decimal(50)}
#: How long an instrument may stay in maintenance at the simulated site.
_MAX_MAINTENANCE_MINUTES = 90.0
_DEMO_ENTERPRISES = 6


def sim_device_key(index: int) -> bytes:
    """The simulated device ``index``'s key (public seed: demo only)."""
    return keccak(b"ets-demo-device-%d" % index)


@dataclass
class SimulationResult:
    """What a site simulation did."""

    devices: int
    minutes: int
    transport: str
    seconds: float
    frames_answered: int
    frames_resent: int
    readings_signed: int
    readings_anchored: int
    batches_anchored: int
    queue: dict[str, int]
    rejected: dict[str, int]
    anchor_refused: dict[str, int]
    alarms: list[tuple[str, str, Decimal]]
    valves_closed: list[str]
    events: dict[str, int]
    chart: Path | None = None
    frames_dropped: int = 0
    frames_backfilled: int = 0
    readings_backfilled: int = 0
    gaps_closed: int = 0
    backfill: dict[str, Any] = field(default_factory=dict)
    start: datetime = DEFAULT_START
    per_device: dict[str, dict[str, Any]] = field(default_factory=dict)
    field_alarms: list[tuple[str, str, str]] = field(default_factory=list)
    """(kind, device, message) of the field alarms raised by this run (quota, over-standard,
    facility stopped, instrument maintenance, parameter tampering), in the order raised."""


def field_script() -> FieldScript:
    """The working-condition events of the first wastewater controller (minutes after its first
    frame; a 12-hour run from midnight plays all): its COD analyser's parameters uploaded at 00:00
    and its slope changed at 06:00, the treatment facility stopped 07:00-07:30 while discharging,
    the analyser in maintenance 08:00-10:00 (90 min allowed), COD doubled 10:00-11:00."""
    return FieldScript(
        "w01018", parameters_at=(0, 360), facility_stop=(420, 450), maintenance=(480, 600), over_standard=600
    )


def _controllers(devices: int, start: datetime, seed: int, fault_rate: float) -> list[VirtualController]:
    controllers = fleet(devices, start=start, seed=seed, first_index=SIM_FIRST_DEVICE, fault_rate=fault_rate)
    scripted = next((c for c in controllers if c.kind is SiteKind.WASTEWATER), None)
    if scripted is not None:
        scripted.field = field_script()
    if len(controllers) > 1:  # one field device computes the Modbus CRC-16 (its site entry says so)
        controllers[-1].crc = "modbus"
    return controllers


def prepare_site(
    chain: Any,
    manifest: Any,
    state_dir: Path,
    *,
    devices: int,
    minutes: int,
    start: datetime,
    seed: int,
    fault_rate: float,
    password: str,
    oracle: str,
) -> Path:
    """Bind the simulated devices on-chain (once) with ``oracle`` as the key that anchors them,
    write their keystores and the site file.

    Returns:
        The site file.
    """
    registry = RegistryClient(chain, manifest.address("ConsortiumRegistry"))
    domain = ReadingDomain(chain.chain_id, manifest.address("EmissionsLedger"))
    regulator = demo_account("regulator")
    dry = _controllers(devices, start, seed, fault_rate)
    entries: list[DeviceEntry] = []
    quotas: list[QuotaEntry] = []
    cards: dict[str, str] = {}
    keys = state_dir / "oracle" / "keys"
    for i, controller in enumerate(dry):
        index = SIM_FIRST_DEVICE + i
        mn = device_mn(index)
        key = sim_device_key(index)
        address = DeviceSigner(key, domain).address
        enterprise = str(demo_account(f"enterprise-{i % _DEMO_ENTERPRISES + 1}").address)
        if registry.enterprise_of(address) is None:
            registry.bind_device(regulator, address, enterprise, mn, oracle=oracle)
        elif (registry.oracle_of(address) or "").lower() != oracle.lower():
            registry.set_device_oracle(regulator, address, oracle)
        keystore = keys / f"{mn}.json"
        if not keystore.exists():
            write_keystore(account_from_key(key), keystore, password)
        entries.append(
            DeviceEntry(
                mn=mn,
                enterprise=enterprise,
                password=SecretStr(device_password(index)),
                keystore=keystore,
                crc=controller.crc,
            )
        )
        cards[card_id(index)] = enterprise
        for _ in controller.frames(minutes):
            pass
        pollutant = _QUOTA_POLLUTANT[controller.kind]
        simulated = controller.totals.get(pollutant, Decimal(0))
        monthly = max(
            Decimal(1), (simulated * _QUOTA_HEADROOM[i % len(_QUOTA_HEADROOM)]).quantize(Decimal(1))
        )
        quotas.append(QuotaEntry(mn=mn, pollutant=pollutant, year=start.year, annual_kg=monthly * 12))
    limits = [
        LimitEntry(mn=e.mn, pollutant=_QUOTA_POLLUTANT[c.kind], limit=_LIMITS[c.kind])
        for e, c in zip(entries, dry, strict=True)
    ]
    facility = FacilityEntry(max_maintenance_minutes=_MAX_MAINTENANCE_MINUTES)
    site = SiteConfig(devices=entries, quotas=quotas, cards=cards, limits=limits, facility=facility)
    return site.save(state_dir / "oracle" / "site.json")


def run_site_simulation(
    chain_settings: Any,
    *,
    devices: int = 6,
    minutes: int = 720,
    transport: Literal["pty", "tcp"] = "pty",
    seed: int = 2027,
    fault_rate: float = 0.002,
    batch_size: int = 256,
    progress: Callable[[int, int], None] | None = None,
    chart: bool = True,
    drop_rate: float = 0.0,
) -> SimulationResult:
    """Run a simulated site against the deployed suite (see the module docstring).

    Args:
        chain_settings: ``chain.config.ChainSettings`` (demo mode).
        devices: controllers.
        minutes: minute frames per controller.
        transport: pseudo-terminals (serial) or the TCP platform port.
        seed: seed of the first controller.
        fault_rate: per-minute chance of a fault, maintenance, calibration, spike or gap.
        batch_size: readings per anchored batch.
        progress: called with (frames answered, frames in all) while running.
        chart: draw ``<state dir>/oracle/simulation.png``.
        drop_rate: chance that a minute frame is lost in transit (then back-filled).

    Raises:
        GatewayConfigError, ChainError: see :class:`~oracle.service.OracleService`.
    """
    if not chain_settings.demo:
        raise ConfigError("the site simulation binds devices with public demo keys: set ETS_DEMO=1")
    began = time.monotonic()
    has_key = chain_settings.keystore is not None or chain_settings.private_key is not None
    oracle_account = chain_settings.service_account() if has_key else demo_account("oracle")
    state_dir: Path = chain_settings.state_dir
    chain = ChainClient.connect(chain_settings.rpc_url, compile_contracts())
    manifest = load_for_chain(chain, chain_settings.manifest_path)
    queue_path = state_dir / "oracle" / "queue.db"
    start = _resume_start(queue_path, devices)
    password = (
        chain_settings.keystore_password.get_secret_value()
        if chain_settings.keystore_password is not None
        else DEMO_KEYSTORE_PASSWORD
    )
    site_path = prepare_site(
        chain, manifest, state_dir, devices=devices, minutes=minutes, start=start, seed=seed,
        fault_rate=fault_rate, password=password, oracle=str(oracle_account.address),
    )  # fmt: skip
    controllers = _controllers(devices, start, seed, fault_rate)
    settings = OracleSettings(
        site=site_path, keystore_password=SecretStr(password), queue=queue_path,
        batch_size=batch_size, batch_age_seconds=2.0, anchor_interval=0.5,
        tcp_port=0 if transport == "tcp" else None,
    )  # fmt: skip
    # Pseudo-terminals exist before the gateway opens them; a TCP port before controllers connect.
    link_settings = LinkSettings(drop_rate=drop_rate)
    pty = (
        run_on_pty(controllers, frames=minutes, settings=link_settings, start=False)
        if transport == "pty"
        else None
    )
    if pty is not None:
        settings = settings.model_copy(update={"serial_ports": pty.ports})
    # The site's clock is the simulation's: frames up to the end of the simulated period are on time.
    zone = timezone(timedelta(hours=settings.utc_offset_hours))
    simulated_now = (start + timedelta(minutes=minutes + 1)).replace(tzinfo=zone).timestamp()
    service = OracleService(
        settings, SiteConfig.load(site_path), chain=chain, manifest=manifest,
        oracle_account=oracle_account, queue_path=queue_path, clock=lambda: simulated_now,
    )  # fmt: skip
    service.start()
    if pty is not None:
        simulation = pty
    else:
        host, port = service.tcp_address or ("127.0.0.1", 0)
        simulation = run_over_tcp(
            controllers, host, port, frames=minutes, settings=link_settings, start=False
        )
    alarms: list[tuple[str, str, Decimal]] = []
    field_alarms: list[tuple[str, str, str]] = []
    try:
        simulation.start()
        months = (start + timedelta(minutes=minutes)).month - start.month
        total = len(controllers) * (minutes + 1 + months)  # minute frames and card swipes
        while not simulation.join(timeout=0.5):
            if progress is not None:
                progress(sum(s.answered for s in simulation.stats().values()), total)
        if simulation.errors:
            raise RuntimeError(f"controllers failed: {simulation.errors}")
        stats = simulation.stats()
        if progress is not None:
            progress(sum(s.answered for s in stats.values()), total)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            step = service.anchorer.step(flush=True)
            q = service.queue.stats()
            if q.settled:
                break
            if step.refused and not (step.sent or step.anchored):
                break  # refused by the ledger: counted in the result, retrying will not help
            time.sleep(0.2)
        status = service.status()
        backfill_stats = service.gateway.backfill.stats
        backfill = backfill_stats.snapshot()
        valves = []
        for mn in service.gateway.devices:
            controller = service.gateway.quota(mn)
            if controller is not None and not controller.valve_open:
                valves.append(mn)
        alarms = _alarms(service)
        first = int(start.replace(tzinfo=zone).timestamp())
        field_alarms = [(str(a.kind), a.mn, a.message) for _, a in service.field.alarms() if a.at >= first]
        chart_path = _chart(service, state_dir / "oracle" / "simulation.png") if chart else None
    finally:
        simulation.stop()
        service.stop()
    events: dict[str, int] = {}
    for s in stats.values():
        for name, n in s.events.items():
            events[name] = events.get(name, 0) + n
    return SimulationResult(
        devices=devices,
        minutes=minutes,
        transport=transport,
        seconds=time.monotonic() - began,
        frames_answered=sum(s.answered for s in stats.values()),
        frames_resent=int(status["gateway"]["frames_resent"]),
        readings_signed=int(status["gateway"]["readings_signed"]),
        readings_anchored=int(status["queue"]["readings"]["ANCHORED"]),
        batches_anchored=int(status["queue"]["batches"]["ANCHORED"]),
        queue=dict(status["queue"]["readings"]),
        rejected=dict(status["gateway"]["rejected"]),
        anchor_refused=dict(status["anchoring"]["refused"]),
        alarms=alarms,
        valves_closed=valves,
        events=events,
        chart=chart_path,
        frames_dropped=sum(s.dropped for s in stats.values()),
        frames_backfilled=backfill_stats.frames_backfilled,
        readings_backfilled=backfill_stats.readings_backfilled,
        gaps_closed=backfill_stats.gaps_closed,
        backfill=backfill,
        start=start,
        per_device={
            mn: {"answered": s.answered, "resent": s.resent, "swipes": s.card_swipes, "totals": s.totals}
            for mn, s in stats.items()
        },
        field_alarms=field_alarms,
    )


def _resume_start(queue_path: Path, devices: int) -> datetime:
    """The simulated period starts after the latest frame the queue holds (re-runs continue)."""
    if not queue_path.exists():
        return DEFAULT_START

    simulated = {device_mn(SIM_FIRST_DEVICE + i) for i in range(devices)}
    with Queue(queue_path) as queue:
        times = [t for (mn, _cn), t in queue.last_frame_times().items() if mn in simulated]
    if not times:
        return DEFAULT_START
    latest = datetime.fromtimestamp(max(times), CHINA_STANDARD_TIME).replace(tzinfo=None)
    return latest + timedelta(minutes=1)


def _alarms(service: OracleService) -> list[tuple[str, str, Decimal]]:
    """(device code, pollutant, threshold) of every quota alarm raised in the current month."""
    out: list[tuple[str, str, Decimal]] = []
    for mn in service.gateway.devices:
        controller = service.gateway.quota(mn)
        if controller is not None:
            for code, balance in controller.snapshot().balances.items():
                out.extend((mn, code, threshold) for threshold in balance.alarms)
    return out


def _chart(service: OracleService, path: Path) -> Path:
    """Flow of the first device (daily cycle) and each device's quota use through the month."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    devices = service.gateway.devices
    for n, (mn, address) in enumerate(devices.items()):
        rows = [s.signed.reading for s in service.queue.device_readings(address)]
        controller = service.gateway.quota(mn)
        if n == 0:
            flow = [r for r in rows if r.pollutant in ("w00000", "a00000") and r.unit not in ("m3", "")]
            if flow:
                xs = [_local(r.time, CHINA_STANDARD_TIME) for r in flow]
                top.plot(xs, [float(r.amount) for r in flow], lw=0.8, color="tab:blue")
                top.set_ylabel(f"flow of {mn} ({flow[0].unit})")
                top.set_title("Simulated minute data: production follows the time of day")
        if controller is None:
            continue
        snapshot = controller.snapshot()
        for code, balance in snapshot.balances.items():
            if balance.loaded_kg <= 0:
                continue
            used = Decimal(0)
            xs, ys = [], []
            for r in rows:
                if r.pollutant == code and r.unit == "kg":
                    used += r.amount
                    xs.append(_local(r.time, CHINA_STANDARD_TIME))
                    ys.append(float(used / balance.loaded_kg * 100))
            bottom.plot(xs, ys, lw=1.2, label=f"{mn} {code}")
    for level in (80, 90, 100):
        bottom.axhline(level, color="grey", ls="--", lw=0.7)
    bottom.set_ylabel("monthly quota used (%)")
    bottom.set_title("Card-swipe quota: alarms at 80 / 90 %, valve closes at 100 %")
    bottom.legend(fontsize=7, ncol=3)
    fig.autofmt_xdate()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _local(unix: int, zone: Any) -> datetime:
    return datetime.fromtimestamp(unix, zone).replace(tzinfo=None)
