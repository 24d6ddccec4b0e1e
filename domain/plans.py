"""Total-amount control plans' pure rules: five-year paths, regional shares, annual plans within
their path; the Python reference of ``ITotalControlPlans`` (the contract is tested equal).

Check order (as the contract's): five-year plan: period, then each pollutant line (code,
uniqueness, target bps, the path's last year against base × (1 − target)), then each region
(code, uniqueness, share), then the shares' sum. Annual plan: the year in the five-year period,
then each (pollutant, region) line (pollutant and region of the five-year plan, uniqueness,
reserve bps), then each line's pollutant total against the path, then the enterprise targets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from domain.errors import InvalidInputError, PlanRuleError

BPS = 10_000
#: Years of a five-year plan.
YEARS = 5
#: GB/T 2260 administrative division codes are six digits (110000 Beijing .. 8xxxxx).
REGION_MIN = 110_000
REGION_MAX = 999_999


@dataclass(frozen=True)
class PollutantPath:
    """One pollutant of a five-year plan: base-year emissions (t), target (bps), yearly caps (t)."""

    pollutant: int
    base_emissions: int
    target_bps: int
    path: tuple[int, int, int, int, int]


@dataclass(frozen=True)
class RegionShare:
    """A GB/T 2260 region's share (bps) of each year's path."""

    region: int
    share_bps: int


@dataclass(frozen=True)
class FiveYearPlan:
    """A five-year plan as drafted."""

    start_year: int
    base_year: int
    pollutants: tuple[PollutantPath, ...]
    regions: tuple[RegionShare, ...]
    supersedes: int = 0
    document_hash: bytes = bytes(32)
    uri: str = ""

    @property
    def end_year(self) -> int:
        return self.start_year + YEARS - 1


@dataclass(frozen=True)
class RegionCap:
    """An annual plan's line: cap (t) of a pollutant in a region, reserve share, guide price (fen/t)."""

    pollutant: int
    region: int
    cap: int
    reserve_share_bps: int = 0
    guide_price: int = 0


@dataclass(frozen=True)
class EnterpriseTarget:
    """An enterprise's reduction target (bps) for a pollutant in an annual plan."""

    enterprise: str
    pollutant: int
    target_bps: int


@dataclass(frozen=True)
class AnnualPlan:
    """An annual plan as drafted."""

    five_year_plan_id: int
    year: int
    caps: tuple[RegionCap, ...]
    targets: tuple[EnterpriseTarget, ...] = field(default_factory=tuple)
    supersedes: int = 0
    document_hash: bytes = bytes(32)
    uri: str = ""


def allowed_last_year(base_emissions: int, target_bps: int) -> int:
    """The largest last-year cap meeting the target: ``floor(base × (10,000 − target) / 10,000)``."""
    return base_emissions * (BPS - target_bps) // BPS


def path_of(plan: FiveYearPlan, pollutant: int, year: int) -> int:
    """The plan's cap of ``pollutant`` in ``year`` (0 outside the period or plan)."""
    if not plan.start_year <= year <= plan.end_year:
        return 0
    line = next((p for p in plan.pollutants if p.pollutant == pollutant), None)
    return 0 if line is None else line.path[year - plan.start_year]


def region_path(plan: FiveYearPlan, pollutant: int, year: int, region: int) -> int:
    """A region's part of the path: ``floor(path × share / 10,000)`` (0 for an unknown region)."""
    share = next((r.share_bps for r in plan.regions if r.region == region), 0)
    return path_of(plan, pollutant, year) * share // BPS


def totals(plan: AnnualPlan) -> dict[int, int]:
    """An annual plan's total cap per pollutant (sum of its region lines)."""
    out: dict[int, int] = {}
    for line in plan.caps:
        out[line.pollutant] = out.get(line.pollutant, 0) + line.cap
    return out


