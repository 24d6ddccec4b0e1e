"""Production-report arithmetic: the years a report may cover, periods (year or month, months in
Asia/Shanghai), exact unit conversions of anchored totals (mass to tonnes, volume to m3), standard
coal equivalents, HJ 212 codes of the allowance pollutants and percent differences."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Final, Protocol
from zoneinfo import ZoneInfo

from domain.errors import InvalidInputError
from domain.tokens import MAX_VINTAGE, MIN_VINTAGE


class TotalLike(Protocol):
    """An anchored per-batch total (``chain.anchoring.BatchTotal``): ``total / 10**decimals`` in ``unit``."""

    @property
    def unit(self) -> str: ...

    @property
    def total(self) -> int: ...

    @property
    def decimals(self) -> int: ...


#: Time zone months are bucketed in.
TIME_ZONE: Final = ZoneInfo("Asia/Shanghai")
#: Years a report may cover (the AllowanceToken's vintages).
MIN_YEAR: Final = MIN_VINTAGE
MAX_YEAR: Final = MAX_VINTAGE
#: Years in one report at most.
MAX_SPAN: Final = 20
#: Standard coal equivalent, tce per unit of each carrier (units of :data:`CARRIER_UNITS`).
#: GB/T 2589-2020 Appendix A reference coefficients: raw coal 0.7143 kgce/kg; natural gas
#: 1.3300 kgce/m3 (the upper value of the 1.1000-1.3300 range, matching the 38,931 kJ/m3 net
#: calorific value the emission factor table uses); fuel oil 1.4286 kgce/kg; electricity
#: 0.1229 kgce/kWh (equivalent value, 3,600 kJ/kWh); heat 0.03412 kgce/MJ.
COAL_EQUIVALENT: Final[Mapping[str, float]] = {
    "coal": 0.7143,
    "natural_gas": 1.3300,
    "oil": 1.4286,
    "electricity": 0.1229,
    "heat": 0.03412,
}
#: HJ 212-2017 factor code -> AllowanceToken pollutant symbol (``chain.allowance.POLLUTANTS``).
HJ212_ALLOWANCE: Final[Mapping[str, str]] = {
    "a05001": "CO2",  # carbon dioxide
    "a21026": "SO2",  # sulfur dioxide
    "a21002": "NOx",  # nitrogen oxides
    "w01018": "COD",  # chemical oxygen demand
    "w21003": "NH3-N",  # ammonia nitrogen
    "a34013": "PM",  # particulate matter (smoke dust)
}
ALLOWANCE_HJ212: Final = {symbol: code for code, symbol in HJ212_ALLOWANCE.items()}
#: Mass units of anchored totals -> tonnes per unit.
MASS_UNITS: Final[Mapping[str, Decimal]] = {"t": Decimal(1), "kg": Decimal("0.001"), "g": Decimal("0.000001")}
#: Volume units of anchored totals -> cubic metres per unit.
VOLUME_UNITS: Final[Mapping[str, Decimal]] = {"m3": Decimal(1), "L": Decimal("0.001")}


class Grouping(StrEnum):
    """How a report groups periods."""

    YEAR = "year"
    MONTH = "month"


def as_grouping(by: Grouping | str) -> Grouping:
    """The :class:`Grouping` named by ``by``.

    Raises:
        InvalidInputError: neither ``year`` nor ``month``.
    """
    try:
        return Grouping(by)
    except ValueError:
        raise InvalidInputError(f"by must be 'year' or 'month', got {by!r}") from None


def report_years(year: int, to_year: int | None = None) -> tuple[int, ...]:
    """The years from ``year`` to ``to_year`` (default: ``year``), checked.

    Raises:
        InvalidInputError: a year outside :data:`MIN_YEAR`..:data:`MAX_YEAR`, ``to_year`` before
            ``year``, or more than :data:`MAX_SPAN` years.
    """
    last = year if to_year is None else to_year
    for name, value in (("year", year), ("to_year", last)):
        if isinstance(value, bool) or not isinstance(value, int) or not MIN_YEAR <= value <= MAX_YEAR:
            raise InvalidInputError(f"{name} {value!r} is out of range {MIN_YEAR}-{MAX_YEAR}")
    if last < year:
        raise InvalidInputError(f"to_year {last} is before year {year}")
    if last - year + 1 > MAX_SPAN:
        raise InvalidInputError(f"{last - year + 1} years asked for, at most {MAX_SPAN} in one report")
    return tuple(range(year, last + 1))


def local_month(timestamp: int) -> tuple[int, int]:
    """(year, month) of unix seconds ``timestamp`` in Asia/Shanghai."""
    moment = datetime.fromtimestamp(timestamp, UTC).astimezone(TIME_ZONE)
    return moment.year, moment.month


def total_value(total: TotalLike) -> Decimal:
    """An anchored total in its own unit, exactly (``total / 10**decimals``)."""
    return Decimal(total.total).scaleb(-total.decimals)


def to_tonnes(total: TotalLike) -> Decimal | None:
    """An anchored total in tonnes when its unit is a mass (:data:`MASS_UNITS`), else None."""
    per_unit = MASS_UNITS.get(total.unit)
    return None if per_unit is None else total_value(total) * per_unit


def to_cubic_metres(total: TotalLike) -> Decimal | None:
    """An anchored total in m3 when its unit is a volume (:data:`VOLUME_UNITS`), else None."""
    per_unit = VOLUME_UNITS.get(total.unit)
    return None if per_unit is None else total_value(total) * per_unit


def pollutant_label(code: str) -> str:
    """The AllowanceToken symbol of an HJ 212 code where one exists, else the code itself."""
    return HJ212_ALLOWANCE.get(code, code)


def percent_difference(value: float | Decimal | None, reference: float | Decimal | None) -> float | None:
    """``(value - reference) / reference`` in percent; None when either is missing or the reference is 0."""
    if value is None or reference is None or reference == 0:
        return None
    return (float(value) - float(reference)) / float(reference) * 100.0
