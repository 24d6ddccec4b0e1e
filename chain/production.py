"""Enterprise production report: energy use, energy-computed, metered and verified emissions by period.

Access: an enterprise may query its own production data only. This module does not enforce
that: it takes the enterprise as a parameter and reports on whichever it is given; the API (a
later issue) checks that a signed-in enterprise asks for itself (regulator and auditors: any).
"""

# What a row holds, and the decisions behind it:
#
# * Periods: a year, or (``by="month"``) each month of the year followed by the year's total.
#   Months are calendar months in Asia/Shanghai. A batch counts entirely in the month of its
#   ``period_start``: batches cover minutes, so one that spans midnight at a month's end is
#   counted in the month it began rather than split pro rata.
# * Energy: per carrier in its own unit and in tonnes of standard coal equivalent (tce, GB/T 2589
#   factors below). The history is annual: a month row shows energy only when a monthly energy
#   file gives that month, and otherwise says energy is not available (no invented split). A
#   year row uses the annual history, else the sum of twelve monthly rows when all are given.
# * Computed emissions (the calculation method): CO2 = sum over carriers of quantity x emission
#   factor (:func:`chain.allocation.energy_co2`, default factor table of the allocation planner).
# * Metered emissions: the anchored per-batch totals (HJ 212 ``Cou``) whose unit is a mass (kg,
#   g, t), converted exactly to tonnes. Sums of concentrations (mg/L, mg/m3 ...) are not
#   emissions and are ignored. Flow totals in volume units (m3, L) are not emissions either: they
#   are reported apart, as volumes in m3 (:class:`FlowRow`), never in the pollutant rows.
# * Pollutants: HJ 212 codes that have an AllowanceToken pollutant are shown under its symbol
#   (:data:`HJ212_ALLOWANCE`, a copy of the codes of ``oracle.hj212.POLLUTANTS``: chain never
#   imports oracle); other metered pollutants under their HJ 212 code.
# * Counts: a pollutant row counts the batches that carry a mass total of it; a period counts
#   its batches and their readings (all factors: on-chain totals do not say how many readings
#   each pollutant had).
# * Verified figures: on year rows, the most recent Active attestation of (enterprise,
#   pollutant, year), in whole tonnes, and the differences metered vs verified, computed vs
#   verified and metered vs computed, in percent of the second figure.

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from eth_utils import is_address, to_checksum_address

from chain.allocation import (
    CARRIER_COLUMNS,
    CARRIER_UNITS,
    EmissionFactors,
    EnterpriseHistory,
    YearRecord,
    _integer,
    _number,
    _read_table,
)
from chain.registry import checked_address
from domain.errors import InvalidInputError
from domain.production import (
    ALLOWANCE_HJ212,
    COAL_EQUIVALENT,
    TIME_ZONE,
    Grouping,
    as_grouping,
    local_month,
    percent_difference,
    pollutant_label,
    report_years,
    to_cubic_metres,
    to_tonnes,
)
from domain.tokens import POLLUTANTS as ALLOWANCE_POLLUTANTS

if TYPE_CHECKING:
    from chain.anchoring import BatchAnchoredEvent
    from chain.ledger import LedgerClient

logger = logging.getLogger(__name__)


#: Columns of a monthly energy file; ``address`` may replace (or accompany) ``enterprise_id``.
MONTHLY_ENERGY_COLUMNS: Final = ("enterprise_id", "year", "month", *CARRIER_COLUMNS.values())
_ID_COLUMNS: Final = ("enterprise_id", "address")
_MIN_FILE_YEAR, _MAX_FILE_YEAR = 1900, 2200
#: Columns of :meth:`ProductionReport.to_rows` and of the CSV export.
ROW_COLUMNS: Final = (
    "enterprise",
    "enterprise_id",
    "period",
    "year",
    "month",
    "kind",
    "pollutant",
    "hj212_code",
    "unit",
    "energy_source",
    *CARRIER_COLUMNS.values(),
    "energy_tce",
    "computed_t",
    "metered",
    "batches",
    "period_batches",
    "period_readings",
    "reported_t",
    "verified_t",
    "attestation_id",
    "metered_vs_verified_pct",
    "computed_vs_verified_pct",
    "metered_vs_computed_pct",
)
NOT_AVAILABLE: Final = "not available"


