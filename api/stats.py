"""Statistics (patent CN115239263A step S308): sums of the rollups by time, region, industry and
enterprise, compliance rates, holdings snapshots and annual trends, read from the summary table
``stat_rollups`` (never from ``events``) through its indexes."""

# How a query reads the rollups:
#
# * Grouped by time: the rows of the requested grain, ``period`` in a range (fixed-width strings
#   of one grain sort like the dates they name).
# * Not grouped by time: the window is covered by the coarsest rows that fit it (years inside
#   it, then months, then days at its ragged ends), so "2021-02-15 .. 2025-06-30" reads a few
#   rows per enterprise, not 1,600 day rows. The indexer adds every event to its day, month and
#   year rows alike, so the pieces add up to the same total.
# * Pollutants: ``pollutant IN (...)`` with every code in use (0, the token table's and the
#   deployment's) rather than no condition, so the indexes that start (grain, metric, pollutant)
#   are used for a seek, not a scan.
# * Regions (GB/T 2260): a code ending in 0000 filters its province, one ending in 00 its city
#   (integer ranges, index-friendly); ``region_level`` groups by province (code // 10000 * 10000)
#   or city (code // 100 * 100), computed in SQL.

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final, Literal, cast, get_args

from sqlalchemy import ColumnElement, Table, and_, case, func, select, union_all
from sqlalchemy.orm import Session

from api.errors import QueryError
from domain.tokens import POLLUTANTS
from readmodel import models as m

Metric = Literal[
    "energy_tce",
    "emissions_t",
    "excluded_t",
    "estimated_t",
    "allocated",
    "traded",
    "auction_payment",
    "retired",
    "obligations",
    "compliant",
    "compliance_rate",
]
Grain = Literal["year", "month", "day"]
GroupKey = Literal["time", "region", "industry", "enterprise"]
HoldingsGroupKey = Literal["region", "industry", "enterprise", "token"]
RegionLevel = Literal["province", "city", "county"]
TokenKind = Literal["allowance", "offset"]

METRICS: Final[tuple[str, ...]] = get_args(Metric)
#: Grains the rollups keep per metric (coarsest first). Energy comes from monthly files;
#: compliance outcomes exist per compliance year only.
GRAINS_OF: Final[dict[str, tuple[Grain, ...]]] = {metric: ("year", "month", "day") for metric in METRICS} | {
    "energy_tce": ("year", "month"),
    "obligations": ("year",),
    "compliant": ("year",),
    "compliance_rate": ("year",),
}
#: Unit of each metric's value.
UNITS: Final[dict[str, str]] = {
    "energy_tce": "tce",
    "emissions_t": "t",
    "excluded_t": "t",
    "estimated_t": "t",
    "allocated": "t",
    "traded": "t",
    "auction_payment": "fen",
    "retired": "t",
    "obligations": "notices",
    "compliant": "notices",
    "compliance_rate": "ratio",
}
#: Longest window (days) a query grouped by day may cover.
MAX_DAY_SPAN: Final = 366
_RANK: Final[dict[str, int]] = {"year": 0, "month": 1, "day": 2}
_PERIOD: Final = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_KINDS: Final[dict[str, int]] = {"allowance": 1, "offset": 2}


@dataclass(frozen=True, slots=True)
class StatRow:
    """One group of a statistics query; a key the query does not group by is None.

    Attributes:
        period: ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` (local UTC+8 dates).
        region: GB/T 2260 code (of the province or city when grouped at that level).
        industry: GB/T 4754 code.
        enterprise: account address.
        value: the metric's sum (for ``compliance_rate``: compliant / obligations).
        count: rollup contributions (events, batches or months; for ``compliance_rate``: the
            obligations the rate is taken over).
    """

    period: str | None
    region: int | None
    industry: str | None
    enterprise: str | None
    value: float
    count: int


@dataclass(frozen=True, slots=True)
class HoldingRow:
    """One group of a holdings snapshot; a key the query does not group by is None.

    Attributes:
        region, industry, enterprise: as in :class:`StatRow`.
        token_id: the allowance / offset id (0: settlement cash, in fen).
        balance: units held now.
        holdings: (account, token) balances that are not zero.
    """

    region: int | None
    industry: str | None
    enterprise: str | None
    token_id: int | None
    balance: int
    holdings: int


