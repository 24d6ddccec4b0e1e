"""The oracle gateway process: settings, site file, device keystores, transports, gateway and anchoring.

``ets oracle run`` and ``ets oracle simulate`` build an :class:`OracleService` and run it:

* the **site file** (JSON, :class:`SiteConfig`) lists the controllers: device code (MN), the
  enterprise account it is bound to on-chain, its HJ 212 access password (``PW``; every frame
  must carry it) and its encrypted keystore (V3, one per device; relative paths are relative
  to the site file), plus the enterprises' annual quotas and IC cards. It holds secrets: it
  is written 0600 and should be kept so. It may also carry concentration limits per device
  and factor (``limits``) and the working-condition settings (``facility``) of the field
  alarms (:mod:`oracle.field`); where the enterprise holds a discharge permit on-chain, the
  permit's concentration limits of its outlets win over the site file's;
* every device's address must be registered on-chain and bound to that enterprise, or the
  service refuses to start; a device bound to another oracle than this gateway's key, or
  whose sequences are used up on-chain, is logged and flagged, and the other devices are
  served and anchored (see :mod:`oracle.anchor`);
* the device keystores' password (``ETS_ORACLE_KEYSTORE_PASSWORD``) must be set and not
  empty; the demo passes its demo password explicitly;
* frames arrive on serial ports (``serial_ports``) and/or a TCP platform port (``tcp_port``);
* the anchoring loop runs in its own thread with the gateway's service key (ORACLE_ROLE);
* every stored frame also goes through the site's field rules (over-standard, facility,
  instrument, tamper); their alarms and the quota alarms are committed with the frame and
  then wait in the field store (``<queue dir>/field.db``, which also keeps the rules' state
  across restarts) for the scheduler's relay (``ets alarms relay``).

The chain must answer at start (device bindings are checked there); afterwards an outage only
delays anchoring: frames are still answered once stored.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from chain.accounts import Signer, load_keystore, private_directory
from chain.anchoring import LedgerAnchorPort
from chain.cards import CardsClient, ChainCardQuotas
from chain.compile import compile_contracts
from chain.config import ChainSettings
from chain.deploy import Manifest, load_for_chain
from chain.errors import ChainError, ConfigError
from chain.ledger import LedgerClient
from chain.permits import PermitsClient
from chain.registry import RegistryClient
from chain.tx import ChainClient
from oracle.anchor import Anchorer, AnchorReport
from oracle.errors import FieldConfigError, FieldStoreError, GatewayConfigError
from oracle.facility import FacilityRules
from oracle.field import FieldStore, FieldWatch
from oracle.gateway import DEFAULT_CLOCK_TOLERANCE, Gateway, GatewayDevice
from oracle.hj212 import CN_CARD_SWIPE, MAX_PACKETS, MAX_PENDING_BYTES, CrcVariant, Reassembler
from oracle.queue import Queue
from oracle.quota import AnnualQuota, CardQuotas, QuotaController, Valve
from oracle.signing.eip712 import ReadingDomain
from oracle.signing.signer import DeviceSigner
from oracle.standards import ConcentrationLimit, limits_from_permit
from oracle.transport import SerialFrameReader, SerialSettings, TcpFrameServer, TcpSettings
from oracle.valve import ControllerValve, RegistryRegulators, ReverseControl, ValveOrderCheck

__all__ = [
    "DeviceEntry",
    "FacilityEntry",
    "LimitEntry",
    "OracleService",
    "OracleSettings",
    "QuotaEntry",
    "SiteConfig",
    "site_limits",
]

logger = logging.getLogger(__name__)


class DeviceEntry(BaseModel):
    """One controller of the site.

    Attributes:
        mn: its HJ 212 device code.
        enterprise: the enterprise account it is bound to on-chain.
        password: its HJ 212 access password (``PW``), set on the controller; every frame must
            carry it. Never logged.
        keystore: its encrypted device key.
        crc: the checksum its frames carry: ``"hj212"`` (HJ 212-2017 Appendix A, the default)
            or ``"modbus"`` (Modbus CRC-16, as many field devices compute); frames under the
            other variant are refused.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mn: str = Field(min_length=1, max_length=24)
    enterprise: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    password: SecretStr
    keystore: Path
    crc: CrcVariant = "hj212"

    @field_validator("password")
    @classmethod
    def _usable_password(cls, value: SecretStr) -> SecretStr:
        text = value.get_secret_value()
        if not text or not text.isascii() or any(c in text for c in ";=&,\r\n"):
            raise ValueError("the access password must be non-empty ASCII without ; = & , or line breaks")
        return value


