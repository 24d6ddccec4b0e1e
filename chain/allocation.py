"""Allowance allocation planner: emissions history, trend, cap proposal and allocation rules."""

# The method follows patent CN115239263A, made concrete:
#   1. per enterprise and year, emissions = verified report, else energy use x emission factors;
#   2. the consortium's annual totals are fitted with a least-squares line;
#   3. the cap of the target year = projected (or last-year) total x (1 - reduction rate);
#   4. the cap is shared out by grandfathering, benchmark or a weighted mix of both, and
#      rounded to whole tonnes by the largest-remainder (Hamilton) method.

from __future__ import annotations

import csv
import functools
import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from domain.allocation import (
    DEFAULT_BASE_YEARS,
    DEFAULT_REDUCTION_RATE,
    DEFAULT_WEIGHT,
    MAX_YEARS,
    MIN_YEARS,
    CapProposal,
    Rule,
    Trend,
    as_rule,
    cap_from_totals,
    check_rate,
    largest_remainder,
    mixed_basis,
)
from domain.codes import check_industry_code, check_region_code, is_valid_credit_code
from domain.errors import AllocationInputError, InvalidInputError

logger = logging.getLogger(__name__)

DATA_DIR: Final = Path(__file__).with_name("data")
#: Default emission factor table (carrier, unit, factor, source).
DEFAULT_EMISSION_FACTORS_PATH: Final = DATA_DIR / "emission_factors.csv"
#: Default benchmark table (industry code, industry, output unit, intensity, source).
DEFAULT_BENCHMARKS_PATH: Final = DATA_DIR / "benchmarks.csv"


HISTORY_COLUMNS: Final = (
    "enterprise_id",
    "year",
    "coal_t",
    "natural_gas_km3",
    "oil_t",
    "electricity_mwh",
    "heat_gj",
    "output",
    "output_unit",
    "reported_co2_t",
)
ENTERPRISE_COLUMNS: Final = ("enterprise_id", "region_code", "industry_code")
PLAN_COLUMNS: Final = ("enterprise_id", "allocation", "share", "basis_t")
#: Energy carrier -> history column holding its quantity.
CARRIER_COLUMNS: Final[Mapping[str, str]] = {
    "coal": "coal_t",
    "natural_gas": "natural_gas_km3",
    "oil": "oil_t",
    "electricity": "electricity_mwh",
    "heat": "heat_gj",
}
#: Energy carrier -> unit its quantity is measured in (the factor table must agree).
CARRIER_UNITS: Final[Mapping[str, str]] = {
    "coal": "t",
    "natural_gas": "1000 m3",
    "oil": "t",
    "electricity": "MWh",
    "heat": "GJ",
}
PLAN_MARKER: Final = "# ets-allocation-plan "
PLAN_FORMAT: Final = 1
_MIN_YEAR, _MAX_YEAR = 1900, 2200


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class YearRecord:
    """One enterprise's energy use, output and reported emissions in one year.

    Attributes:
        enterprise_id: enterprise identifier, e.g. ``"E0001"``.
        year: calendar year.
        coal_t: raw coal burnt, tonnes.
        natural_gas_km3: natural gas burnt, thousand cubic metres.
        oil_t: oil products burnt, tonnes.
        electricity_mwh: net purchased electricity, MWh.
        heat_gj: net purchased heat, GJ.
        output: production in ``output_unit`` (MWh, t clinker, 10^4 t-km ...).
        output_unit: unit of ``output``; must match the industry's benchmark unit.
        reported_co2_t: verified emissions, tCO2, or None when not reported.
    """

    enterprise_id: str
    year: int
    coal_t: float
    natural_gas_km3: float
    oil_t: float
    electricity_mwh: float
    heat_gj: float
    output: float
    output_unit: str
    reported_co2_t: float | None = None

    def quantity(self, carrier: str) -> float:
        """Quantity of ``carrier`` (``"coal"``, ``"natural_gas"`` ...) in its unit."""
        value: float = getattr(self, CARRIER_COLUMNS[carrier])
        return value


@dataclass(frozen=True, slots=True)
class EnterpriseHistory:
    """An enterprise's yearly records (sorted by year) and, when known, region and industry.

    Attributes:
        enterprise_id: enterprise identifier.
        records: one record per year, sorted by year.
        region_code: GB/T 2260 region code, or None.
        industry_code: GB/T 4754-2017 industry class, or None.
    """

    enterprise_id: str
    records: tuple[YearRecord, ...]
    region_code: int | None = None
    industry_code: str | None = None

    def __post_init__(self) -> None:
        if not self.records:
            raise InvalidInputError(f"enterprise {self.enterprise_id} has no records")
        ordered = tuple(sorted(self.records, key=lambda r: r.year))
        years = [r.year for r in ordered]
        if len(set(years)) != len(years):
            raise InvalidInputError(f"enterprise {self.enterprise_id} has duplicate years")
        if any(r.enterprise_id != self.enterprise_id for r in ordered):
            raise InvalidInputError(f"records of another enterprise in {self.enterprise_id}")
        object.__setattr__(self, "records", ordered)

    @property
    def years(self) -> tuple[int, ...]:
        """Years with a record, ascending."""
        return tuple(r.year for r in self.records)

    @property
    def latest(self) -> YearRecord:
        """The most recent record."""
        return self.records[-1]

    def emissions(self, factors: EmissionFactors | None = None) -> dict[int, float]:
        """Emissions per year (tCO2): the reported figure, else derived from energy use."""
        table = factors or EmissionFactors.default()
        return {r.year: record_co2(r, table) for r in self.records}


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True, slots=True)
class EmissionFactor:
    """CO2 emission factor of one energy carrier.

    Attributes:
        carrier: ``coal``, ``natural_gas``, ``oil``, ``electricity`` or ``heat``.
        unit: unit of the carrier's quantity (see :data:`CARRIER_UNITS`).
        factor: tCO2 per unit.
        source: where the figure comes from.
    """

    carrier: str
    unit: str
    factor: float
    source: str = ""


