"""Routes: statistics (patent CN115239263A step S308): energy use, emissions, allocations,
holdings, trading volume and compliance rate by time, region, industry and enterprise; annual
trends.

Who sees what: regulators and the exchange see every enterprise and every aggregate. An
enterprise sees its own figures only, an auditor those of the enterprises the regulator assigned
it (an account with both roles: the union; :mod:`api.access`, the rule of ``GET /holdings`` too); an
account with no role, or a suspended one, none. For them the ``enterprise`` filter defaults to those
accounts, naming any other account is refused (403), and grouping by region or industry is
refused (403) rather than silently narrowed: a regional figure that quietly means "only you"
would be easy to misread as the region's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from api import access
from api.deps import Db, Paging, Principal, User
from api.errors import ForbiddenError, QueryError
from api.schemas import ERRORS
from api.stats import (
    UNITS,
    Grain,
    GroupKey,
    HoldingsGroupKey,
    Metric,
    RegionLevel,
    TokenKind,
    annual_trend,
    holding_stats,
    plan_segments,
    query_stats,
)
from chain.registry import checked_address

router = APIRouter(prefix="/stats", tags=["stats"])

_REGIONAL = ("region", "industry")
_PERIOD = r"^\d{4}(-\d{2}(-\d{2})?)?$"
_FROM_PERIOD = "First period, inclusive (`2024`, `2024-03`, `2024-03-15`; not finer than grain)"
_ADDRESS_EXAMPLE = "0x976EA74026E726554dB657fA54763abd0C3a0aa9"

# ---------------------------------------------------------------------- query parameters

MetricQ = Annotated[Metric, Query(description="What to sum (`compliance_rate` = compliant / obligations)")]
PollutantQ = Annotated[
    int | None,
    Query(ge=0, le=255, description="AllowanceToken pollutant code (1 = CO2, 2 = SO2 ...; 0 = none, "
                                    "energy). Omitted: all pollutants summed"),
]  # fmt: skip
RegionQ = Annotated[
    int | None,
    Query(ge=100_000, le=999_999, description="GB/T 2260 code; a province (`330000`) or city "
                                              "(`331000`) code matches every county under it"),
]  # fmt: skip
RegionLevelQ = Annotated[RegionLevel, Query(description="Level regions are grouped at")]
IndustryQ = Annotated[
    str | None,
    Query(pattern=r"^[A-Z][0-9]{0,4}$", description="GB/T 4754 code (`D4411`) or a prefix of one "
                                                    "(section `D`, division `D44` ...)"),
]  # fmt: skip
EnterpriseQ = Annotated[
    str | None, Query(max_length=42, description="Only this enterprise's account (default for "
                                                 "enterprises: their own)"),
]  # fmt: skip


# ---------------------------------------------------------------------- models


class StatRowPublic(BaseModel):
    """One group; keys the query does not group by are null."""

    period: str | None = Field(None, description="`YYYY`, `YYYY-MM` or `YYYY-MM-DD` (UTC+8 dates)",
                               examples=["2024-03"])  # fmt: skip
    region: int | None = Field(None, description="GB/T 2260 code at the requested level", examples=[331000])
    industry: str | None = Field(None, description="GB/T 4754 code", examples=["D4411"])
    enterprise: str | None = Field(None, description="Enterprise account", examples=[_ADDRESS_EXAMPLE])
    value: float = Field(description="The metric's sum in `unit` (a ratio 0..1 for compliance_rate)")
    count: int = Field(description="Contributions summed (events, batches, months; obligations for a rate)")


class SegmentPublic(BaseModel):
    """Rollup rows the query read: one grain, a range of periods (null: unbounded)."""

    grain: Grain
    from_period: str | None = None
    to_period: str | None = None


class StatsPublic(BaseModel):
    """A metric summed per group, groups in key order."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "metric": "traded", "unit": "t", "grain": "month", "group_by": ["time", "region"],
        "region_level": "city", "pollutant": 1, "from_period": "2024-01", "to_period": "2024-03",
        "read": [{"grain": "month", "from_period": "2024-01", "to_period": "2024-03"}],
        "rows": [
            {"period": "2024-01", "region": 331000, "industry": None, "enterprise": None,
             "value": 1250.0, "count": 14},
            {"period": "2024-02", "region": 331000, "industry": None, "enterprise": None,
             "value": 860.0, "count": 9},
        ],
        "limit": 100, "offset": 0, "has_more": False,
    }]})  # fmt: skip

    metric: Metric
    unit: str = Field(description="Unit of `value`: t, tce, fen, notices or ratio")
    grain: Grain
    group_by: list[GroupKey]
    region_level: RegionLevel
    pollutant: int | None
    from_period: str | None
    to_period: str | None
    read: list[SegmentPublic] = Field(description="Rollup rows read (coarsest grains that cover the window)")
    rows: list[StatRowPublic]
    limit: int
    offset: int
    has_more: bool = Field(description="More groups follow: ask again with offset + limit")