def check_five_year(plan: FiveYearPlan) -> None:
    """Refuse a five-year plan breaking a rule.

    Raises:
        PlanRuleError: the first broken rule, named as the contract names it.
    """
    if plan.base_year >= plan.start_year or plan.start_year > 0xFFFF - (YEARS - 1):
        raise PlanRuleError("PlanInvalidPeriod", plan.start_year, plan.base_year)
    if not plan.pollutants:
        raise PlanRuleError("PlanInvalidPollutant", 0)
    seen: set[int] = set()
    for line in plan.pollutants:
        if line.pollutant == 0:
            raise PlanRuleError("PlanInvalidPollutant", 0)
        if line.pollutant in seen:
            raise PlanRuleError("PlanInvalidPollutant", line.pollutant)
        seen.add(line.pollutant)
        if line.target_bps > BPS:
            raise PlanRuleError("PlanInvalidBps", line.pollutant, line.target_bps)
        if line.path[-1] * BPS > line.base_emissions * (BPS - line.target_bps):
            allowed = allowed_last_year(line.base_emissions, line.target_bps)
            raise PlanRuleError("PlanTargetMissed", line.pollutant, line.path[-1], allowed)
    _check_regions(plan.regions)


def _check_regions(regions: Sequence[RegionShare]) -> None:
    if not regions:
        raise PlanRuleError("PlanRegionSharesInvalid", 0)
    seen: set[int] = set()
    total = 0
    for r in regions:
        if not REGION_MIN <= r.region <= REGION_MAX or r.share_bps == 0 or r.region in seen:
            raise PlanRuleError("PlanInvalidRegion", r.region)
        seen.add(r.region)
        total += r.share_bps
    if total != BPS:
        raise PlanRuleError("PlanRegionSharesInvalid", total)


def check_annual(plan: AnnualPlan, five: FiveYearPlan, *, plan_id: int = 0) -> None:
    """Refuse an annual plan breaking a rule against its (adopted) five-year plan ``five``.

    Args:
        plan_id: the id the plan gets (named in ``PlanAboveFiveYearPath``).

    Raises:
        PlanRuleError: the first broken rule, named as the contract names it.
    """
    if not five.start_year <= plan.year <= five.end_year:
        raise PlanRuleError("PlanYearNotCovered", plan.five_year_plan_id, plan.year)
    if not plan.caps:
        raise PlanRuleError("PlanInvalidPollutant", 0)
    pollutants = {p.pollutant for p in five.pollutants}
    regions = {r.region for r in five.regions}
    seen: set[tuple[int, int]] = set()
    for line in plan.caps:
        if line.pollutant not in pollutants:
            raise PlanRuleError("PlanInvalidPollutant", line.pollutant)
        if line.region not in regions or (line.pollutant, line.region) in seen:
            raise PlanRuleError("PlanInvalidRegion", line.region)
        seen.add((line.pollutant, line.region))
        if line.reserve_share_bps > BPS:
            raise PlanRuleError("PlanInvalidBps", line.pollutant, line.reserve_share_bps)
    sums = totals(plan)
    for line in plan.caps:
        path = path_of(five, line.pollutant, plan.year)
        if sums[line.pollutant] > path:
            raise PlanRuleError(
                "PlanAboveFiveYearPath", plan_id, line.pollutant, plan.year, sums[line.pollutant], path
            )
    for t in plan.targets:
        if t.pollutant not in pollutants:
            raise PlanRuleError("PlanInvalidPollutant", t.pollutant)
        if t.target_bps > BPS:
            raise PlanRuleError("PlanInvalidBps", t.pollutant, t.target_bps)


def _field(data: dict[str, object], name: str, what: str) -> object:
    if name not in data:
        raise InvalidInputError(f"{what}: missing {name!r}")
    return data[name]


def _int(data: dict[str, object], name: str, what: str, default: int | None = None) -> int:
    value = data.get(name, default) if default is not None else _field(data, name, what)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(f"{what}: {name} must be a non-negative integer, got {value!r}")
    return value