@dataclass(frozen=True, slots=True)
class EmissionFactors:
    """A complete emission factor table, one factor per carrier.

    Attributes:
        factors: carrier -> factor.
    """

    factors: Mapping[str, EmissionFactor]

    def __post_init__(self) -> None:
        missing = sorted(set(CARRIER_COLUMNS) - set(self.factors))
        if missing:
            raise InvalidInputError(f"emission factors missing for {', '.join(missing)}")
        for carrier, item in self.factors.items():
            if not (math.isfinite(item.factor) and item.factor >= 0):
                raise InvalidInputError(f"emission factor of {carrier} must be >= 0")

    def __getitem__(self, carrier: str) -> float:
        return self.factors[carrier].factor

    @classmethod
    def from_values(cls, values: Mapping[str, float]) -> EmissionFactors:
        """A table from ``{carrier: tCO2 per unit}`` with the standard units.

        Raises:
            InvalidInputError: a carrier missing or unknown, or a negative factor.
        """
        unknown = sorted(set(values) - set(CARRIER_COLUMNS))
        if unknown:
            raise InvalidInputError(f"unknown energy carrier(s): {', '.join(unknown)}")
        return cls({c: EmissionFactor(c, CARRIER_UNITS[c], float(v)) for c, v in values.items()})

    @classmethod
    def load(cls, path: str | Path) -> EmissionFactors:
        """Read a factor table: columns ``carrier, unit, factor_tco2_per_unit[, source]``.

        Lines starting with ``#`` are comments. Every carrier of :data:`CARRIER_UNITS` must be
        present once, in the unit given there.

        Raises:
            AllocationInputError: lists every bad row with its line number.
        """
        path = Path(path)
        problems: list[str] = []
        table = _read_table(path, ("carrier", "unit", "factor_tco2_per_unit"), problems)
        factors: dict[str, EmissionFactor] = {}
        listed: set[str] = set()
        where = path.name
        for row in table or ():
            carrier = row.get("carrier")
            at = f"{where} line {row.line}"
            if carrier not in CARRIER_UNITS:
                problems.append(f"{at}: unknown energy carrier {carrier!r}")
                continue
            if carrier in listed:
                problems.append(f"{at}: duplicate carrier {carrier!r}")
                continue
            listed.add(carrier)
            unit = row.get("unit")
            if unit != CARRIER_UNITS[carrier]:
                problems.append(f"{at}: unit of {carrier} must be {CARRIER_UNITS[carrier]!r}, got {unit!r}")
            value = _number(row, "factor_tco2_per_unit", problems, at)
            if value is not None:
                factors[carrier] = EmissionFactor(carrier, unit, value, row.get("source"))
        if table is not None:
            for carrier in CARRIER_UNITS:
                if carrier not in listed:
                    problems.append(f"{where}: no row for carrier {carrier!r}")
        if problems:
            raise AllocationInputError(problems)
        return cls(factors)

    @classmethod
    def default(cls) -> EmissionFactors:
        """The shipped table ``chain/data/emission_factors.csv`` (read once)."""
        return _default_factors()


@dataclass(frozen=True, slots=True)
class Benchmark:
    """Benchmark emission intensity of one industry class.

    Attributes:
        industry_code: GB/T 4754-2017 class, e.g. ``"D4411"``.
        industry: English name of the class.
        output_unit: unit of output the intensity refers to.
        intensity: tCO2 per unit of output.
        source: where the figure comes from.
    """

    industry_code: str
    industry: str
    output_unit: str
    intensity: float
    source: str = ""


@dataclass(frozen=True, slots=True)
class Benchmarks:
    """Benchmark table by industry code.

    Attributes:
        entries: industry code -> benchmark.
    """

    entries: Mapping[str, Benchmark]

    def __contains__(self, industry_code: object) -> bool:
        return industry_code in self.entries

    def __getitem__(self, industry_code: str) -> Benchmark:
        return self.entries[industry_code]

    @classmethod
    def from_entries(cls, entries: Iterable[Benchmark]) -> Benchmarks:
        """A table from benchmark entries.

        Raises:
            InvalidInputError: duplicate code, bad code or a negative intensity.
        """
        table: dict[str, Benchmark] = {}
        for entry in entries:
            check_industry_code(entry.industry_code)
            if entry.industry_code in table:
                raise InvalidInputError(f"duplicate benchmark for {entry.industry_code}")
            if not (math.isfinite(entry.intensity) and entry.intensity >= 0):
                raise InvalidInputError(f"benchmark of {entry.industry_code} must be >= 0")
            table[entry.industry_code] = entry
        return cls(table)

    @classmethod
    def load(cls, path: str | Path) -> Benchmarks:
        """Read a benchmark table.

        Columns ``industry_code, industry, output_unit, benchmark_tco2_per_unit[, source]``;
        lines starting with ``#`` are comments.

        Raises:
            AllocationInputError: lists every bad row with its line number.
        """
        path = Path(path)
        problems: list[str] = []
        columns = ("industry_code", "industry", "output_unit", "benchmark_tco2_per_unit")
        table = _read_table(path, columns, problems)
        entries: dict[str, Benchmark] = {}
        for row in table or ():
            at = f"{path.name} line {row.line}"
            code = row.get("industry_code")
            try:
                check_industry_code(code)
            except InvalidInputError as exc:
                problems.append(f"{at}: {exc}")
                continue
            if code in entries:
                problems.append(f"{at}: duplicate industry code {code!r}")
                continue
            unit = row.get("output_unit")
            if not unit:
                problems.append(f"{at}: output_unit is empty")
            value = _number(row, "benchmark_tco2_per_unit", problems, at)
            if value is not None and unit:
                entries[code] = Benchmark(code, row.get("industry"), unit, value, row.get("source"))
        if problems:
            raise AllocationInputError(problems)
        return cls(entries)

    @classmethod
    def default(cls) -> Benchmarks:
        """The shipped table ``chain/data/benchmarks.csv`` (read once)."""
        return _default_benchmarks()