@dataclass(frozen=True, slots=True)
class Segment:
    """Rollup rows to read: one grain, periods ``low`` .. ``high`` (None: unbounded)."""

    grain: Grain
    low: str | None
    high: str | None


# --------------------------------------------------------------------------- windows


def _parse(text: str, what: str) -> tuple[int, int | None, int | None]:
    match = _PERIOD.match(text)
    if match is None:
        raise QueryError(f"{what} {text!r} is not YYYY, YYYY-MM or YYYY-MM-DD")
    year, month, day = (int(g) if g else None for g in match.groups())
    assert year is not None
    try:
        date(year, month or 1, day or 1)
    except ValueError:
        raise QueryError(f"{what} {text!r} is not a calendar date") from None
    return year, month, day


def _resolution(text: str) -> Grain:
    return ("year", "month", "day")[text.count("-")]


def _first_day(text: str, grain: Grain, what: str) -> date:
    year, month, day = _parse(text, what)
    if _RANK[_resolution(text)] > _RANK[grain]:
        raise QueryError(f"{what} {text!r} is finer than grain {grain!r}")
    return date(year, month or 1, day or 1)


def _last_day(text: str, grain: Grain, what: str) -> date:
    year, month, day = _parse(text, what)
    if _RANK[_resolution(text)] > _RANK[grain]:
        raise QueryError(f"{what} {text!r} is finer than grain {grain!r}")
    if day is not None:
        return date(year, month or 1, day)
    if month is not None:
        return _month_end(date(year, month, 1))
    return date(year, 12, 31)


