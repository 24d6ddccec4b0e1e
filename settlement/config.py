"""Settings of end-of-day settlement (env prefix ``ETS_SETTLE_``): calendar, files, fees, schedule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.settlement import MOVEMENT_TYPES
from settlement.calendar import TradingCalendar
from settlement.errors import SettlementError


class FeeRate(BaseModel):
    """Exchange fee on one movement type, charged to each party of a movement.

    Attributes:
        per_tonne: fen per allowance unit moved (allowance ids).
        bps: basis points of the cash moved (settlement cash).
    """

    per_tonne: int = Field(default=0, ge=0)
    bps: int = Field(default=0, ge=0, le=10_000)


class _StateDir(BaseSettings):
    """``ETS_STATE_DIR`` with chain.config's default (this package does not import chain.config,
    which brings eth_account with it)."""

    model_config = SettingsConfigDict(env_prefix="ETS_", extra="ignore")

    state_dir: Path = Path(__file__).resolve().parents[1] / ".ets"


def _under_state_dir(name: str) -> Path:
    return _StateDir().state_dir / name


class SettlementSettings(BaseSettings):
    """Where settlement reads its calendar and bank statements and writes its reports.

    Attributes:
        timezone: zone of the close.
        close: local close time ``HH:MM``.
        holidays_file: holidays (one ISO date a line); none: weekends only.
        reports_dir: reports go to ``<reports_dir>/<YYYY-MM-DD>/`` (default: ``settlement`` in
            the state directory, ``ETS_STATE_DIR``, where the demo and the dashboard look too).
        bank_dir: bank statements are read from ``<bank_dir>/bank-<YYYYMMDD>.csv`` (default:
            ``bank`` in the state directory).
        require_bank: refuse to settle without the day's bank statement.
        fees: fee schedule per movement type, JSON in the environment
            (``{"transfer": {"per_tonne": 2}, "auction_purchase": {"bps": 5}}``).
        margin_minutes: the scheduled run starts this long after the close.
        publish: anchor the report hash on-chain when the books balance.
        schedule: run the settlement job in the scheduler service (``ets alarms run``), beside
            the compliance scan; also on when ``keystore`` is set.
        large_holder_bps: the large-holder report lists accounts holding at least this share of
            an allowance id's issued quantity at the close (basis points; default 500 = 5 %).
        keystore: encrypted V3 keystore of the exchange account that signs and anchors the
            scheduled runs' reports (password: ``ETS_KEYSTORE_PASSWORD``); without it the service
            account (``ETS_KEYSTORE``) signs.
    """

    model_config = SettingsConfigDict(env_prefix="ETS_SETTLE_", extra="ignore")

    timezone: str = "Asia/Shanghai"
    close: str = "15:00"
    holidays_file: Path | None = None
    reports_dir: Path = Field(default_factory=lambda: _under_state_dir("settlement"))
    bank_dir: Path = Field(default_factory=lambda: _under_state_dir("bank"))
    require_bank: bool = True
    fees: dict[str, FeeRate] = Field(default_factory=dict)
    margin_minutes: int = Field(default=10, ge=0, le=600)
    publish: bool = True
    schedule: bool = False
    keystore: Path | None = None
    large_holder_bps: int = Field(default=500, ge=1, le=10_000)

    @field_validator("fees")
    @classmethod
    def _known_types(cls, value: dict[str, FeeRate]) -> dict[str, FeeRate]:
        unknown = sorted(set(value) - set(MOVEMENT_TYPES))
        if unknown:
            raise ValueError(f"unknown movement types {unknown}; known: {list(MOVEMENT_TYPES)}")
        return value

    @classmethod
    def load(cls, **overrides: Any) -> SettlementSettings:
        """Settings from the environment (``overrides`` win).

        Raises:
            SettlementError: invalid values.
        """
        try:
            return cls(**overrides)
        except ValidationError as exc:
            problems = "; ".join(
                f"ETS_SETTLE_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
            )
            raise SettlementError(problems) from None

    @property
    def scheduled(self) -> bool:
        """Whether the scheduler service runs the settlement job (``ETS_SETTLE_SCHEDULE=1`` or a
        publishing keystore in ``ETS_SETTLE_KEYSTORE``)."""
        return self.schedule or self.keystore is not None

    def calendar(self) -> TradingCalendar:
        """The trading calendar these settings describe.

        Raises:
            CalendarError: bad holidays file, zone or close.
        """
        return TradingCalendar.load(self.holidays_file, timezone=self.timezone, close=self.close)

    def bank_file(self, day_code: int) -> Path:
        """Where the bank statement of a trading day (YYYYMMDD) is expected."""
        return self.bank_dir / f"bank-{day_code}.csv"