@functools.cache
def _default_factors() -> EmissionFactors:
    return EmissionFactors.load(DEFAULT_EMISSION_FACTORS_PATH)


@functools.cache
def _default_benchmarks() -> Benchmarks:
    return Benchmarks.load(DEFAULT_BENCHMARKS_PATH)


@dataclass(frozen=True, slots=True)
class Adjustments:
    """Adjustment factors of the benchmark rule (regional policy, early action).

    A factor multiplies an enterprise's benchmark basis; 1 leaves it unchanged.

    Attributes:
        region: GB/T 2260 code -> factor. A province code (``330000``) applies to all its
            cities; a city code (``331000``) takes precedence over its province.
        early_action: enterprise id -> factor rewarding reductions made before the scheme.
    """

    region: Mapping[int, float] = field(default_factory=dict)
    early_action: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key, value in [*self.region.items(), *self.early_action.items()]:
            if not (math.isfinite(value) and value >= 0):
                raise InvalidInputError(f"adjustment factor for {key} must be >= 0, got {value}")

    def factor(self, history: EnterpriseHistory) -> float:
        """Product of the region and early-action factors applying to ``history``."""
        region = 1.0
        if history.region_code is not None:
            province = history.region_code // 10000 * 10000
            region = self.region.get(history.region_code, self.region.get(province, 1.0))
        return region * self.early_action.get(history.enterprise_id, 1.0)


# --------------------------------------------------------------------------- CSV reading


class _Row(dict[str, str]):
    """A CSV row by column name, remembering its physical line number."""

    line: int

    def __init__(self, line: int, values: Mapping[str, str]) -> None:
        super().__init__(values)
        self.line = line

    def get(self, key: str, default: str = "") -> str:  # type: ignore[override]
        return super().get(key, default).strip()


def _read_table(path: Path, required: Sequence[str], problems: list[str]) -> list[_Row] | None:
    """Rows of a CSV file skipping blank and ``#`` lines; None if the header is unusable.

    Fields are single-line (quoted commas are fine, quoted newlines are not).
    """
    where = path.name
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{where}: cannot read ({exc})")
        return None
    header: list[str] | None = None
    rows: list[_Row] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = next(csv.reader([line]))
        if header is None:
            header = [f.strip() for f in fields]
            missing = [c for c in required if c not in header]
            if missing:
                problems.append(f"{where} line {number}: missing column(s) {', '.join(missing)}")
                return None
            duplicated = sorted({c for c in header if header.count(c) > 1})
            if duplicated:
                problems.append(f"{where} line {number}: duplicate column(s) {duplicated}")
                return None
            continue
        if len(fields) != len(header):
            problems.append(f"{where} line {number}: expected {len(header)} fields, got {len(fields)}")
            continue
        rows.append(_Row(number, dict(zip(header, fields, strict=True))))
    if header is None:
        problems.append(f"{where}: no header line")
        return None
    return rows


def _number(row: _Row, column: str, problems: list[str], at: str, *, optional: bool = False) -> float | None:
    """Non-negative finite number in ``column``; appends a problem and returns None if not."""
    text = row.get(column)
    if not text:
        if not optional:
            problems.append(f"{at}: {column} is empty")
        return None
    try:
        value = float(text)
    except ValueError:
        problems.append(f"{at}: {column} {text!r} is not a number")
        return None
    if not math.isfinite(value):
        problems.append(f"{at}: {column} {text!r} is not finite")
        return None
    if value < 0:
        problems.append(f"{at}: {column} {text!r} is negative")
        return None
    return value


def _integer(row: _Row, column: str, problems: list[str], at: str) -> int | None:
    text = row.get(column)
    try:
        return int(text)
    except ValueError:
        problems.append(f"{at}: {column} {text!r} is not an integer")
        return None


@dataclass(frozen=True, slots=True)
class _Profile:
    line: int
    region_code: int | None
    industry_code: str | None


