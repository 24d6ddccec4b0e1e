"""Simulated sites: the factor models of each site kind, the daily production load, device identities."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise
from typing import Final

from oracle.errors import SimulatorConfigError

__all__ = [
    "KG_DECIMALS",
    "MAX_MN_LEN",
    "PROFILES",
    "FactorModel",
    "SiteKind",
    "SiteProfile",
    "card_id",
    "daily_load",
    "device_mn",
    "device_password",
]


class SiteKind(StrEnum):
    """What a monitoring point measures."""

    WASTEWATER = "wastewater"
    FLUE_GAS = "flue_gas"


@dataclass(frozen=True, slots=True)
class FactorModel:
    """How one factor's minute values are made.

    The level is linear in the production load: ``idle`` at load 0, ``full`` at load 1. Each
    minute's ``Avg`` is the level times ``1 + drift + noise`` (drift is a slow AR(1) process),
    clamped to the factor's range in :data:`~oracle.qc.PLAUSIBLE_RANGES`.

    Attributes:
        code: HJ 212-2017 factor code (a key of :data:`~oracle.hj212.POLLUTANTS`).
        idle: level at zero load, in the factor's unit.
        full: level at full load.
        decimals: decimals of ``Avg``/``Min``/``Max``.
        noise: relative standard deviation of the minute-to-minute noise.
        drift: relative standard deviation of each step of the slow drift.
        spread: largest relative distance of ``Min``/``Max`` from ``Avg``.
        spike: size of an outlier spike, added to the level, as a multiple of ``full``.
        span: the calibration standard an analyser reads while calibrating; ``None`` for
            factors that are not analysers (flows, temperatures), which get no D/M/C stretches.
        scaled: whether the controller's ``scale`` multiplies the level (flows).
    """

    code: str
    idle: float
    full: float
    decimals: int
    noise: float
    drift: float
    spread: float
    spike: float
    span: float | None = None
    scaled: bool = False


@dataclass(frozen=True, slots=True)
class SiteProfile:
    """The factors of one site kind, the flow first.

    Attributes:
        kind: the site kind.
        st: HJ 212 system code of its uploads (``32`` water source, ``31`` air source).
        factors: the 8 factor models, the flow factor first.
        volume_decimals: decimals of the flow's ``Cou`` (m³ per minute).
        kg_per_unit: divisor from concentration x m³ to kg (1000 for mg/L, 10⁶ for mg/m³).
        m3_per_flow_second: m³ per unit of flow per second (0.001 for L/s, 1 for m³/s).
    """

    kind: SiteKind
    st: str
    factors: tuple[FactorModel, ...]
    volume_decimals: int
    kg_per_unit: int
    m3_per_flow_second: Decimal

    @property
    def flow(self) -> FactorModel:
        """The flow factor (``w00000`` or ``a00000``)."""
        return self.factors[0]


#: Decimals of the kg totals (milligram resolution).
KG_DECIMALS: Final = 6
#: Longest MN (device code) HJ 212 allows.
MAX_MN_LEN: Final = 24

#: The factors of each site kind: a medium factory's outfall and a boiler stack at scale 1.
PROFILES: Final[Mapping[SiteKind, SiteProfile]] = {
    SiteKind.WASTEWATER: SiteProfile(
        kind=SiteKind.WASTEWATER,
        st="32",
        factors=(
            FactorModel("w00000", 0.0, 20.0, 2, 0.04, 0.010, 0.10, 2.0, scaled=True),  # flow, L/s
            FactorModel("w01018", 45.0, 85.0, 2, 0.04, 0.010, 0.06, 5.0, span=200.0),  # COD
            FactorModel("w21003", 3.0, 6.5, 3, 0.05, 0.010, 0.06, 5.0, span=10.0),  # NH3-N
            FactorModel("w21011", 0.30, 0.65, 3, 0.05, 0.010, 0.06, 5.0, span=2.0),  # TP
            FactorModel("w21001", 9.0, 16.0, 2, 0.04, 0.010, 0.05, 4.0, span=20.0),  # TN
            FactorModel("w01001", 7.05, 7.45, 2, 0.004, 0.002, 0.01, 0.4, span=9.18),  # pH
            FactorModel("w01010", 17.0, 27.0, 1, 0.005, 0.002, 0.01, 1.0),  # water temperature
            FactorModel("w01012", 18.0, 35.0, 2, 0.06, 0.010, 0.08, 6.0, span=100.0),  # SS
        ),
        volume_decimals=4,
        kg_per_unit=1_000,
        m3_per_flow_second=Decimal("0.001"),
    ),
    SiteKind.FLUE_GAS: SiteProfile(
        kind=SiteKind.FLUE_GAS,
        st="31",
        factors=(
            FactorModel("a00000", 0.0, 40.0, 2, 0.03, 0.010, 0.08, 1.5, scaled=True),  # flow, m³/s
            FactorModel("a21026", 18.0, 38.0, 2, 0.05, 0.010, 0.08, 6.0, span=100.0),  # SO2
            FactorModel("a21002", 45.0, 85.0, 2, 0.04, 0.010, 0.06, 4.0, span=200.0),  # NOx
            FactorModel("a34013", 3.0, 8.0, 2, 0.06, 0.010, 0.10, 8.0, span=30.0),  # particulates
            FactorModel("a19001", 14.0, 6.0, 2, 0.01, 0.004, 0.03, 0.6, span=20.9),  # O2, %
            FactorModel("a01012", 55.0, 135.0, 1, 0.005, 0.002, 0.02, 0.5),  # flue gas temperature
            FactorModel("a01014", 7.0, 11.0, 2, 0.02, 0.005, 0.04, 0.8),  # flue gas humidity, %
            FactorModel("a05001", 120_000.0, 260_000.0, 1, 0.01, 0.004, 0.02, 0.8, span=196_400.0),  # CO2
        ),
        volume_decimals=2,
        kg_per_unit=1_000_000,
        m3_per_flow_second=Decimal(1),
    ),
}

#: Production load by hour of the day (linear in between): night, ramp, plateau, lunch, evening.
_LOAD_CURVE: Final = (
    (0.0, 0.30),
    (5.5, 0.28),
    (6.5, 0.45),
    (8.0, 0.95),
    (11.5, 1.00),
    (12.0, 0.85),
    (13.0, 0.85),
    (13.5, 1.00),
    (17.5, 0.98),
    (19.0, 0.70),
    (22.0, 0.40),
    (24.0, 0.30),
)
#: Load factor on Saturdays and Sundays.
_WEEKEND_LOAD: Final = 0.7


def daily_load(when: datetime) -> float:
    """Production load (about 0.3 at night, 1.0 in the working day) at a local time, no noise.

    Args:
        when: the simulated local time.

    Returns:
        The load, a fraction of full production.
    """
    hour = when.hour + when.minute / 60 + when.second / 3600
    load = _LOAD_CURVE[-1][1]
    for (h0, l0), (h1, l1) in pairwise(_LOAD_CURVE):
        if h0 <= hour < h1:
            load = l0 + (l1 - l0) * (hour - h0) / (h1 - h0)
            break
    return load * (_WEEKEND_LOAD if when.weekday() >= 5 else 1.0)


# --- identities -----------------------------------------------------------------------------

#: Administrative division prefix of the simulated MN codes (Taizhou, Zhejiang).
_MN_REGION: Final = "331002"


def device_mn(index: int, *, region: str = _MN_REGION) -> str:
    """A realistic MN code: the 6-digit region code and a zero-padded 8-digit device number.

    Args:
        index: device number, 0 .. 99,999,999.
        region: administrative division code.

    Returns:
        A 14-digit MN (HJ 212 allows up to 24 characters).

    Raises:
        SimulatorConfigError: the index or region is out of range.
    """
    if not 0 <= index < 10**8 or not region.isdigit() or len(region) + 8 > MAX_MN_LEN:
        raise SimulatorConfigError(f"no MN for device {index} in region {region[:16]!r}")
    return f"{region}{index:08d}"


def device_password(index: int) -> str:
    """The simulated device ``index``'s HJ 212 access password (``PW``), its own per device.

    Derived from a public seed: demo and simulation only, never for real controllers.
    """
    return hashlib.sha256(b"ets-demo-device-password-%d" % index).hexdigest()[:12]


def card_id(index: int) -> str:
    """The IC card id bound to device ``index``'s enterprise (``TZIC`` + 8 digits).

    Raises:
        SimulatorConfigError: the index is out of range.
    """
    if not 0 <= index < 10**8:
        raise SimulatorConfigError(f"no card id for device {index}")
    return f"TZIC{index:08d}"