# --------------------------------------------------------------------------- energy


@dataclass(frozen=True, slots=True)
class EnergyUse:
    """Energy use of one period and the CO2 computed from it.

    Attributes:
        source: ``"annual"`` (history), ``"monthly"`` (monthly file) or ``"monthly sum"`` (a year
            summed from twelve monthly rows).
        quantities: carrier -> quantity in its unit (:data:`chain.allocation.CARRIER_UNITS`).
        tce: carrier -> tonnes of standard coal equivalent.
        total_tce: sum of ``tce``.
        co2_by_carrier: carrier -> tCO2 (quantity x emission factor).
        co2_t: computed emissions, tCO2.
    """

    source: str
    quantities: Mapping[str, float]
    tce: Mapping[str, float]
    total_tce: float
    co2_by_carrier: Mapping[str, float]
    co2_t: float


def energy_use(
    quantities: Mapping[str, float], *, source: str, factors: EmissionFactors | None = None
) -> EnergyUse:
    """Coal equivalent and computed CO2 of energy quantities (every carrier; missing ones are 0).

    Args:
        quantities: carrier -> quantity in its unit.
        source: where the quantities come from (see :class:`EnergyUse`).
        factors: emission factor table (default: the planner's shipped table).

    Raises:
        InvalidInputError: an unknown carrier, or a negative or non-finite quantity.
    """
    unknown = sorted(set(quantities) - set(CARRIER_COLUMNS))
    if unknown:
        raise InvalidInputError(f"unknown energy carrier(s): {', '.join(unknown)}")
    table = factors or EmissionFactors.default()
    amounts = {c: float(quantities.get(c, 0.0)) for c in CARRIER_COLUMNS}
    for carrier, amount in amounts.items():
        if not (math.isfinite(amount) and amount >= 0):
            raise InvalidInputError(f"energy quantity of {carrier} must be >= 0, got {amount}")
    tce = {c: q * COAL_EQUIVALENT[c] for c, q in amounts.items()}
    co2 = {c: q * table[c] for c, q in amounts.items()}
    return EnergyUse(
        source=source,
        quantities=amounts,
        tce=tce,
        total_tce=math.fsum(tce.values()),
        co2_by_carrier=co2,
        co2_t=math.fsum(co2.values()),  # as chain.allocation.energy_co2
    )


def record_quantities(record: YearRecord) -> dict[str, float]:
    """carrier -> quantity of a history record."""
    return {c: record.quantity(c) for c in CARRIER_COLUMNS}


@dataclass(frozen=True, slots=True)
class MonthlyEnergy:
    """One row of a monthly energy file: an enterprise's energy use in one month.

    Attributes:
        enterprise_id: history enterprise id (``E0001``), or None when the row names an address.
        address: the enterprise's account (checksummed), or None.
        year: calendar year.
        month: 1..12.
        quantities: carrier -> quantity in its unit (:data:`chain.allocation.CARRIER_UNITS`).
        line: line of the file it was read from (0 when not read from a file).
    """

    enterprise_id: str | None
    address: str | None
    year: int
    month: int
    quantities: Mapping[str, float]
    line: int = 0

    def matches(self, address: str, enterprise_id: str | None) -> bool:
        """Whether the row is the enterprise's, by address or by enterprise id."""
        if self.address is not None and self.address.lower() == address.lower():
            return True
        return enterprise_id is not None and self.enterprise_id == enterprise_id