def _load_profiles(path: Path, problems: list[str]) -> dict[str, _Profile] | None:
    """Region and industry per enterprise from an enterprises.csv; None if unusable."""
    table = _read_table(path, ENTERPRISE_COLUMNS, problems)
    if table is None:
        return None
    profiles: dict[str, _Profile] = {}
    for row in table:
        at = f"{path.name} line {row.line}"
        enterprise = row.get("enterprise_id")
        if not enterprise:
            problems.append(f"{at}: enterprise_id is empty")
            continue
        if enterprise in profiles:
            first = profiles[enterprise].line
            problems.append(f"{at}: duplicate enterprise {enterprise} (first at line {first})")
            continue
        region: int | None = None
        code = _integer(row, "region_code", problems, at)
        if code is not None:
            try:
                region = check_region_code(code)
            except InvalidInputError as exc:
                problems.append(f"{at}: {exc}")
        industry: str | None = None
        try:
            industry = check_industry_code(row.get("industry_code"))
        except InvalidInputError as exc:
            problems.append(f"{at}: {exc}")
        credit = row.get("credit_code")
        if "credit_code" in row and not is_valid_credit_code(credit):
            problems.append(f"{at}: credit_code {credit!r} is not a valid GB 32100 code")
        profiles[enterprise] = _Profile(row.line, region, industry)
    return profiles


def load_history(
    path: str | Path,
    *,
    enterprises_path: str | Path | None = None,
    rule: Rule | str | None = None,
    benchmarks: Benchmarks | None = None,
) -> list[EnterpriseHistory]:
    """Read and validate a history.csv (long format, one row per enterprise and year).

    Columns are :data:`HISTORY_COLUMNS`; ``reported_co2_t`` may be empty. Region and industry
    come from ``enterprises_path``, by default the ``enterprises.csv`` beside ``path`` when it
    exists; every enterprise of the history must then be listed there.

    Checked, all at once: missing columns, wrong field counts, empty ids, non-integer years,
    negative / non-numeric / non-finite quantities, duplicate enterprise-years, output units
    changing within an enterprise, fewer than :data:`MIN_YEARS` or more than :data:`MAX_YEARS`
    years per enterprise, and, when ``rule`` is benchmark or mixed, a missing or unknown
    industry or an output unit other than the benchmark's.

    Args:
        path: the history CSV.
        enterprises_path: the enterprises CSV, if not beside ``path``.
        rule: the rule the history is for; benchmark and mixed need known industries.
        benchmarks: benchmark table to check industries against (default: shipped table).

    Returns:
        One history per enterprise, sorted by enterprise id. Nothing partial is returned.

    Raises:
        AllocationInputError: lists every bad row with its file and line number.
    """
    chosen = as_rule(rule) if rule is not None else None
    path = Path(path)
    problems: list[str] = []
    rows = _read_table(path, HISTORY_COLUMNS, problems)
    profiles: dict[str, _Profile] | None = None
    ent_path = Path(enterprises_path) if enterprises_path is not None else None
    if ent_path is None and path.with_name("enterprises.csv").exists():
        ent_path = path.with_name("enterprises.csv")
    if ent_path is not None:
        profiles = _load_profiles(ent_path, problems)
    if rows is None:
        raise AllocationInputError(problems)

    where = path.name
    records: dict[str, list[YearRecord]] = {}
    seen: dict[tuple[str, int], int] = {}
    units: dict[str, tuple[str, int]] = {}
    for row in rows:
        at = f"{where} line {row.line}"
        before = len(problems)
        enterprise = row.get("enterprise_id")
        if not enterprise:
            problems.append(f"{at}: enterprise_id is empty")
        year = _integer(row, "year", problems, at)
        if year is not None and not _MIN_YEAR <= year <= _MAX_YEAR:
            problems.append(f"{at}: year {year} is out of range {_MIN_YEAR}-{_MAX_YEAR}")
            year = None
        values = {c: _number(row, c, problems, at) for c in CARRIER_COLUMNS.values()}
        output = _number(row, "output", problems, at)
        unit = row.get("output_unit")
        if not unit:
            problems.append(f"{at}: output_unit is empty")
        reported = _number(row, "reported_co2_t", problems, at, optional=True)
        if enterprise and year is not None:
            key = (enterprise, year)
            if key in seen:
                problems.append(
                    f"{at}: duplicate enterprise-year {enterprise} {year} (first at line {seen[key]})"
                )
                continue
            seen[key] = row.line
        if enterprise and unit:
            first_unit, first_line = units.setdefault(enterprise, (unit, row.line))
            if unit != first_unit:
                problems.append(
                    f"{at}: output_unit {unit!r} of {enterprise} differs from {first_unit!r} "
                    f"at line {first_line}"
                )
        if len(problems) > before or year is None or output is None:
            continue
        record = YearRecord(
            enterprise_id=enterprise,
            year=year,
            coal_t=values["coal_t"] or 0.0,
            natural_gas_km3=values["natural_gas_km3"] or 0.0,
            oil_t=values["oil_t"] or 0.0,
            electricity_mwh=values["electricity_mwh"] or 0.0,
            heat_gj=values["heat_gj"] or 0.0,
            output=output,
            output_unit=unit,
            reported_co2_t=reported,
        )
        records.setdefault(enterprise, []).append(record)

    year_lines: dict[str, list[int]] = {}
    for (enterprise, _year), line in seen.items():
        year_lines.setdefault(enterprise, []).append(line)
    for enterprise in sorted(e for e in year_lines if e):
        lines = sorted(year_lines[enterprise])
        if not MIN_YEARS <= len(lines) <= MAX_YEARS:
            shown = ", ".join(str(n) for n in lines)
            problems.append(
                f"{where} lines {shown}: enterprise {enterprise} has {len(lines)} year(s), "
                f"needs {MIN_YEARS} to {MAX_YEARS}"
            )

    if profiles is not None and ent_path is not None:
        for enterprise in sorted(e for e in year_lines if e):
            if enterprise not in profiles:
                line = min(year_lines[enterprise])
                problems.append(f"{where} line {line}: enterprise {enterprise} is not in {ent_path.name}")

    if chosen is not None and chosen is not Rule.GRANDFATHERING:
        table = benchmarks or Benchmarks.default()
        for enterprise in sorted(e for e in year_lines if e):
            profile = (profiles or {}).get(enterprise)
            line = min(year_lines[enterprise])
            if profile is None:
                if profiles is None:
                    problems.append(
                        f"{where} line {line}: industry of {enterprise} unknown "
                        f"(no enterprises.csv), needed by the {chosen} rule"
                    )
                continue
            ent_at = f"{ent_path.name if ent_path else ''} line {profile.line}"
            if profile.industry_code is None:
                continue  # already reported as a bad code
            if profile.industry_code not in table:
                problems.append(
                    f"{ent_at}: unknown industry {profile.industry_code!r} of {enterprise} "
                    f"(no benchmark), needed by the {chosen} rule"
                )
                continue
            expected = table[profile.industry_code].output_unit
            unit, unit_line = units.get(enterprise, (expected, line))
            if unit != expected:
                problems.append(
                    f"{where} line {unit_line}: output_unit {unit!r} of {enterprise} does not "
                    f"match the {profile.industry_code} benchmark unit {expected!r}"
                )

    if problems:
        raise AllocationInputError(problems)
    histories = []
    for enterprise in sorted(records):
        profile = (profiles or {}).get(enterprise)
        histories.append(
            EnterpriseHistory(
                enterprise_id=enterprise,
                records=tuple(records[enterprise]),
                region_code=profile.region_code if profile else None,
                industry_code=profile.industry_code if profile else None,
            )
        )
    logger.info(
        "history loaded",
        extra={"path": str(path), "enterprises": len(histories), "rows": len(rows)},
    )
    return histories