class TrendPointPublic(BaseModel):
    """One year's total."""

    year: int = Field(examples=[2024])
    value: float
    count: int
    change_pct: float | None = Field(
        None, description="Change from the previous year in the list, in percent (null: none or zero)"
    )


class TrendPublic(BaseModel):
    """Totals of a metric per year, oldest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "metric": "emissions_t", "unit": "t", "pollutant": 1,
        "points": [
            {"year": 2023, "value": 182000.5, "count": 52560, "change_pct": None},
            {"year": 2024, "value": 175310.0, "count": 52704, "change_pct": -3.68},
        ],
    }]})  # fmt: skip

    metric: Metric
    unit: str
    pollutant: int | None
    points: list[TrendPointPublic]


class HoldingRowPublic(BaseModel):
    """One group of current balances; keys the query does not group by are null."""

    region: int | None = Field(None, examples=[331000])
    industry: str | None = Field(None, examples=["D4411"])
    enterprise: str | None = Field(None, examples=[_ADDRESS_EXAMPLE])
    token_id: int | None = Field(None, description="Allowance / offset id (0: settlement cash)")
    balance: int = Field(description="Units held now (tonnes; fen for cash)")
    holdings: int = Field(description="Non-zero (account, token) balances in the group")


class HoldingsPublic(BaseModel):
    """Enterprises' current balances summed per group (a snapshot, not a time series)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "group_by": ["region"], "region_level": "province", "token_id": None, "kind": "allowance",
        "pollutant": 1, "vintage": 2024,
        "rows": [{"region": 330000, "industry": None, "enterprise": None, "token_id": None,
                  "balance": 4000, "holdings": 4}],
        "limit": 100, "offset": 0, "has_more": False,
    }]})  # fmt: skip

    group_by: list[HoldingsGroupKey]
    region_level: RegionLevel
    token_id: int | None
    kind: TokenKind | None
    pollutant: int | None
    vintage: int | None
    rows: list[HoldingRowPublic]
    limit: int
    offset: int
    has_more: bool


# ---------------------------------------------------------------------- scoping


def scope(
    db: Session, user: Principal, *, enterprise: str | None, group_by: Sequence[str]
) -> list[str] | None:
    """The enterprises a statistics query may cover for ``user`` (None: all): the accounts of
    :func:`api.access.readable_accounts`, the rule ``GET /holdings`` follows too.

    Raises:
        ForbiddenError: no role or suspended; a region / industry grouping or another
            enterprise asked for by an account that does not see everything.
        InvalidInputError: ``enterprise`` is not an address.
    """
    wanted = None if enterprise is None else checked_address(enterprise, "enterprise")
    allowed = access.readable_accounts(db, user)
    if allowed is None:
        return None if wanted is None else [wanted]
    regional = [k for k in group_by if k in _REGIONAL]
    if regional:
        raise ForbiddenError(
            f"grouping by {' and '.join(regional)} sums other enterprises' figures: only regulators "
            "and the exchange may; group by time or enterprise"
        )
    if wanted is None:
        return sorted(allowed)
    if wanted not in allowed:
        raise ForbiddenError(f"{user.address} may not read the statistics of {wanted}")
    return [wanted]


def _page(rows: list[Any], paging: Paging) -> tuple[list[Any], bool]:
    if paging.offset and not rows:
        raise QueryError(f"offset {paging.offset} is past the last group")
    return rows[: paging.limit], len(rows) > paging.limit


# ---------------------------------------------------------------------- routes