def load_monthly_energy(path: str | Path) -> list[MonthlyEnergy]:
    """Read a monthly energy file.

    Columns: ``enterprise_id`` and/or ``address`` (each row gives at least one), ``year``,
    ``month`` and the carrier columns of the history (:data:`MONTHLY_ENERGY_COLUMNS`). Blank lines
    and lines starting with ``#`` are skipped.

    Raises:
        InvalidInputError: lists every problem with its file and line number (missing columns,
            wrong field counts, no identifier, a malformed address, a year or month out of range,
            an empty, negative or non-numeric quantity, a duplicate enterprise-month).
    """
    path = Path(path)
    problems: list[str] = []
    required = ("year", "month", *CARRIER_COLUMNS.values())
    table = _read_table(path, required, problems)
    where = path.name
    rows: list[MonthlyEnergy] = []
    if table is not None and table and not any(c in table[0] for c in _ID_COLUMNS):
        problems.append(f"{where}: needs an enterprise_id or an address column")
        table = None
    seen: dict[tuple[str, int, int], int] = {}
    for row in table or ():
        at = f"{where} line {row.line}"
        before = len(problems)
        enterprise_id = row.get("enterprise_id") or None
        raw_address = row.get("address") or None
        address: str | None = None
        if enterprise_id is None and raw_address is None:
            problems.append(f"{at}: enterprise_id and address are both empty")
        if raw_address is not None:
            if is_address(raw_address) and int(raw_address, 16) != 0:
                address = to_checksum_address(raw_address)
            else:
                problems.append(f"{at}: address {raw_address!r} is not an enterprise address")
        year = _integer(row, "year", problems, at)
        if year is not None and not _MIN_FILE_YEAR <= year <= _MAX_FILE_YEAR:
            problems.append(f"{at}: year {year} is out of range {_MIN_FILE_YEAR}-{_MAX_FILE_YEAR}")
        month = _integer(row, "month", problems, at)
        if month is not None and not 1 <= month <= 12:
            problems.append(f"{at}: month {month} is out of range 1-12")
        values = {c: _number(row, column, problems, at) for c, column in CARRIER_COLUMNS.items()}
        if len(problems) > before or year is None or month is None:
            continue
        key = (address.lower() if address is not None else f"id:{enterprise_id}", year, month)
        if key in seen:
            who = address or enterprise_id
            problems.append(f"{at}: duplicate month {year}-{month:02d} of {who} (first at line {seen[key]})")
            continue
        seen[key] = row.line
        quantities = {c: v or 0.0 for c, v in values.items()}
        rows.append(MonthlyEnergy(enterprise_id, address, year, month, quantities, row.line))
    if problems:
        count = len(problems)
        listed = "\n".join(f"  {p}" for p in problems)
        raise InvalidInputError(
            f"invalid monthly energy file ({count} problem{'s' * (count != 1)}):\n{listed}"
        )
    logger.info("monthly energy loaded", extra={"path": str(path), "rows": len(rows)})
    return rows


def write_monthly_energy(rows: Iterable[MonthlyEnergy], path: str | Path) -> Path:
    """Write rows as a monthly energy file (:data:`MONTHLY_ENERGY_COLUMNS`, plus ``address`` when a
    row has one); :func:`load_monthly_energy` reads back the same values."""
    items = list(rows)
    columns = list(MONTHLY_ENERGY_COLUMNS)
    if any(r.address is not None for r in items):
        columns.insert(1, "address")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        for r in items:
            values = {
                "enterprise_id": r.enterprise_id or "",
                "address": r.address or "",
                "year": r.year,
                "month": r.month,
                **{column: repr(float(r.quantities.get(c, 0.0))) for c, column in CARRIER_COLUMNS.items()},
            }
            writer.writerow([values[c] for c in columns])
    logger.info("monthly energy written", extra={"path": str(path), "rows": len(items)})
    return path


def enterprise_id_of(credit_code: str, codes: Mapping[str, str] | None = None) -> str:
    """The history enterprise id of a registered enterprise.

    The registry's profile holds the credit code; a sample history names enterprises ``E0001``
    ... and its enterprises.csv maps them to credit codes (``codes``: enterprise_id ->
    credit_code, :func:`chain.onboarding.read_credit_codes`). Without a mapping entry the credit
    code itself is taken as the id.
    """
    for enterprise_id, code in (codes or {}).items():
        if code == credit_code:
            return enterprise_id
    return credit_code


def history_of(histories: Iterable[EnterpriseHistory], enterprise_id: str) -> EnterpriseHistory:
    """The history of ``enterprise_id``.

    Raises:
        InvalidInputError: none in ``histories``.
    """
    for history in histories:
        if history.enterprise_id == enterprise_id:
            return history
    raise InvalidInputError(f"enterprise {enterprise_id} has no history in the history file")