# --------------------------------------------------------------------------- emissions


def energy_co2(record: YearRecord, factors: EmissionFactors | None = None) -> float:
    """Emissions derived from energy use: sum over carriers of quantity x factor (tCO2).

    Args:
        record: one enterprise-year.
        factors: factor table (default: shipped table).
    """
    table = factors or EmissionFactors.default()
    return math.fsum(record.quantity(c) * table[c] for c in CARRIER_COLUMNS)


def record_co2(record: YearRecord, factors: EmissionFactors | None = None) -> float:
    """An enterprise-year's emissions: ``reported_co2_t`` when present, else :func:`energy_co2`."""
    if record.reported_co2_t is not None:
        return record.reported_co2_t
    return energy_co2(record, factors)


def annual_totals(
    history: Sequence[EnterpriseHistory], factors: EmissionFactors | None = None
) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """Years present in ``history`` and the sum of all enterprises' emissions in each."""
    sums: dict[int, list[float]] = {}
    for enterprise in history:
        for year, value in enterprise.emissions(factors).items():
            sums.setdefault(year, []).append(value)
    years = tuple(sorted(sums))
    return years, tuple(math.fsum(sums[y]) for y in years)


# --------------------------------------------------------------------------- trend and cap


def propose_cap(
    history: Sequence[EnterpriseHistory],
    target_year: int,
    reduction_rate: float = DEFAULT_REDUCTION_RATE,
    *,
    factors: EmissionFactors | None = None,
    use_projection: bool = True,
) -> CapProposal:
    """Propose the cap of ``target_year`` from the consortium's annual totals.

    With ``T_y`` the sum over enterprises of year ``y``'s emissions (reported, else
    energy-derived) and ``a + b * y`` the least-squares line through the ``T_y``::

        P    = a + b * target_year                       (projected total)
        base = P          if use_projection and P > 0
               T_last     otherwise                      (total of the last year)
        cap  = floor(base * (1 - reduction_rate))

    Args:
        history: the enterprises' histories (at least two distinct years in all).
        target_year: the year to cap; must be after the last year of history.
        reduction_rate: fraction in [0, 1] taken off the base.
        factors: emission factors for unreported years (default: shipped table).
        use_projection: False to start from the last year's total instead.

    Raises:
        InvalidInputError: empty history, a single year, a bad rate or a target year not
            after the history.
    """
    check_rate("reduction_rate", reduction_rate)
    if not history:
        raise InvalidInputError("history is empty")
    years, totals = annual_totals(history, factors)
    return cap_from_totals(years, totals, target_year, reduction_rate, use_projection=use_projection)


# --------------------------------------------------------------------------- rules


def grandfathering_basis(
    history: Sequence[EnterpriseHistory],
    *,
    factors: EmissionFactors | None = None,
    base_years: Sequence[int] | None = None,
) -> dict[str, float]:
    """Average annual emissions of each enterprise over the base years (tCO2).

    Args:
        history: the enterprises' histories.
        factors: emission factors for unreported years.
        base_years: the years to average; by default each enterprise's last
            :data:`DEFAULT_BASE_YEARS` years. An enterprise averages the base years it has.

    Raises:
        AllocationInputError: an enterprise has none of the base years.
    """
    basis: dict[str, float] = {}
    problems: list[str] = []
    wanted = set(base_years) if base_years is not None else None
    for enterprise in history:
        emissions = enterprise.emissions(factors)
        years = sorted(emissions)[-DEFAULT_BASE_YEARS:] if wanted is None else sorted(wanted & set(emissions))
        if not years:
            problems.append(f"enterprise {enterprise.enterprise_id} has none of the base years")
            continue
        basis[enterprise.enterprise_id] = math.fsum(emissions[y] for y in years) / len(years)
    if problems:
        raise AllocationInputError(problems)
    return basis