def _month_end(d: date) -> date:
    following = date(d.year + d.month // 12, d.month % 12 + 1, 1)
    return following - timedelta(days=1)


def period_key(d: date, grain: Grain) -> str:
    """The rollup period of ``d`` at ``grain`` (``2024``, ``2024-03``, ``2024-03-15``)."""
    if grain == "year":
        return f"{d.year:04d}"
    if grain == "month":
        return f"{d.year:04d}-{d.month:02d}"
    return d.isoformat()


def _start_of(d: date, grain: Grain) -> date:
    return {"year": date(d.year, 1, 1), "month": date(d.year, d.month, 1), "day": d}[grain]


def _end_of(d: date, grain: Grain) -> date:
    return {"year": date(d.year, 12, 31), "month": _month_end(d), "day": d}[grain]


def _cover(start: date | None, end: date | None, grains: Sequence[Grain], metric: str) -> list[Segment]:
    """Segments of the coarsest ``grains`` (coarsest first) that exactly cover ``start .. end``."""
    grain, finer = grains[0], grains[1:]

    def key(d: date | None) -> str | None:
        return None if d is None else period_key(d, grain)

    inner_start, inner_end = start, end
    if start is not None and _start_of(start, grain) != start:
        inner_start = _end_of(start, grain) + timedelta(days=1)
    if end is not None and _end_of(end, grain) != end:
        inner_end = _start_of(end, grain) - timedelta(days=1)
    if not finer:
        if inner_start != start or inner_end != end:
            raise QueryError(
                f"{metric} is kept by {' and '.join(GRAINS_OF[metric])} only: "
                f"the window must start and end on whole {grain}s"
            )
        return [Segment(grain, key(start), key(end))]
    if inner_start is not None and inner_end is not None and inner_start > inner_end:
        return _cover(start, end, finer, metric)
    segments: list[Segment] = []
    if start is not None and inner_start != start:
        assert inner_start is not None
        segments += _cover(start, inner_start - timedelta(days=1), finer, metric)
    segments.append(Segment(grain, key(inner_start), key(inner_end)))
    if end is not None and inner_end != end:
        assert inner_end is not None
        segments += _cover(inner_end + timedelta(days=1), end, finer, metric)
    return segments


def plan_segments(
    *, metric: Metric, grain: Grain, by_time: bool, from_period: str | None, to_period: str | None
) -> list[Segment]:
    """The rollup rows a query reads (see the module's notes).

    Raises:
        QueryError: a malformed or inverted window, a bound finer than ``grain``, a grain the
            metric is not kept at, or a day grouping longer than :data:`MAX_DAY_SPAN` days.
    """
    grains = GRAINS_OF[metric]
    start = None if from_period is None else _first_day(from_period, grain, "from_period")
    end = None if to_period is None else _last_day(to_period, grain, "to_period")
    if start is not None and end is not None and start > end:
        raise QueryError(f"from_period {from_period} is after to_period {to_period}")
    if by_time:
        if grain not in grains:
            raise QueryError(f"{metric} is kept by {' and '.join(grains)} only, not by {grain}")
        if grain == "day" and (start is None or end is None or (end - start).days + 1 > MAX_DAY_SPAN):
            raise QueryError(
                f"grouping by day needs from_period and to_period at most {MAX_DAY_SPAN} days "
                "apart: use grain=month for longer windows"
            )
        return [
            Segment(
                grain,
                None if start is None else period_key(start, grain),
                None if end is None else period_key(end, grain),
            )
        ]
    return _cover(start, end, grains, metric)


def _segment_clause(segment: Segment, table: Table, unindexed: bool = False) -> ColumnElement[bool]:
    """The segment's rows of ``table``; ``unindexed``: compare an expression of the period (no
    index seeks it)."""
    c = table.c
    period: Any = c.period.concat("") if unindexed else c.period
    parts: list[ColumnElement[bool]] = [c.grain == segment.grain]
    if segment.low is not None:
        parts.append(period >= segment.low)
    if segment.high is not None:
        parts.append(period <= segment.high)
    return and_(*parts)


def totals_dimension(
    keys: Sequence[str],
    *,
    pollutant: int | None,
    region_code: int | None,
    industry_code: str | None,
    enterprises: Sequence[str] | None,
) -> str | None:
    """The ``stat_totals`` dimension that answers a query exactly, or None (per-enterprise
    rollups): totals carry one of region, industry or enterprise, so a query that groups or
    filters by two of them, or names enterprises, reads the rollups."""
    if enterprises is not None:
        return None
    groups = set(keys) - {"time"}
    if "enterprise" in groups:
        plain = groups == {"enterprise"} and region_code is None and industry_code is None
        return "enterprise" if plain and pollutant is None else None
    if groups <= {"region"} and industry_code is None:
        return "region" if groups or region_code is not None else "all"
    if groups <= {"industry"} and region_code is None:
        return "industry"
    return None


# --------------------------------------------------------------------------- filters


def region_range(code: int) -> tuple[int, int]:
    """Codes a GB/T 2260 filter matches: a province (``xx0000``), a city (``xxxx00``) or a county."""
    if code % 10_000 == 0:
        return code, code + 9_999
    if code % 100 == 0:
        return code, code + 99
    return code, code


def region_group(column: Any, level: RegionLevel) -> Any:
    """``column`` at GB/T 2260 ``level``: province = code // 10000 * 10000, city = code // 100 * 100."""
    if level == "province":
        return (column // 10_000) * 10_000
    if level == "city":
        return (column // 100) * 100
    return column


def pollutants_in_use(db: Session) -> list[int]:
    """Pollutant codes rollups may carry: 0 (none), the deployment's and the token table's."""
    known = {0, *POLLUTANTS.values()}
    known.update(int(p) for p in db.execute(select(m.Token.pollutant).distinct()).scalars())
    return sorted(known)


def _industry_clause(column: Any, code: str) -> ColumnElement[bool]:
    """Exact GB/T 4754 code (``D4411``), or a section / division / group prefix (``D``, ``D44``)."""
    if len(code) >= 5:
        return column == code  # type: ignore[no-any-return]
    # codes are capitals and digits: the prefix's successor bounds the range an index seeks
    # (any collation orders "D44xx" below "D45"); LIKE keeps the match exact regardless.
    stem = code.rstrip("9Z")
    bounds = [column >= code]
    if stem:
        bounds.append(column < stem[:-1] + chr(ord(stem[-1]) + 1))
    return and_(*bounds, column.like(code + "%"))


def _enterprise_clause(column: Any, enterprises: Sequence[str]) -> ColumnElement[bool]:
    if len(enterprises) == 1:
        return column == enterprises[0]  # type: ignore[no-any-return]
    return column.in_(list(enterprises))  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- queries


def query_stats(
    db: Session,
    *,
    metric: Metric,
    grain: Grain,
    group_by: Sequence[GroupKey] = (),
    pollutant: int | None = None,
    from_period: str | None = None,
    to_period: str | None = None,
    region_code: int | None = None,
    region_level: RegionLevel = "county",
    industry_code: str | None = None,
    enterprises: Sequence[str] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[StatRow]:
    """A metric summed per group, groups in key order.

    Args:
        db: read-model session.
        metric: a rollup metric, or ``compliance_rate`` (compliant / obligations per group).
        grain: time grain of the grouping and of ``from_period`` / ``to_period``.
        group_by: any of ``time``, ``region``, ``industry``, ``enterprise`` (none: one total).
        pollutant: AllowanceToken pollutant code (0: none, energy); None sums all pollutants.
        from_period: first period (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``, not finer than grain).
        to_period: last period, inclusive.
        region_code: GB/T 2260 code; a province or city code matches all codes under it.
        region_level: level regions are grouped at.
        industry_code: GB/T 4754 code, or a prefix of one (section letter, division ...).
        enterprises: only these accounts (None: all).
        limit: at most this many groups (None: all).
        offset: groups to skip.

    Raises:
        QueryError: see :func:`plan_segments`.
    """
    if metric not in GRAINS_OF:
        raise QueryError(f"unknown metric {metric!r}")
    keys = list(dict.fromkeys(group_by))
    segments = plan_segments(
        metric=metric, grain=grain, by_time="time" in keys, from_period=from_period, to_period=to_period
    )
    dim = totals_dimension(
        keys,
        pollutant=pollutant,
        region_code=region_code,
        industry_code=industry_code,
        enterprises=enterprises,
    )
    table = cast(Table, (m.StatRollup if dim is None else m.StatTotal).__table__)
    r = table.c
    common: list[ColumnElement[bool]] = []
    if metric == "compliance_rate":
        common.append(r.metric.in_(("obligations", "compliant")))
    else:
        common.append(r.metric == metric)
    if dim is not None:
        # the dimension's rows, of one pollutant or of all pollutants (-1): a few thousand at most
        common += [r.dim == dim, r.pollutant == (m.ALL_POLLUTANTS if pollutant is None else pollutant)]
    elif pollutant is not None:
        common.append(r.pollutant == pollutant)
    else:
        common.append(r.pollutant.in_(pollutants_in_use(db)))
    ranged = False  # a region or industry range the index should seek rather than the period
    if region_code is not None:
        low, high = region_range(region_code)
        common.append(r.region_code == low if low == high else r.region_code.between(low, high))
        ranged = low != high
    if industry_code is not None:
        common.append(_industry_clause(r.industry_code, industry_code))
        ranged = ranged or len(industry_code) < 5
    if enterprises is not None:
        if not enterprises:
            return []
        common.append(_enterprise_clause(r.enterprise, enterprises))
        ranged = False
    # one segment: the table itself; several: one indexed range read per segment, UNION ALL
    # (an OR of the segments would make SQLite give up the period range).
    # With a region or industry range, SQLite (no histograms without STAT4) prefers the primary
    # key's period range, which reads every enterprise's rows of the window (1.5 s on 1M rows):
    # comparing ``period || ''`` keeps the period out of index choice, so the region / industry
    # index seeks the range and filters periods inside it (a few ms). The totals are small and
    # clustered on (grain, metric, dim, pollutant, period): the period range is the right seek.
    ranged = ranged and dim is None
    src: Any = table
    where: list[ColumnElement[bool]] = [_segment_clause(segments[0], table, ranged), *common]
    if len(segments) > 1:
        needed = (r.period, r.region_code, r.industry_code, r.enterprise, r.metric, r.value, r.count)
        parts = [select(*needed).where(_segment_clause(s, table, ranged), *common) for s in segments]
        src, where = union_all(*parts).subquery("pieces"), []
    c = src.c
    columns: dict[str, Any] = {
        "time": c.period,
        "region": region_group(c.region_code, region_level),
        "industry": c.industry_code,
        "enterprise": c.enterprise,
    }
    groups = [columns[k].label(k) for k in keys]
    if metric == "compliance_rate":
        sums: list[Any] = [
            func.sum(case((c.metric == "compliant", c.value), else_=0.0)).label("compliant"),
            func.sum(case((c.metric == "obligations", c.value), else_=0.0)).label("obligations"),
        ]
    else:
        sums = [func.sum(c.value).label("value"), func.sum(c.count).label("count")]
    stmt = select(*groups, *sums).select_from(src).where(*where)
    if groups:
        stmt = stmt.group_by(*groups).order_by(*groups)
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    elif offset:
        stmt = stmt.offset(offset)
    out: list[StatRow] = []
    for row in db.execute(stmt):
        found = row._mapping
        if metric == "compliance_rate":
            obligations = float(found["obligations"] or 0.0)
            if obligations == 0:
                continue
            value, count = float(found["compliant"] or 0.0) / obligations, int(obligations)
        else:
            if found["count"] is None:  # no rows at all (an ungrouped sum over nothing)
                continue
            value, count = float(found["value"]), int(found["count"])
        out.append(
            StatRow(
                period=found.get("time"),
                region=None if found.get("region") is None else int(found["region"]),
                industry=found.get("industry"),
                enterprise=found.get("enterprise"),
                value=value,
                count=count,
            )
        )
    return out


def annual_trend(
    db: Session,
    *,
    metric: Metric,
    pollutant: int | None = None,
    from_year: int | None = None,
    to_year: int | None = None,
    region_code: int | None = None,
    industry_code: str | None = None,
    enterprises: Sequence[str] | None = None,
) -> list[StatRow]:
    """Totals of ``metric`` per year (year rollups only), oldest first.

    Raises:
        QueryError: ``from_year`` after ``to_year``.
    """
    return query_stats(
        db,
        metric=metric,
        grain="year",
        group_by=("time",),
        pollutant=pollutant,
        from_period=None if from_year is None else f"{from_year:04d}",
        to_period=None if to_year is None else f"{to_year:04d}",
        region_code=region_code,
        industry_code=industry_code,
        enterprises=enterprises,
    )


def holding_stats(
    db: Session,
    *,
    group_by: Sequence[HoldingsGroupKey] = (),
    token_id: int | None = None,
    kind: TokenKind | None = None,
    pollutant: int | None = None,
    vintage: int | None = None,
    region_code: int | None = None,
    region_level: RegionLevel = "county",
    industry_code: str | None = None,
    enterprises: Sequence[str] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[HoldingRow]:
    """Enterprises' current balances summed per group (a snapshot of ``holdings``).

    Without ``token_id`` every allowance and offset id counts (not cash, which is in fen);
    ``token_id=0`` gives settlement cash. Only accounts with an enterprise profile are counted
    (not the regulator's, the exchange's or the contracts' escrow).

    Raises:
        QueryError: ``token_id=0`` together with ``kind``, ``pollutant`` or ``vintage``.
    """
    h, p, t = m.Holding, m.Participant, m.Token
    if token_id == 0 and (kind or pollutant is not None or vintage is not None):
        raise QueryError("token_id 0 is settlement cash: it has no kind, pollutant or vintage")
    keys = list(dict.fromkeys(group_by))
    columns: dict[str, Any] = {
        "region": region_group(p.region_code, region_level),
        "industry": p.industry_code,
        "enterprise": h.account,
        "token": h.token_id,
    }
    groups = [columns[k].label(k) for k in keys]
    stmt = (
        select(*groups, func.sum(h.balance).label("balance"), func.count().label("holdings"))
        .select_from(h)
        .join(p, p.address == h.account)
        .where(p.credit_code.is_not(None), h.balance != 0)
    )
    stmt = stmt.where(h.token_id == token_id) if token_id is not None else stmt.where(h.token_id != 0)
    if kind is not None or pollutant is not None or vintage is not None:
        stmt = stmt.join(t, t.token_id == h.token_id)
        if kind is not None:
            stmt = stmt.where(t.kind == _KINDS[kind])
        if pollutant is not None:
            stmt = stmt.where(t.pollutant == pollutant)
        if vintage is not None:
            stmt = stmt.where(t.vintage == vintage)
    if region_code is not None:
        low, high = region_range(region_code)
        stmt = stmt.where(p.region_code.between(low, high))
    if industry_code is not None:
        stmt = stmt.where(_industry_clause(p.industry_code, industry_code))
    if enterprises is not None:
        if not enterprises:
            return []
        stmt = stmt.where(_enterprise_clause(h.account, enterprises))
    if groups:
        stmt = stmt.group_by(*groups).order_by(*groups)
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    out: list[HoldingRow] = []
    for row in db.execute(stmt):
        found = row._mapping
        if not found["holdings"]:
            continue
        out.append(
            HoldingRow(
                region=None if found.get("region") is None else int(found["region"]),
                industry=found.get("industry"),
                enterprise=found.get("enterprise"),
                token_id=None if found.get("token") is None else int(found["token"]),
                balance=int(found["balance"]),
                holdings=int(found["holdings"]),
            )
        )
    return out