# --------------------------------------------------------------------------- report rows


@dataclass(frozen=True, slots=True)
class Verified:
    """An Active attestation's verified emissions of one pollutant and year.

    Attributes:
        pollutant: AllowanceToken symbol (``"CO2"``).
        year: compliance year.
        verified_t: verified emissions, whole tonnes.
        attestation_id: the attestation id, ``0x``-hex.
        auditor: the attesting auditor.
    """

    pollutant: str
    year: int
    verified_t: int
    attestation_id: str
    auditor: str


@dataclass(frozen=True, slots=True)
class PollutantRow:
    """One pollutant in one period.

    Attributes:
        pollutant: AllowanceToken symbol, or the HJ 212 code when it has none.
        hj212_code: HJ 212 factor code.
        metered_t: anchored mass totals in tonnes (exact), None when no batch carried any.
        batches: batches carrying a mass total of the pollutant.
        computed_t: energy-computed emissions (CO2 only), None without energy data.
        reported_t: the history's reported figure (CO2 year rows), when given.
        verified: the Active attestation (year rows), when there is one.
        metered_vs_verified_pct: (metered - verified) / verified, percent.
        computed_vs_verified_pct: (computed - verified) / verified, percent.
        metered_vs_computed_pct: (metered - computed) / computed, percent.
    """

    pollutant: str
    hj212_code: str
    metered_t: Decimal | None
    batches: int
    computed_t: float | None = None
    reported_t: float | None = None
    verified: Verified | None = None
    metered_vs_verified_pct: float | None = None
    computed_vs_verified_pct: float | None = None
    metered_vs_computed_pct: float | None = None

    @property
    def verified_t(self) -> int | None:
        """Verified emissions, whole tonnes, when attested."""
        return None if self.verified is None else self.verified.verified_t


@dataclass(frozen=True, slots=True)
class FlowRow:
    """A flow factor's anchored volume in one period (flows are not emissions).

    Attributes:
        hj212_code: HJ 212 factor code (``w00000`` wastewater, ``a00000`` flue gas).
        volume_m3: anchored volume totals in m3 (exact).
        batches: batches carrying a volume total of it.
    """

    hj212_code: str
    volume_m3: Decimal
    batches: int


@dataclass(frozen=True, slots=True)
class PeriodReport:
    """One period (a year, or a month of it) of an enterprise's report.

    Attributes:
        year: calendar year.
        month: 1..12, None for the year row.
        energy: energy use, None when not available for the period.
        batches: batches anchored whose ``period_start`` falls in the period.
        readings: readings in those batches (all factors).
        pollutants: pollutant rows, allowance pollutants first (CO2, SO2 ...), then by code.
        flows: flow volumes, by code.
    """

    year: int
    month: int | None
    energy: EnergyUse | None
    batches: int
    readings: int
    pollutants: tuple[PollutantRow, ...]
    flows: tuple[FlowRow, ...]

    @property
    def label(self) -> str:
        """``"2027"`` or ``"2027-05"``."""
        return str(self.year) if self.month is None else f"{self.year}-{self.month:02d}"

    def pollutant(self, name: str) -> PollutantRow | None:
        """The row of a pollutant by symbol or HJ 212 code, None when absent."""
        return next((p for p in self.pollutants if name in (p.pollutant, p.hj212_code)), None)

    def flow(self, code: str) -> FlowRow | None:
        """The flow row of an HJ 212 code, None when absent."""
        return next((f for f in self.flows if f.hj212_code == code), None)