def benchmark_basis(
    history: Sequence[EnterpriseHistory],
    *,
    benchmarks: Benchmarks | None = None,
    adjustments: Adjustments | None = None,
) -> dict[str, float]:
    """Benchmark intensity x latest output x adjustment factors, per enterprise (tCO2).

    Args:
        history: the enterprises' histories, with industry codes.
        benchmarks: benchmark table (default: shipped table).
        adjustments: regional / early-action factors (default: none).

    Raises:
        AllocationInputError: an industry missing or without benchmark, or an output unit
            other than the benchmark's; every enterprise concerned is listed.
    """
    table = benchmarks or Benchmarks.default()
    adjust = adjustments or Adjustments()
    basis: dict[str, float] = {}
    problems: list[str] = []
    for enterprise in history:
        code = enterprise.industry_code
        name = enterprise.enterprise_id
        if code is None:
            problems.append(f"enterprise {name} has no industry code (benchmark rule)")
            continue
        if code not in table:
            problems.append(f"enterprise {name}: unknown industry {code!r} (no benchmark)")
            continue
        bench = table[code]
        latest = enterprise.latest
        if latest.output_unit != bench.output_unit:
            problems.append(
                f"enterprise {name}: output unit {latest.output_unit!r} does not match the "
                f"{code} benchmark unit {bench.output_unit!r}"
            )
            continue
        basis[name] = bench.intensity * latest.output * adjust.factor(enterprise)
    if problems:
        raise AllocationInputError(problems)
    return basis


# --------------------------------------------------------------------------- plan


@dataclass(frozen=True, slots=True)
class AllocationEntry:
    """One enterprise's line of a plan.

    Attributes:
        enterprise_id: enterprise identifier.
        allocation: allowances, whole tCO2.
        share: exact share of the cap, ``basis_t / sum(basis_t)``.
        basis_t: the rule's basis (tCO2) the share is taken from.
    """

    enterprise_id: str
    allocation: int
    share: float
    basis_t: float


@dataclass(frozen=True, slots=True)
class AllocationPlan:
    """Allocation of one year's cap among the enterprises.

    Attributes:
        target_year: vintage year allocated.
        rule: the rule used.
        cap: total allocated; allocations sum to it exactly.
        proposed_cap: the cap the trend proposed (equal to ``cap`` unless overridden).
        reduction_rate: reduction used for the proposal.
        weight: grandfathering weight (mixed rule), else None.
        trend: annual totals and their fitted trend.
        entries: one entry per enterprise, sorted by enterprise id.
    """

    target_year: int
    rule: Rule
    cap: int
    proposed_cap: int
    reduction_rate: float
    weight: float | None
    trend: Trend
    entries: tuple[AllocationEntry, ...]

    @property
    def total(self) -> int:
        """Sum of the allocations."""
        return sum(e.allocation for e in self.entries)

    def allocations(self) -> dict[str, int]:
        """Enterprise id -> allocation."""
        return {e.enterprise_id: e.allocation for e in self.entries}

    def metadata(self) -> dict[str, Any]:
        """The plan's figures other than the entries, JSON-ready."""
        return {
            "format": PLAN_FORMAT,
            "target_year": self.target_year,
            "rule": self.rule.value,
            "cap": self.cap,
            "proposed_cap": self.proposed_cap,
            "reduction_rate": self.reduction_rate,
            "weight": self.weight,
            "enterprises": len(self.entries),
            "trend": self.trend.as_dict(),
        }

    def write_csv(self, path: str | Path) -> Path:
        """Write the plan as CSV.

        The first line is ``# ets-allocation-plan {json}`` with :meth:`metadata`; then the
        header ``enterprise_id,allocation,share,basis_t`` and one row per enterprise.
        Floats are written so that :meth:`read_csv` gets the same values back.

        Returns:
            The path written.
        """
        path = Path(path)
        with path.open("w", encoding="utf-8", newline="") as handle:
            handle.write(PLAN_MARKER + json.dumps(self.metadata(), sort_keys=True) + "\n")
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(PLAN_COLUMNS)
            for e in self.entries:
                writer.writerow([e.enterprise_id, e.allocation, repr(e.share), repr(e.basis_t)])
        logger.info(
            "allocation plan written",
            extra={"path": str(path), "cap": self.cap, "target_year": self.target_year},
        )
        return path

    @classmethod
    def read_csv(cls, path: str | Path) -> AllocationPlan:
        """Read and validate a plan written by :meth:`write_csv`.

        Checks the metadata line, the columns, every row (id present and unique, allocation a
        non-negative integer, share in [0, 1], basis non-negative, allocation within 1 of
        ``share * cap``) and that the allocations sum to the cap.

        Raises:
            AllocationInputError: lists every problem with its line number.
        """
        path = Path(path)
        where = path.name
        problems: list[str] = []
        try:
            first = path.read_text(encoding="utf-8-sig").partition("\n")[0]
        except (OSError, UnicodeDecodeError) as exc:
            raise AllocationInputError([f"{where}: cannot read ({exc})"]) from exc
        meta = _plan_metadata(first, f"{where} line 1", problems)
        rows = _read_table(path, PLAN_COLUMNS, problems)
        if rows is None or meta is None:
            raise AllocationInputError(problems)
        cap: int = meta["cap"]
        entries: list[AllocationEntry] = []
        seen: dict[str, int] = {}
        tolerance = 1.0 + 1e-9 * max(cap, 1)
        for row in rows:
            at = f"{where} line {row.line}"
            before = len(problems)
            enterprise = row.get("enterprise_id")
            if not enterprise:
                problems.append(f"{at}: enterprise_id is empty")
            elif enterprise in seen:
                problems.append(f"{at}: duplicate enterprise {enterprise} (first at line {seen[enterprise]})")
            else:
                seen[enterprise] = row.line
            text = row.get("allocation")
            allocation = int(text) if text.isascii() and text.isdigit() else None
            if allocation is None:
                problems.append(f"{at}: allocation {text!r} is not a non-negative integer")
            share = _number(row, "share", problems, at)
            if share is not None and share > 1:
                problems.append(f"{at}: share {share!r} is above 1")
                share = None
            basis = _number(row, "basis_t", problems, at)
            if allocation is not None and share is not None:
                quota = share * cap
                if abs(allocation - quota) > tolerance:
                    problems.append(
                        f"{at}: allocation {allocation} is more than 1 from share x cap = {quota:.3f}"
                    )
            if len(problems) == before and allocation is not None:
                entries.append(AllocationEntry(enterprise, allocation, share or 0.0, basis or 0.0))
        if not problems:
            total = sum(e.allocation for e in entries)
            if total != cap:
                problems.append(f"{where}: allocations sum to {total}, cap (line 1) is {cap}")
            if entries and total and abs(math.fsum(e.share for e in entries) - 1.0) > 1e-6:
                problems.append(f"{where}: shares do not sum to 1")
        if problems:
            raise AllocationInputError(problems)
        return cls(
            target_year=meta["target_year"],
            rule=meta["rule"],
            cap=cap,
            proposed_cap=meta["proposed_cap"],
            reduction_rate=meta["reduction_rate"],
            weight=meta["weight"],
            trend=meta["trend"],
            entries=tuple(sorted(entries, key=lambda e: e.enterprise_id)),
        )