class QuotaEntry(BaseModel):
    """An enterprise's annual quota of one pollutant, for the controller at ``mn``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mn: str
    pollutant: str
    year: int = Field(ge=2000, le=2200)
    annual_kg: Decimal = Field(gt=0)
    split: Literal["even"] | list[Decimal] = "even"


class LimitEntry(BaseModel):
    """A concentration limit (mg/m³ or mg/L, hourly average) of one factor at the device ``mn``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mn: str
    pollutant: str = Field(pattern=r"^[a-zA-Z0-9]{6}$")
    limit: Decimal = Field(gt=0)


class FacilityEntry(BaseModel):
    """Working-condition settings (:class:`oracle.facility.FacilityRules`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stopped: list[str] = ["0"]
    maintenance: list[str] = ["1"]
    max_maintenance_minutes: float = Field(default=240.0, gt=0)

    def rules(self) -> FacilityRules:
        return FacilityRules(
            frozenset(self.stopped),
            frozenset(self.maintenance),
            timedelta(minutes=self.max_maintenance_minutes),
        )


class SiteConfig(BaseModel):
    """The site file: devices, quotas and cards, concentration limits and facility settings."""

    model_config = ConfigDict(extra="forbid")

    devices: list[DeviceEntry] = Field(min_length=1)
    quotas: list[QuotaEntry] = []
    cards: dict[str, str] = {}
    limits: list[LimitEntry] = []
    facility: FacilityEntry = FacilityEntry()

    @classmethod
    def load(cls, path: Path) -> SiteConfig:
        """Read a site file; keystore paths are taken relative to it.

        Raises:
            GatewayConfigError: missing file or invalid content.
        """
        try:
            site = cls.model_validate_json(path.read_text())
        except FileNotFoundError:
            raise GatewayConfigError(f"no site file at {path}") from None
        except ValidationError as error:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
            raise GatewayConfigError(f"site file {path}: {problems}") from None
        devices = [
            d if d.keystore.is_absolute() else d.model_copy(update={"keystore": path.parent / d.keystore})
            for d in site.devices
        ]
        return site.model_copy(update={"devices": devices})

    def save(self, path: Path) -> Path:
        """Write the site file (keystore paths as given, passwords in clear: mode 0600,
        replaced atomically; a new directory is created 0700)."""
        data = self.model_dump(mode="json")
        for entry, device in zip(data["devices"], self.devices, strict=True):
            entry["password"] = device.password.get_secret_value()
        private_directory(path.parent)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.unlink(missing_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(data, indent=2) + "\n")
        temporary.replace(path)
        return path


class OracleSettings(BaseSettings):
    """Settings of the oracle gateway process (environment prefix ``ETS_ORACLE_``).

    Attributes:
        site: the site file.
        keystore_password: password of the device keystores; required, never empty (the demo
            passes its demo password explicitly).
        queue: the durable queue's SQLite file (default: ``<state dir>/oracle/queue.db``).
        serial_ports: serial ports (or pyserial URLs) to read.
        baudrate: their speed.
        tcp_host: address of the TCP platform port.
        tcp_port: the TCP platform port; ``None`` for serial only, 0 for any free port.
        batch_size: most readings in an anchored batch.
        batch_age_seconds: longest a reading waits for its batch.
        anchor_interval: seconds between anchoring steps.
        utc_offset_hours: the controllers' clock (DataTime) offset from UTC.
        card_swipe_cn: command code of card-swipe events.
        clock_tolerance_seconds: how far a frame's DataTime may lie ahead of the gateway's
            clock; frames further ahead are refused unanswered.
        tcp_max_connections: TCP connections served at once.
        tcp_max_connections_per_address: TCP connections one peer address may hold.
        tcp_idle_timeout: seconds without a valid frame before a TCP connection is closed.
        max_split_packets: most packets of one split message.
        max_pending_bytes: most bytes of incomplete split messages held per link.
        stuck_retry_seconds: how long a device whose batches the ledger refuses waits before
            its batches are tried again.
        field_store: the field alarms' SQLite file (default: ``field.db`` beside the queue).
        permit_limits: take concentration limits from the enterprises' discharge permits
            when the deployment has DischargePermits (else only the site file's).
    """

    model_config = SettingsConfigDict(env_prefix="ETS_ORACLE_", extra="ignore")

    site: Path | None = None
    keystore_password: SecretStr | None = None
    queue: Path | None = None
    serial_ports: Annotated[list[str], NoDecode] = []  # comma-separated in the environment
    baudrate: int = 9600
    tcp_host: str = "127.0.0.1"
    tcp_port: int | None = None
    batch_size: int = Field(default=1024, ge=1, le=65_536)
    batch_age_seconds: float = Field(default=60.0, ge=0)
    anchor_interval: float = Field(default=1.0, gt=0)
    utc_offset_hours: float = Field(default=8.0, ge=-14, le=14)
    card_swipe_cn: str = CN_CARD_SWIPE
    clock_tolerance_seconds: float = Field(default=DEFAULT_CLOCK_TOLERANCE, ge=0, le=86_400)
    tcp_max_connections: int = Field(default=1024, gt=0)
    tcp_max_connections_per_address: int = Field(default=16, gt=0)
    tcp_idle_timeout: float = Field(default=900.0, gt=0)
    max_split_packets: int = Field(default=MAX_PACKETS, gt=0, le=9999)
    max_pending_bytes: int = Field(default=MAX_PENDING_BYTES, gt=0)
    stuck_retry_seconds: float = Field(default=60.0, gt=0)
    field_store: Path | None = None
    permit_limits: bool = True

    @field_validator("keystore_password")
    @classmethod
    def _not_empty(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            raise ValueError("the device keystores' password must not be empty")
        return value

    def device_keystore_password(self) -> str:
        """The device keystores' password.

        Raises:
            GatewayConfigError: none is configured (it never defaults to empty).
        """
        if self.keystore_password is None:
            raise GatewayConfigError(
                "no device keystore password: set ETS_ORACLE_KEYSTORE_PASSWORD (it may not be empty)"
            )
        return self.keystore_password.get_secret_value()

    @field_validator("serial_ports", mode="before")
    @classmethod
    def _split_ports(cls, value: Any) -> Any:
        return [p for p in value.split(",") if p] if isinstance(value, str) else value


class OracleService:
    """A running gateway: transports → :class:`Gateway` → queue → :class:`Anchorer` (thread).

    Args:
        settings: the process settings.
        site: the site (devices, quotas, cards).
        chain: a connected ``chain.tx.ChainClient``.
        manifest: the deployment manifest (``chain.deploy.Manifest``).
        oracle_account: the gateway's service account (ORACLE_ROLE).
        queue_path: the queue file.
        clock: the gateway's clock (unix seconds) that DataTimes are checked against; a site
            simulation passes its simulated clock.

    Raises:
        GatewayConfigError: no keystore password, or a keystore cannot be opened.
        UnregisteredDeviceError, ForeignDeviceError: a device is not bound as the site says.
    """

    def __init__(
        self,
        settings: OracleSettings,
        site: SiteConfig,
        *,
        chain: ChainClient,
        manifest: Manifest,
        oracle_account: Signer,
        queue_path: Path,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        password = settings.device_keystore_password()
        devices = []
        for entry in site.devices:
            try:
                key = bytes(load_keystore(entry.keystore, password).key)
            except ConfigError as error:
                raise GatewayConfigError(f"device {entry.mn}: {error}") from None
            devices.append(
                GatewayDevice(entry.mn, entry.enterprise, key, entry.password.get_secret_value(), entry.crc)
            )
        self.ledger = LedgerClient(chain, manifest.address("EmissionsLedger"))
        self.registry = RegistryClient(chain, manifest.address("ConsortiumRegistry"))
        domain = ReadingDomain(chain.chain_id, self.ledger.address)
        zone = timezone(timedelta(hours=settings.utc_offset_hours))
        anchored = {}
        oracle_address = str(oracle_account.address)
        self.foreign_oracle: dict[str, str | None] = {}  # device address -> the oracle it is bound to
        for device in devices:
            address = DeviceSigner(device.key, domain).address
            anchored[address] = self.ledger.last_anchored_sequence(address)
            bound = self.registry.oracle_of(address)
            if bound is None or bound.lower() != oracle_address.lower():
                self.foreign_oracle[address] = bound
                logger.error(
                    "device %s (%s) is bound to oracle %s, not to this gateway's %s: its readings are"
                    " stored and wait for anchoring until the regulator sets this oracle",
                    address,
                    device.mn,
                    bound,
                    oracle_address,
                    extra={"device": address, "mn": device.mn},
                )
        self.queue = Queue(queue_path)
        self.field = FieldStore(settings.field_store or queue_path.parent / "field.db")
        self.watch = FieldWatch(
            self.field,
            {d.mn: d.enterprise for d in site.devices},
            limits=site_limits(site, chain, manifest, permits=settings.permit_limits),
            rules=site.facility.rules(),
            zone=zone,
        )
        # A connected controller's valve is commanded over HJ 212 (CN=3098); regulators' signed
        # orders are checked against the registry's REGULATOR role (oracle.valve).
        self.control = ReverseControl(self.queue, clock=clock)
        valve_orders = ValveOrderCheck(
            chain.chain_id,
            self.registry.address,
            RegistryRegulators(self.registry),
            [d.mn for d in site.devices],
            clock=clock,
        )
        try:
            self.gateway = Gateway(
                devices,
                self.queue,
                domain,
                quotas=_quota_controllers(
                    site,
                    card_quotas(chain, manifest, self.registry, oracle_account),
                    valve_of=lambda mn: ControllerValve(self.control, mn),
                ),
                directory=self.registry,
                zone=zone,
                card_swipe_cn=settings.card_swipe_cn,
                anchored_sequences=anchored,
                clock=clock,
                clock_tolerance=settings.clock_tolerance_seconds,
                control=self.control,
                valve_orders=valve_orders,
                watch=self.watch,
            )
        except BaseException:
            self.queue.close()
            self.field.close()
            raise
        self.anchorer = Anchorer(
            self.queue,
            LedgerAnchorPort(self.ledger, oracle_account),
            max_size=settings.batch_size,
            max_age_seconds=settings.batch_age_seconds,
            enterprises=self.gateway.enterprises,
            max_span=self.ledger.max_sequence_span(),
            stuck_retry_seconds=settings.stuck_retry_seconds,
        )
        authenticate = self.gateway.authenticate
        handle = self.gateway.handle
        self.serial = [
            SerialFrameReader(
                SerialSettings(port=port, baudrate=settings.baudrate),
                handle,
                reassembler=Reassembler(
                    max_packets=settings.max_split_packets, max_pending_bytes=settings.max_pending_bytes
                ),
                authenticate=authenticate,
                crc_of=self.gateway.crc_of,
            )
            for port in settings.serial_ports
        ]
        self.tcp = (
            None
            if settings.tcp_port is None
            else TcpFrameServer(
                TcpSettings(
                    host=settings.tcp_host,
                    port=settings.tcp_port,
                    max_connections=settings.tcp_max_connections,
                    max_connections_per_address=settings.tcp_max_connections_per_address,
                    idle_timeout=settings.tcp_idle_timeout,
                    max_packets=settings.max_split_packets,
                    max_pending_bytes=settings.max_pending_bytes,
                ),
                handle,
                authenticate=authenticate,
                crc_of=self.gateway.crc_of,
            )
        )
        self.last_report = AnchorReport()
        self.final_status: dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(cls, settings: OracleSettings, chain_settings: ChainSettings) -> OracleService:
        """Connect to the chain named by ``chain_settings``.

        Raises:
            GatewayConfigError: no site file configured.
            ChainError: no chain, no deployment, or no service key.
        """
        if settings.site is None:
            raise GatewayConfigError("no site file: set ETS_ORACLE_SITE or pass --site")
        site = SiteConfig.load(settings.site)
        chain = ChainClient.connect(chain_settings.rpc_url, compile_contracts())
        manifest = load_for_chain(chain, chain_settings.manifest_path)
        queue_path = settings.queue or chain_settings.state_dir / "oracle" / "queue.db"
        queue_path.parent.mkdir(parents=True, exist_ok=True)
        return cls(
            settings,
            site,
            chain=chain,
            manifest=manifest,
            oracle_account=chain_settings.service_account(),
            queue_path=queue_path,
        )

    # --- lifecycle ---

    @property
    def tcp_address(self) -> tuple[str, int] | None:
        """The TCP platform port's address once started."""
        return None if self.tcp is None else self.tcp.address

    def start(self) -> Self:
        """Open the transports and start the anchoring thread."""
        for reader in self.serial:
            reader.start()
        if self.tcp is not None:
            self.tcp.start()
        self._thread = threading.Thread(target=self._anchor_loop, name="ets-anchorer", daemon=True)
        self._thread.start()
        logger.info("oracle gateway running", extra={"devices": len(self.gateway.devices)})
        return self

    def _anchor_loop(self) -> None:
        def keep(report: AnchorReport) -> None:
            self.last_report = report

        self.anchorer.run(self._stop, interval=self.settings.anchor_interval, on_step=keep)

    def stop(self, timeout: float = 30.0) -> None:
        """Close the transports, anchor what is left (one flushing step), close the queue."""
        for reader in self.serial:
            reader.stop()
        if self.tcp is not None:
            self.tcp.stop()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.final_status = self.status()
        try:
            self.watch.deliver(self.queue, force=True)
        except FieldStoreError:  # they wait in the queue's outbox; the next start moves them
            logger.exception("field alarms not moved to the field store at stop")
        self.queue.close()
        self.field.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def status(self) -> dict[str, Any]:
        """Counters of the gateway, the anchoring loop, the queue and the transports."""
        queue = self.queue.stats()
        links: dict[str, Any] = {}
        for reader in self.serial:
            links[reader.settings.port] = reader.stats.snapshot().__dict__
        if self.tcp is not None:
            links["tcp"] = self.tcp.stats.snapshot().__dict__
        return {
            "gateway": self.gateway.stats.snapshot(),
            "anchoring": self.anchorer.stats.snapshot(),
            "foreign_oracle": dict(self.foreign_oracle),
            "queue": {"readings": queue.readings, "batches": queue.batches},
            "field_alarms": len(self.field.alarms()),
            "last_step": self.last_report.__dict__,
            "links": links,
        }


def _quota_controllers(
    site: SiteConfig,
    card_quotas: CardQuotas | None = None,
    *,
    valve_of: Callable[[str], Valve] | None = None,
) -> dict[str, QuotaController]:
    enterprise_of = {d.mn: d.enterprise for d in site.devices}
    quotas: dict[str, list[AnnualQuota]] = {}
    for q in site.quotas:
        if q.mn not in enterprise_of:
            raise GatewayConfigError(f"quota for unknown device code {q.mn}")
        if q.split == "even":
            quota = AnnualQuota.even(q.pollutant, q.year, q.annual_kg)
        else:
            quota = AnnualQuota.explicit(q.pollutant, q.year, q.annual_kg, q.split)
        quotas.setdefault(q.mn, []).append(quota)
    return {
        mn: QuotaController(
            enterprise_of[mn],
            qs,
            site.cards,
            mn=mn,
            card_quotas=card_quotas,
            valve=None if valve_of is None else valve_of(mn),
        )
        for mn, qs in quotas.items()
    }


def card_quotas(
    chain: ChainClient, manifest: Manifest, registry: RegistryClient, oracle: Signer | None = None
) -> CardQuotas | None:
    """The cards on chain when EmissionCards is deployed (the swipe loads what is committed to
    the device's card; at month end ``oracle`` settles the card's month), else ``None`` (the
    site file's monthly quotas)."""
    if "EmissionCards" not in manifest.contracts:
        return None
    return ChainCardQuotas(CardsClient(chain, manifest.address("EmissionCards")), registry, oracle)


def site_limits(
    site: SiteConfig, chain: ChainClient, manifest: Manifest, *, permits: bool
) -> list[ConcentrationLimit]:
    """The site file's limits, then (when ``permits``) the limits of the enterprises' permits.

    Raises:
        GatewayConfigError: a limit names a device the site does not have.
    """
    mns = {d.mn for d in site.devices}
    out = []
    for entry in site.limits:
        if entry.mn not in mns:
            raise GatewayConfigError(f"concentration limit for unknown device code {entry.mn}")
        try:
            out.append(ConcentrationLimit(entry.mn, entry.pollutant, entry.limit))
        except FieldConfigError as error:
            raise GatewayConfigError(str(error)) from None
    if not permits or "DischargePermits" not in manifest.contracts:
        return out
    client = PermitsClient(chain, manifest.address("DischargePermits"))
    for enterprise in sorted({d.enterprise for d in site.devices}):
        try:
            permit_id = client.permit_of(enterprise)
            if permit_id == 0:
                continue
            permit = client.permit(permit_id)
        except ChainError as error:
            logger.warning(
                "permit limits of %s not read: %s", enterprise, error, extra={"enterprise": enterprise}
            )
            continue
        outlets = [o.mn for o in permit.outlets if o.mn in mns]
        out.extend(limits_from_permit(permit_id, outlets, permit.terms))
    return out