@dataclass(frozen=True, slots=True)
class ProductionReport:
    """An enterprise's production report.

    Attributes:
        enterprise: the enterprise's account (checksummed).
        enterprise_id: its history id, when known.
        years: the years covered.
        by: the grouping.
        periods: year rows, or per year its months then its year row.
        factors: the emission factor table the computed emissions use.
    """

    enterprise: str
    enterprise_id: str | None
    years: tuple[int, ...]
    by: Grouping
    periods: tuple[PeriodReport, ...]
    factors: EmissionFactors = field(repr=False)

    def period(self, year: int, month: int | None = None) -> PeriodReport:
        """The row of a year (``month`` None) or a month.

        Raises:
            InvalidInputError: the report has no such period.
        """
        for p in self.periods:
            if (p.year, p.month) == (year, month):
                return p
        label = str(year) if month is None else f"{year}-{month:02d}"
        raise InvalidInputError(f"the report has no period {label}")

    def to_rows(self) -> list[dict[str, Any]]:
        """Flat rows (:data:`ROW_COLUMNS`): one per period and pollutant or flow; a period with
        neither gets one row of ``kind`` ``"period"``. Exact decimals become floats."""
        rows: list[dict[str, Any]] = []
        for p in self.periods:
            base: dict[str, Any] = {
                "enterprise": self.enterprise,
                "enterprise_id": self.enterprise_id,
                "period": p.label,
                "year": p.year,
                "month": p.month,
                "energy_source": p.energy.source if p.energy else NOT_AVAILABLE,
                **{
                    column: p.energy.quantities[c] if p.energy else None
                    for c, column in CARRIER_COLUMNS.items()
                },
                "energy_tce": p.energy.total_tce if p.energy else None,
                "period_batches": p.batches,
                "period_readings": p.readings,
            }
            items: list[dict[str, Any]] = [
                {
                    "kind": "emission",
                    "pollutant": r.pollutant,
                    "hj212_code": r.hj212_code,
                    "unit": "t",
                    "computed_t": r.computed_t,
                    "metered": _float(r.metered_t),
                    "batches": r.batches,
                    "reported_t": r.reported_t,
                    "verified_t": r.verified_t,
                    "attestation_id": r.verified.attestation_id if r.verified else None,
                    "metered_vs_verified_pct": r.metered_vs_verified_pct,
                    "computed_vs_verified_pct": r.computed_vs_verified_pct,
                    "metered_vs_computed_pct": r.metered_vs_computed_pct,
                }
                for r in p.pollutants
            ]
            items += [
                {
                    "kind": "flow",
                    "pollutant": f.hj212_code,
                    "hj212_code": f.hj212_code,
                    "unit": "m3",
                    "metered": _float(f.volume_m3),
                    "batches": f.batches,
                }
                for f in p.flows
            ]
            for item in items or [{"kind": "period"}]:
                row = dict.fromkeys(ROW_COLUMNS)
                row.update(base)
                row.update(item)
                rows.append(row)
        return rows

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data (nested by period; exact decimals become floats)."""
        return {
            "enterprise": self.enterprise,
            "enterprise_id": self.enterprise_id,
            "years": list(self.years),
            "by": self.by.value,
            "time_zone": str(TIME_ZONE),
            "units": {
                "energy": dict(CARRIER_UNITS),
                "energy_tce": "tce",
                "emissions": "t",
                "flows": "m3",
            },
            "coal_equivalent_tce_per_unit": dict(COAL_EQUIVALENT),
            "emission_factors_tco2_per_unit": {c: self.factors[c] for c in CARRIER_COLUMNS},
            "periods": [_period_json(p) for p in self.periods],
        }

    def write_csv(self, path: str | Path) -> Path:
        """Write :meth:`to_rows` as CSV (header :data:`ROW_COLUMNS`, empty cells for None)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=ROW_COLUMNS, lineterminator="\n")
            writer.writeheader()
            for row in self.to_rows():
                writer.writerow({k: "" if v is None else v for k, v in row.items()})
        logger.info("production report written", extra={"path": str(path), "enterprise": self.enterprise})
        return path


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _energy_json(energy: EnergyUse | None) -> dict[str, Any] | None:
    if energy is None:
        return None
    return {
        "source": energy.source,
        "quantities": dict(energy.quantities),
        "tce": dict(energy.tce),
        "total_tce": energy.total_tce,
        "co2_by_carrier_t": dict(energy.co2_by_carrier),
        "co2_t": energy.co2_t,
    }