def _plan_metadata(line: str, at: str, problems: list[str]) -> dict[str, Any] | None:
    """Checked metadata of a plan file's first line, with ``rule`` and ``trend`` parsed."""
    if not line.startswith(PLAN_MARKER):
        problems.append(f"{at}: expected a '{PLAN_MARKER.strip()} {{...}}' metadata line")
        return None
    try:
        meta = json.loads(line[len(PLAN_MARKER) :])
    except json.JSONDecodeError as exc:
        problems.append(f"{at}: metadata is not JSON ({exc.msg})")
        return None
    if not isinstance(meta, dict):
        problems.append(f"{at}: metadata must be a JSON object")
        return None
    before = len(problems)
    if meta.get("format") != PLAN_FORMAT:
        problems.append(f"{at}: unsupported plan format {meta.get('format')!r}")
    for key in ("target_year", "cap", "proposed_cap"):
        value = meta.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            problems.append(f"{at}: {key} must be a non-negative integer, got {value!r}")
    try:
        meta["rule"] = as_rule(str(meta.get("rule")))
    except InvalidInputError as exc:
        problems.append(f"{at}: {exc}")
    rate = meta.get("reduction_rate")
    if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0 <= rate <= 1:
        problems.append(f"{at}: reduction_rate must be a number in [0, 1], got {rate!r}")
    weight = meta.get("weight")
    if weight is not None and (not isinstance(weight, int | float) or not 0 <= weight <= 1):
        problems.append(f"{at}: weight must be null or a number in [0, 1], got {weight!r}")
    try:
        meta["trend"] = _trend_from_dict(meta.get("trend"))
    except (InvalidInputError, TypeError, ValueError, KeyError) as exc:
        problems.append(f"{at}: bad trend ({exc})")
    return meta if len(problems) == before else None


def _trend_from_dict(data: Any) -> Trend:
    if not isinstance(data, dict):
        raise InvalidInputError("trend must be a JSON object")
    cagr = data["cagr"]
    target = data["target_year"]
    projected = data["projected"]
    result = Trend(
        years=tuple(int(y) for y in data["years"]),
        totals=tuple(float(t) for t in data["totals"]),
        slope=float(data["slope"]),
        intercept=float(data["intercept"]),
        r_squared=float(data["r_squared"]),
        cagr=None if cagr is None else float(cagr),
        target_year=None if target is None else int(target),
        projected=None if projected is None else float(projected),
    )
    if len(result.years) != len(result.totals):
        raise InvalidInputError("years and totals differ in length")
    return result