def _list(data: dict[str, object], name: str, what: str) -> list[dict[str, object]]:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InvalidInputError(f"{what}: {name} must be a list of objects")
    return value


def _hash(data: dict[str, object], what: str) -> bytes:
    text = data.get("document_hash", "0x" + "00" * 32)
    try:
        raw = bytes.fromhex(str(text).removeprefix("0x"))
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise InvalidInputError(f"{what}: document_hash must be 32 bytes of hex")
    return raw


def _code(value: object) -> int:
    from domain.tokens import pollutant_code

    return pollutant_code(value if isinstance(value, int) else str(value))


def plan_from_json(data: object) -> FiveYearPlan | AnnualPlan:
    """A plan from its JSON form (``kind`` ``five_year`` or ``annual``; pollutants by symbol or code).

    Five-year: ``start_year``, ``base_year``, ``pollutants`` [{pollutant, base_emissions,
    target_bps, path: [5 caps]}], ``regions`` [{region, share_bps}]. Annual: ``five_year_plan_id``,
    ``year``, ``caps`` [{pollutant, region, cap, reserve_share_bps, guide_price}], ``targets``
    [{enterprise, pollutant, target_bps}]. Both: optional ``supersedes``, ``document_hash``, ``uri``.

    Raises:
        InvalidInputError: the JSON is not a plan (the rules are checked by :func:`check_five_year`
            and :func:`check_annual`).
    """
    if not isinstance(data, dict):
        raise InvalidInputError("a plan is a JSON object")
    kind = data.get("kind")
    common = {"supersedes": _int(data, "supersedes", "plan", 0), "document_hash": _hash(data, "plan"),
              "uri": str(data.get("uri", ""))}  # fmt: skip
    if kind == "five_year":
        lines = []
        for n, p in enumerate(_list(data, "pollutants", "plan"), start=1):
            path = p.get("path")
            if not isinstance(path, list) or len(path) != YEARS or not all(isinstance(v, int) for v in path):
                raise InvalidInputError(f"pollutant {n}: path must be {YEARS} integers")
            lines.append(PollutantPath(_code(_field(p, "pollutant", f"pollutant {n}")),
                                       _int(p, "base_emissions", f"pollutant {n}"),
                                       _int(p, "target_bps", f"pollutant {n}"),
                                       (path[0], path[1], path[2], path[3], path[4])))  # fmt: skip
        regions = tuple(RegionShare(_int(r, "region", f"region {n}"), _int(r, "share_bps", f"region {n}"))
                        for n, r in enumerate(_list(data, "regions", "plan"), start=1))  # fmt: skip
        return FiveYearPlan(_int(data, "start_year", "plan"), _int(data, "base_year", "plan"), tuple(lines),
                            regions, **common)  # type: ignore[arg-type]  # fmt: skip
    if kind == "annual":
        caps = tuple(
            RegionCap(_code(_field(c, "pollutant", f"cap {n}")), _int(c, "region", f"cap {n}"),
                      _int(c, "cap", f"cap {n}"), _int(c, "reserve_share_bps", f"cap {n}", 0),
                      _int(c, "guide_price", f"cap {n}", 0))
            for n, c in enumerate(_list(data, "caps", "plan"), start=1)
        )  # fmt: skip
        targets = tuple(
            EnterpriseTarget(str(_field(t, "enterprise", f"target {n}")),
                             _code(_field(t, "pollutant", f"target {n}")),
                             _int(t, "target_bps", f"target {n}"))
            for n, t in enumerate(_list(data, "targets", "plan"), start=1)
        )  # fmt: skip
        return AnnualPlan(_int(data, "five_year_plan_id", "plan"), _int(data, "year", "plan"), caps, targets,
                          **common)  # type: ignore[arg-type]  # fmt: skip
    raise InvalidInputError(f"plan kind must be 'five_year' or 'annual', got {kind!r}")