def _period_json(p: PeriodReport) -> dict[str, Any]:
    return {
        "period": p.label,
        "year": p.year,
        "month": p.month,
        "energy": _energy_json(p.energy),
        "energy_note": None if p.energy else f"energy use {NOT_AVAILABLE} for {p.label}",
        "batches": p.batches,
        "readings": p.readings,
        "pollutants": [
            {
                "pollutant": r.pollutant,
                "hj212_code": r.hj212_code,
                "metered_t": _float(r.metered_t),
                "batches": r.batches,
                "computed_t": r.computed_t,
                "reported_t": r.reported_t,
                "verified_t": r.verified_t,
                "attestation_id": r.verified.attestation_id if r.verified else None,
                "auditor": r.verified.auditor if r.verified else None,
                "metered_vs_verified_pct": r.metered_vs_verified_pct,
                "computed_vs_verified_pct": r.computed_vs_verified_pct,
                "metered_vs_computed_pct": r.metered_vs_computed_pct,
            }
            for r in p.pollutants
        ],
        "flows": [
            {"hj212_code": f.hj212_code, "volume_m3": _float(f.volume_m3), "batches": f.batches}
            for f in p.flows
        ],
    }


# --------------------------------------------------------------------------- building


@dataclass
class _Bucket:
    """Anchored totals of one period while they are summed."""

    batches: int = 0
    readings: int = 0
    mass: dict[str, Decimal] = field(default_factory=dict)
    mass_batches: dict[str, int] = field(default_factory=dict)
    volume: dict[str, Decimal] = field(default_factory=dict)
    volume_batches: dict[str, int] = field(default_factory=dict)

    def add(self, event: BatchAnchoredEvent) -> None:
        self.batches += 1
        self.readings += event.count
        mass_codes: set[str] = set()
        volume_codes: set[str] = set()
        for total in event.totals:
            tonnes = to_tonnes(total)
            if tonnes is not None:
                self.mass[total.pollutant] = self.mass.get(total.pollutant, Decimal(0)) + tonnes
                mass_codes.add(total.pollutant)
                continue
            cubic = to_cubic_metres(total)
            if cubic is not None:
                self.volume[total.pollutant] = self.volume.get(total.pollutant, Decimal(0)) + cubic
                volume_codes.add(total.pollutant)
        for code in mass_codes:
            self.mass_batches[code] = self.mass_batches.get(code, 0) + 1
        for code in volume_codes:
            self.volume_batches[code] = self.volume_batches.get(code, 0) + 1

    def merge(self, other: _Bucket) -> None:
        self.batches += other.batches
        self.readings += other.readings
        for code, value in other.mass.items():
            self.mass[code] = self.mass.get(code, Decimal(0)) + value
        for code, value in other.volume.items():
            self.volume[code] = self.volume.get(code, Decimal(0)) + value
        for code, n in other.mass_batches.items():
            self.mass_batches[code] = self.mass_batches.get(code, 0) + n
        for code, n in other.volume_batches.items():
            self.volume_batches[code] = self.volume_batches.get(code, 0) + n


_ORDER: Final = {symbol: i for i, symbol in enumerate(ALLOWANCE_POLLUTANTS)}


def _sort_key(row: PollutantRow) -> tuple[int, str]:
    return (_ORDER.get(row.pollutant, len(_ORDER)), row.hj212_code)


def _period(
    year: int,
    month: int | None,
    bucket: _Bucket,
    energy: EnergyUse | None,
    *,
    verified: Mapping[str, Verified],
    reported_co2: float | None = None,
) -> PeriodReport:
    """A period's rows from its summed totals, energy and (year rows) attestations."""
    codes = set(bucket.mass)
    if energy is not None or reported_co2 is not None:
        codes.add(ALLOWANCE_HJ212["CO2"])
    codes |= {ALLOWANCE_HJ212[s] for s in verified if s in ALLOWANCE_HJ212}
    rows: list[PollutantRow] = []
    for code in codes:
        label = pollutant_label(code)
        metered = bucket.mass.get(code)
        computed = energy.co2_t if energy is not None and label == "CO2" else None
        attested = verified.get(label)
        reference = None if attested is None else attested.verified_t
        rows.append(
            PollutantRow(
                pollutant=label,
                hj212_code=code,
                metered_t=metered,
                batches=bucket.mass_batches.get(code, 0),
                computed_t=computed,
                reported_t=reported_co2 if label == "CO2" else None,
                verified=attested,
                metered_vs_verified_pct=percent_difference(metered, reference),
                computed_vs_verified_pct=percent_difference(computed, reference),
                metered_vs_computed_pct=percent_difference(metered, computed),
            )
        )
    flows = tuple(
        FlowRow(code, bucket.volume[code], bucket.volume_batches.get(code, 0))
        for code in sorted(bucket.volume)
    )
    return PeriodReport(
        year=year,
        month=month,
        energy=energy,
        batches=bucket.batches,
        readings=bucket.readings,
        pollutants=tuple(sorted(rows, key=_sort_key)),
        flows=flows,
    )