@router.get("", response_model=StatsPublic, responses=ERRORS)
def stats(
    user: User,
    db: Db,
    paging: Paging,
    metric: MetricQ,
    grain: Annotated[Grain, Query(description="Time grain of the grouping and of the window")] = "year",
    group_by: Annotated[
        list[GroupKey] | None, Query(description="Keys to group by (repeat the parameter); none: one total")
    ] = None,
    pollutant: PollutantQ = None,
    from_period: Annotated[str | None, Query(pattern=_PERIOD, description=_FROM_PERIOD)] = None,
    to_period: Annotated[str | None, Query(pattern=_PERIOD, description="Last period, inclusive")] = None,
    region_code: RegionQ = None,
    region_level: RegionLevelQ = "county",
    industry_code: IndustryQ = None,
    enterprise: EnterpriseQ = None,
) -> StatsPublic:
    """A metric (energy use, emissions, allocations, trading volume, auction payments,
    retirements, compliance) summed by time, region, industry and/or enterprise.

    Grouping by day covers at most 366 days; compliance figures exist per year, energy per month
    and year. Enterprises and auditors: see the module notes (own or assigned enterprises only).
    """
    keys = list(dict.fromkeys(group_by or []))
    enterprises = scope(db, user, enterprise=enterprise, group_by=keys)
    segments = plan_segments(
        metric=metric, grain=grain, by_time="time" in keys, from_period=from_period, to_period=to_period
    )
    rows = query_stats(
        db, metric=metric, grain=grain, group_by=keys, pollutant=pollutant, from_period=from_period,
        to_period=to_period, region_code=region_code, region_level=region_level,
        industry_code=industry_code, enterprises=enterprises, limit=paging.limit + 1, offset=paging.offset,
    )  # fmt: skip
    page, more = _page(rows, paging)
    return StatsPublic(
        metric=metric, unit=UNITS[metric], grain=grain, group_by=keys, region_level=region_level,
        pollutant=pollutant, from_period=from_period, to_period=to_period,
        read=[SegmentPublic(grain=s.grain, from_period=s.low, to_period=s.high) for s in segments],
        rows=[StatRowPublic(period=r.period, region=r.region, industry=r.industry, enterprise=r.enterprise,
                            value=r.value, count=r.count) for r in page],
        limit=paging.limit, offset=paging.offset, has_more=more,
    )  # fmt: skip


@router.get("/trend", response_model=TrendPublic, responses=ERRORS)
def trend(
    user: User,
    db: Db,
    metric: MetricQ,
    pollutant: PollutantQ = None,
    from_year: Annotated[int | None, Query(ge=1900, le=2200, description="First year")] = None,
    to_year: Annotated[int | None, Query(ge=1900, le=2200, description="Last year")] = None,
    region_code: RegionQ = None,
    industry_code: IndustryQ = None,
    enterprise: EnterpriseQ = None,
) -> TrendPublic:
    """Totals of a metric per year with the change from year to year (annual trend)."""
    enterprises = scope(db, user, enterprise=enterprise, group_by=())
    rows = annual_trend(
        db, metric=metric, pollutant=pollutant, from_year=from_year, to_year=to_year,
        region_code=region_code, industry_code=industry_code, enterprises=enterprises,
    )  # fmt: skip
    points: list[TrendPointPublic] = []
    for row in rows:
        before = points[-1].value if points else None
        change = None if not before else round((row.value - before) / before * 100.0, 2)
        points.append(TrendPointPublic(year=int(row.period or 0), value=row.value, count=row.count,
                                       change_pct=change))  # fmt: skip
    return TrendPublic(metric=metric, unit=UNITS[metric], pollutant=pollutant, points=points)


@router.get("/holdings", response_model=HoldingsPublic, responses=ERRORS)
def holdings(
    user: User,
    db: Db,
    paging: Paging,
    group_by: Annotated[
        list[HoldingsGroupKey] | None,
        Query(description="Keys to group by (repeat the parameter); none: one total"),
    ] = None,
    token_id: Annotated[int | None, Query(ge=0, lt=2**63, description="One id (0: settlement cash)")] = None,
    kind: Annotated[TokenKind | None, Query(description="Allowances or offset credits only")] = None,
    pollutant: PollutantQ = None,
    vintage: Annotated[int | None, Query(ge=1900, le=2200, description="Vintage year")] = None,
    region_code: RegionQ = None,
    region_level: RegionLevelQ = "county",
    industry_code: IndustryQ = None,
    enterprise: EnterpriseQ = None,
) -> HoldingsPublic:
    """Enterprises' current allowance and offset balances (or cash with `token_id=0`) summed by
    region, industry, enterprise and/or token."""
    keys = list(dict.fromkeys(group_by or []))
    enterprises = scope(db, user, enterprise=enterprise, group_by=keys)
    rows = holding_stats(
        db, group_by=keys, token_id=token_id, kind=kind, pollutant=pollutant, vintage=vintage,
        region_code=region_code, region_level=region_level, industry_code=industry_code,
        enterprises=enterprises, limit=paging.limit + 1, offset=paging.offset,
    )  # fmt: skip
    page, more = _page(rows, paging)
    return HoldingsPublic(
        group_by=keys, region_level=region_level, token_id=token_id, kind=kind, pollutant=pollutant,
        vintage=vintage,
        rows=[HoldingRowPublic(region=r.region, industry=r.industry, enterprise=r.enterprise,
                               token_id=r.token_id, balance=r.balance, holdings=r.holdings) for r in page],
        limit=paging.limit, offset=paging.offset, has_more=more,
    )  # fmt: skip