def plan(
    history: Sequence[EnterpriseHistory],
    target_year: int,
    rule: Rule | str,
    reduction_rate: float = DEFAULT_REDUCTION_RATE,
    weight: float = DEFAULT_WEIGHT,
    cap: int | None = None,
    *,
    factors: EmissionFactors | None = None,
    benchmarks: Benchmarks | None = None,
    adjustments: Adjustments | None = None,
    base_years: Sequence[int] | None = None,
    use_projection: bool = True,
) -> AllocationPlan:
    """Plan the allocation of ``target_year``'s allowances.

    The cap is proposed by :func:`propose_cap` unless ``cap`` is given. Each enterprise's
    basis comes from the rule (:func:`grandfathering_basis`, :func:`benchmark_basis` or
    :func:`mixed_basis` with ``weight``); the cap is then shared in proportion to the bases
    by :func:`largest_remainder`, so the allocations are whole tonnes summing to the cap.

    Args:
        history: one history per enterprise (distinct ids).
        target_year: the vintage to allocate; after the last year of history.
        rule: ``"grandfathering"``, ``"benchmark"`` or ``"mixed"``.
        reduction_rate: reduction applied to the projected total, in [0, 1].
        weight: grandfathering weight of the mixed rule, in [0, 1].
        cap: the cap to share out, overriding the proposal.
        factors: emission factors (default: shipped table).
        benchmarks: benchmark table (default: shipped table).
        adjustments: regional / early-action factors of the benchmark rule.
        base_years: years averaged by grandfathering (default: each enterprise's last 3).
        use_projection: False to base the proposed cap on the last year's total.

    Raises:
        InvalidInputError: bad parameters or duplicate enterprises.
        AllocationInputError: the data cannot support the rule (e.g. unknown industries).
    """
    chosen = as_rule(rule)
    w = check_rate("weight", weight)
    ids = [h.enterprise_id for h in history]
    if len(set(ids)) != len(ids):
        raise InvalidInputError("history lists an enterprise more than once")
    proposal = propose_cap(
        history, target_year, reduction_rate, factors=factors, use_projection=use_projection
    )
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 0):
        raise InvalidInputError(f"cap must be a non-negative integer, got {cap!r}")
    final_cap = proposal.cap if cap is None else cap

    ordered = sorted(history, key=lambda h: h.enterprise_id)
    if chosen is Rule.GRANDFATHERING:
        basis = grandfathering_basis(ordered, factors=factors, base_years=base_years)
    elif chosen is Rule.BENCHMARK:
        basis = benchmark_basis(ordered, benchmarks=benchmarks, adjustments=adjustments)
    else:
        basis = mixed_basis(
            grandfathering_basis(ordered, factors=factors, base_years=base_years),
            benchmark_basis(ordered, benchmarks=benchmarks, adjustments=adjustments),
            w,
        )
    keys = [h.enterprise_id for h in ordered]
    weights = [basis[k] for k in keys]
    allocations = largest_remainder(final_cap, weights, keys)
    whole = math.fsum(weights)
    entries = tuple(
        AllocationEntry(k, a, (b / whole) if whole > 0 else 0.0, b)
        for k, a, b in zip(keys, allocations, weights, strict=True)
    )
    result = AllocationPlan(
        target_year=target_year,
        rule=chosen,
        cap=final_cap,
        proposed_cap=proposal.cap,
        reduction_rate=proposal.reduction_rate,
        weight=w if chosen is Rule.MIXED else None,
        trend=proposal.trend,
        entries=entries,
    )
    logger.info(
        "allocation planned",
        extra={
            "target_year": target_year,
            "rule": chosen.value,
            "cap": final_cap,
            "proposed_cap": proposal.cap,
            "enterprises": len(entries),
        },
    )
    return result


# --------------------------------------------------------------------------- chart


def render_trend_chart(
    source: AllocationPlan | Trend,
    path: str | Path,
    *,
    cap: int | None = None,
    title: str | None = None,
) -> Path:
    """Draw annual totals, the fitted trend and the target year's cap to a PNG file.

    Args:
        source: a plan (its trend and cap are drawn) or a trend (``cap`` drawn if given).
        path: the PNG file to write.
        cap: cap to draw when ``source`` is a trend.
        title: chart title (default names the target year).

    Returns:
        The path written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    cap_value: int | None
    if isinstance(source, AllocationPlan):
        fitted, cap_value = source.trend, source.cap
    else:
        fitted, cap_value = source, cap
    target = fitted.target_year
    peak = max([*fitted.totals, float(cap_value or 0), 1.0])
    scale, unit = (1e6, "Mt CO₂") if peak >= 1e6 else ((1e3, "kt CO₂") if peak >= 1e3 else (1.0, "t CO₂"))

    figure = Figure(figsize=(8, 4.5), dpi=120)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot(
        fitted.years,
        [t / scale for t in fitted.totals],
        marker="o",
        color="tab:blue",
        label="annual total",
    )
    last = target if target is not None else fitted.years[-1]
    line_years = [fitted.years[0], last]
    axes.plot(
        line_years,
        [fitted.predict(y) / scale for y in line_years],
        linestyle="--",
        color="tab:gray",
        label=f"trend ({fitted.slope / scale:+.3g} {unit}/yr, R² {fitted.r_squared:.2f})",
    )
    if target is not None and fitted.projected is not None:
        axes.plot(
            [target],
            [fitted.projected / scale],
            marker="o",
            markerfacecolor="none",
            color="tab:gray",
            linestyle="none",
            label=f"projected {target}",
        )
    if cap_value is not None:
        where = target if target is not None else fitted.years[-1] + 1
        axes.plot(
            [where],
            [cap_value / scale],
            marker="D",
            markersize=8,
            color="tab:red",
            linestyle="none",
            label=f"cap {where}: {cap_value / scale:,.1f} {unit}",
        )
        axes.hlines(cap_value / scale, fitted.years[-1], where, colors="tab:red", linestyles=":", linewidth=1)
    axes.set_title(title or f"Annual emissions, trend and cap for {last}")
    axes.set_xlabel("Year")
    axes.set_ylabel(f"Emissions ({unit})")
    axes.margins(x=0.05, y=0.15)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(True, alpha=0.3)
    axes.legend(loc="best", fontsize="small")
    figure.tight_layout()
    out = Path(path)
    figure.savefig(out, format="png")
    logger.info("trend chart written", extra={"path": str(out)})
    return out