def _monthly_for(
    rows: Iterable[MonthlyEnergy], address: str, enterprise_id: str | None, years: Sequence[int]
) -> dict[tuple[int, int], MonthlyEnergy]:
    """The enterprise's monthly rows of ``years`` by (year, month), refusing two rows of a month."""
    found: dict[tuple[int, int], MonthlyEnergy] = {}
    for row in rows:
        if row.year not in years or not row.matches(address, enterprise_id):
            continue
        key = (row.year, row.month)
        if key in found:
            raise InvalidInputError(
                f"two monthly energy rows for {row.year}-{row.month:02d} of {enterprise_id or address} "
                f"(lines {found[key].line} and {row.line})"
            )
        found[key] = row
    return found


def build_report(
    enterprise: str,
    year: int,
    *,
    to_year: int | None = None,
    by: Grouping | str = Grouping.YEAR,
    events: Iterable[BatchAnchoredEvent] = (),
    history: EnterpriseHistory | None = None,
    monthly: Iterable[MonthlyEnergy] = (),
    verified: Iterable[Verified] = (),
    enterprise_id: str | None = None,
    factors: EmissionFactors | None = None,
) -> ProductionReport:
    """An enterprise's production report from data already at hand (pure: no chain access).

    Args:
        enterprise: the enterprise's account address.
        year: first year.
        to_year: last year (default: ``year``).
        by: ``"year"`` or ``"month"`` (months of each year, then the year's row).
        events: ``BatchAnchored`` events; those of other enterprises or other years are skipped.
        history: the enterprise's annual history (energy use), if known.
        monthly: monthly energy rows; those of the enterprise (by address or ``enterprise_id``)
            are used.
        verified: Active attestations' figures; shown on year rows.
        enterprise_id: the enterprise's history id (default: the history's).
        factors: emission factor table (default: the planner's shipped table).

    Raises:
        InvalidInputError: a malformed enterprise address, a year out of range, ``by`` neither
            year nor month, two monthly rows for one month.
    """
    address = checked_address(enterprise, "enterprise")
    years = report_years(year, to_year)
    grouping = as_grouping(by)
    table = factors or EmissionFactors.default()
    if enterprise_id is None and history is not None:
        enterprise_id = history.enterprise_id
    records = {r.year: r for r in history.records} if history is not None else {}
    months = _monthly_for(monthly, address, enterprise_id, years)

    buckets: dict[tuple[int, int], _Bucket] = {}
    for event in events:
        if event.enterprise.lower() != address.lower():
            continue
        y, m = local_month(event.period_start)
        if y in years:
            buckets.setdefault((y, m), _Bucket()).add(event)
    attested: dict[int, dict[str, Verified]] = {}
    for v in verified:
        if v.year in years:
            attested.setdefault(v.year, {})[v.pollutant] = v

    periods: list[PeriodReport] = []
    for y in years:
        total = _Bucket()
        for m in range(1, 13):
            bucket = buckets.get((y, m), _Bucket())
            total.merge(bucket)
            if grouping is Grouping.MONTH:
                row = months.get((y, m))
                energy = None
                if row is not None:
                    energy = energy_use(row.quantities, source="monthly", factors=table)
                periods.append(_period(y, m, bucket, energy, verified={}))
        record = records.get(y)
        year_energy: EnergyUse | None = None
        if record is not None:
            year_energy = energy_use(record_quantities(record), source="annual", factors=table)
            _check_monthly_sum(y, record, months, enterprise_id or address)
        elif all((y, m) in months for m in range(1, 13)):
            summed = {
                c: math.fsum(months[y, m].quantities.get(c, 0.0) for m in range(1, 13))
                for c in CARRIER_COLUMNS
            }
            year_energy = energy_use(summed, source="monthly sum", factors=table)
        periods.append(
            _period(
                y,
                None,
                total,
                year_energy,
                verified=attested.get(y, {}),
                reported_co2=record.reported_co2_t if record is not None else None,
            )
        )
    return ProductionReport(address, enterprise_id, years, grouping, tuple(periods), table)


def _check_monthly_sum(
    year: int, record: YearRecord, months: Mapping[tuple[int, int], MonthlyEnergy], who: str
) -> None:
    """Log a warning when twelve monthly rows do not add up to the annual history (0.5 %)."""
    if not all((year, m) in months for m in range(1, 13)):
        return
    for carrier in CARRIER_COLUMNS:
        annual = record.quantity(carrier)
        summed = math.fsum(months[year, m].quantities.get(carrier, 0.0) for m in range(1, 13))
        if abs(summed - annual) > 0.005 * max(annual, 1.0):
            logger.warning(
                "monthly %s of %d sums to %.3f, the annual history says %.3f",
                carrier, year, summed, annual,
                extra={"enterprise": who},
            )  # fmt: skip


# --------------------------------------------------------------------------- from the chain


def verified_emissions(ledger: LedgerClient, enterprise: str, years: Iterable[int]) -> list[Verified]:
    """The Active attestations of every AllowanceToken pollutant of ``enterprise`` in ``years``.

    Raises:
        InvalidInputError: a malformed enterprise address.
        ChainUnavailableError: the node does not answer.
    """
    from chain.attestations import AttestationStatus

    address = checked_address(enterprise, "enterprise")
    found: list[Verified] = []
    for year in years:
        for symbol, code in ALLOWANCE_POLLUTANTS.items():
            attestation_id = ledger.latest_attestation(address, code, year)
            if attestation_id is None:
                continue
            record = ledger.attestation(attestation_id)
            if record.status is not AttestationStatus.ACTIVE:
                continue
            found.append(
                Verified(symbol, year, record.verified_emissions, "0x" + attestation_id.hex(), record.auditor)
            )
    return found


def gather_production(
    ledger: LedgerClient,
    enterprise: str,
    year: int,
    *,
    to_year: int | None = None,
    by: Grouping | str = Grouping.YEAR,
    history: EnterpriseHistory | None = None,
    monthly: Iterable[MonthlyEnergy] = (),
    enterprise_id: str | None = None,
    factors: EmissionFactors | None = None,
    from_block: int | None = None,
    to_block: int | str = "latest",
) -> ProductionReport:
    """An enterprise's production report, its metered and verified figures read from the chain.

    Reads the ledger's ``BatchAnchored`` events from ``from_block`` (default: the client's, e.g.
    the ledger's deployment block) and the Active attestations of each year, then
    :func:`build_report`. The enterprise is a parameter: callers enforce who may see whose
    report.

    Args:
        ledger: the EmissionsLedger client.
        enterprise: the enterprise's account address.
        year: first year.
        to_year: last year (default: ``year``).
        by: ``"year"`` or ``"month"``.
        history: the enterprise's annual history, if known.
        monthly: monthly energy rows (:func:`load_monthly_energy`).
        enterprise_id: the enterprise's history id (matches monthly rows by id).
        factors: emission factor table (default: the planner's shipped table).
        from_block: first block of the event query.
        to_block: last block of the event query.

    Raises:
        InvalidInputError: bad arguments (see :func:`build_report`), checked before any call.
        ChainUnavailableError: the node does not answer.
    """
    address = checked_address(enterprise, "enterprise")
    years = report_years(year, to_year)
    grouping = as_grouping(by)
    events = ledger.anchored_events(enterprise=address, from_block=from_block, to_block=to_block)
    verified = verified_emissions(ledger, address, years)
    logger.info(
        "production report gathered",
        extra={"enterprise": address, "batches": len(events), "attestations": len(verified)},
    )
    return build_report(
        address,
        years[0],
        to_year=years[-1],
        by=grouping,
        events=events,
        history=history,
        monthly=monthly,
        verified=verified,
        enterprise_id=enterprise_id,
        factors=factors,
    )
