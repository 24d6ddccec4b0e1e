"""Statistics queries on a fresh read model filled by hand: sums by every grouping equal hand
sums, windows are covered by the coarsest rollups, compliance rates, holdings, energy import,
and the query plans use the rollup indexes."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from itertools import combinations
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, func, insert, select, text
from sqlalchemy.orm import Session

from api.errors import QueryError
from api.stats import (
    GroupKey,
    Segment,
    annual_trend,
    holding_stats,
    plan_segments,
    query_stats,
)
from chain.production import MonthlyEnergy, load_monthly_energy, write_monthly_energy
from domain.tokens import Kind, encode_id
from readmodel import models as m
from readmodel.indexer.energy import import_energy, tce_of
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from readmodel.totals import rebuild_totals
from sim.sample import generate_enterprises, write_monthly_sample

A, B, C, D = (f"0x{'a' * 39}{i}" for i in range(4))
#: enterprise -> (region GB/T 2260, industry GB/T 4754)
PROFILES = {
    A: (330102, "D4411"),  # Hangzhou, thermal power
    B: (330206, "C2511"),  # Ningbo, refining
    C: (110105, "D4411"),  # Beijing, thermal power
    D: (331002, "D4412"),  # Taizhou, hydro power
}
#: (enterprise, local date, pollutant, tonnes traded)
TRADES = [
    (A, date(2023, 1, 5), 1, 10.0),
    (A, date(2023, 2, 20), 1, 5.0),
    (B, date(2023, 2, 20), 1, 7.0),
    (B, date(2023, 12, 31), 2, 3.0),
    (C, date(2024, 1, 1), 1, 11.0),
    (C, date(2024, 3, 10), 1, 2.0),
    (D, date(2024, 3, 11), 1, 4.0),
    (D, date(2024, 7, 1), 2, 6.0),
    (A, date(2025, 1, 2), 1, 1.0),
]
#: (enterprise, compliance year, compliant?)
OUTCOMES = [
    (A, 2023, True),
    (B, 2023, False),
    (C, 2023, True),
    (D, 2023, True),
    (A, 2024, True),
    (B, 2024, True),
    (C, 2024, False),
]


def rollups(facts: Iterable[tuple[str, date, int, float]], metric: str = "traded") -> list[dict[str, object]]:
    """Rollup rows as the indexer keeps them: each fact added to its day, month and year."""
    sums: dict[tuple[str, str, int, str, str], list[float]] = defaultdict(lambda: [0.0, 0])
    for who, day, pollutant, value in facts:
        for grain, period in (
            ("day", day.isoformat()),
            ("month", day.isoformat()[:7]),
            ("year", str(day.year)),
        ):
            found = sums[(grain, metric, pollutant, period, who)]
            found[0] += value
            found[1] += 1
    return [
        {
            "grain": g,
            "metric": mt,
            "pollutant": p,
            "period": period,
            "enterprise": who,
            "region_code": PROFILES[who][0],
            "industry_code": PROFILES[who][1],
            "value": v,
            "count": int(n),
        }
        for (g, mt, p, period, who), (v, n) in sums.items()
    ]


def compliance_rows() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for who, year, ok in OUTCOMES:
        for metric, value in (("obligations", 1.0), ("compliant", float(ok))):
            rows.append(
                {
                    "grain": "year",
                    "metric": metric,
                    "pollutant": 1,
                    "period": str(year),
                    "enterprise": who,
                    "region_code": PROFILES[who][0],
                    "industry_code": PROFILES[who][1],
                    "value": value,
                    "count": 1,
                }
            )
    return rows


def new_engine(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    return engine


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    built = new_engine(tmp_path / "stats.db")
    with built.begin() as conn:
        conn.execute(
            insert(m.Participant),
            [
                {
                    "address": who,
                    "credit_code": f"91330000MA{i:07d}X",
                    "region_code": region,
                    "industry_code": industry,
                    "suspended": False,
                    "updated_block": 1,
                }
                for i, (who, (region, industry)) in enumerate(PROFILES.items())
            ],
        )
        conn.execute(insert(m.StatRollup), rollups(TRADES) + compliance_rows())
        rebuild_totals(conn)  # as the indexer keeps them beside its rollups
    yield built
    built.dispose()


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


def hand_sum(key: object, facts: Iterable[tuple[str, date, int, float]] = TRADES) -> dict[object, float]:
    out: dict[object, float] = defaultdict(float)
    for who, day, pollutant, value in facts:
        out[key(who, day, pollutant) if callable(key) else None] += value
    return dict(out)


# --------------------------------------------------------------------------- sums by grouping


def test_query_stats_equals_hand_sums_by_enterprise_region_industry_and_time(db: Session) -> None:
    by_enterprise = {
        r.enterprise: r.value for r in query_stats(db, metric="traded", grain="year", group_by=["enterprise"])
    }
    assert by_enterprise == hand_sum(lambda w, d, p: w)
    by_region = {
        r.region: r.value for r in query_stats(db, metric="traded", grain="year", group_by=["region"])
    }
    assert by_region == hand_sum(lambda w, d, p: PROFILES[w][0])
    by_industry = {
        r.industry: r.value for r in query_stats(db, metric="traded", grain="year", group_by=["industry"])
    }
    assert by_industry == hand_sum(lambda w, d, p: PROFILES[w][1])
    by_month = {r.period: r.value for r in query_stats(db, metric="traded", grain="month", group_by=["time"])}
    assert by_month == hand_sum(lambda w, d, p: d.isoformat()[:7])
    by_day = query_stats(
        db,
        metric="traded",
        grain="day",
        group_by=["time", "enterprise"],
        from_period="2023-02",
        to_period="2023-02",
    )
    assert [(r.period, r.enterprise, r.value) for r in by_day] == [
        ("2023-02-20", A, 5.0),
        ("2023-02-20", B, 7.0),
    ]


def test_query_stats_filters_by_pollutant_and_sums_all_when_omitted(db: Session) -> None:
    (total,) = query_stats(db, metric="traded", grain="year")
    assert total.value == sum(v for *_, v in TRADES) and total.count == len(TRADES)
    (so2,) = query_stats(db, metric="traded", grain="year", pollutant=2)
    assert so2.value == 9.0 and so2.count == 2


def test_query_stats_groups_by_province_and_city_in_sql(db: Session) -> None:
    province = {
        r.region: r.value
        for r in query_stats(db, metric="traded", grain="year", group_by=["region"], region_level="province")
    }
    assert (
        province == hand_sum(lambda w, d, p: PROFILES[w][0] // 10000 * 10000) == {330000: 36.0, 110000: 13.0}
    )
    city = {
        r.region: r.value
        for r in query_stats(db, metric="traded", grain="year", group_by=["region"], region_level="city")
    }
    assert city == {330100: 16.0, 330200: 10.0, 331000: 10.0, 110100: 13.0}


def test_query_stats_matches_every_code_under_a_province_or_city_filter(db: Session) -> None:
    (zhejiang,) = query_stats(db, metric="traded", grain="year", region_code=330000)
    assert zhejiang.value == 36.0
    (taizhou,) = query_stats(db, metric="traded", grain="year", region_code=331000)
    assert taizhou.value == 10.0
    assert query_stats(db, metric="traded", grain="year", region_code=331001) == []


def test_query_stats_matches_industry_codes_and_their_prefixes(db: Session) -> None:
    def total(code: str) -> float:
        rows = query_stats(db, metric="traded", grain="year", industry_code=code)
        return rows[0].value if rows else 0.0

    assert total("D4411") == 16.0 + 13.0
    assert total("D44") == total("D") == 16.0 + 13.0 + 10.0
    assert total("C") == 10.0 and total("B") == 0.0


def test_query_stats_limits_to_the_given_enterprises(db: Session) -> None:
    rows = query_stats(db, metric="traded", grain="year", group_by=["enterprise"], enterprises=[A, C])
    assert {r.enterprise for r in rows} == {A, C}
    assert query_stats(db, metric="traded", grain="year", enterprises=[]) == []


def test_query_stats_pages_groups_in_key_order(db: Session) -> None:
    everything = query_stats(
        db, metric="traded", grain="day", group_by=["time"], from_period="2023-01-01", to_period="2023-12-31"
    )
    assert [r.period for r in everything] == sorted(r.period or "" for r in everything)
    page = query_stats(
        db,
        metric="traded",
        grain="day",
        group_by=["time"],
        from_period="2023-01-01",
        to_period="2023-12-31",
        limit=1,
        offset=1,
    )
    assert page == everything[1:2]


# --------------------------------------------------------------------------- windows


def test_plan_segments_covers_a_ragged_window_with_the_coarsest_rows() -> None:
    segments = plan_segments(
        metric="traded", grain="day", by_time=False, from_period="2022-11-15", to_period="2025-02-10"
    )
    assert segments == [
        Segment("day", "2022-11-15", "2022-11-30"),
        Segment("month", "2022-12", "2022-12"),
        Segment("year", "2023", "2024"),
        Segment("month", "2025-01", "2025-01"),
        Segment("day", "2025-02-01", "2025-02-10"),
    ]
    assert plan_segments(metric="traded", grain="day", by_time=False, from_period=None, to_period=None) == [
        Segment("year", None, None)
    ]
    assert plan_segments(
        metric="traded", grain="month", by_time=False, from_period="2024-03", to_period="2024-05"
    ) == [Segment("month", "2024-03", "2024-05")]


def test_query_stats_total_of_a_ragged_window_equals_the_days_inside_it(db: Session) -> None:
    start, end = date(2023, 2, 1), date(2024, 3, 10)
    (total,) = query_stats(
        db, metric="traded", grain="day", from_period=start.isoformat(), to_period=end.isoformat()
    )
    assert total.value == sum(v for _, d, _, v in TRADES if start <= d <= end) == 28.0
    (open_end,) = query_stats(db, metric="traded", grain="day", from_period="2024-03-11")
    assert open_end.value == 11.0


def test_query_stats_refuses_a_day_grouping_longer_than_366_days(db: Session) -> None:
    with pytest.raises(QueryError, match="grain=month"):
        query_stats(
            db,
            metric="traded",
            grain="day",
            group_by=["time"],
            from_period="2023-01-01",
            to_period="2024-01-02",
        )
    with pytest.raises(QueryError, match="366"):
        query_stats(db, metric="traded", grain="day", group_by=["time"])
    rows = query_stats(
        db, metric="traded", grain="day", group_by=["time"], from_period="2024-01-01", to_period="2024-12-31"
    )
    assert len(rows) == 4


@pytest.mark.parametrize(
    ("metric", "grain", "by_time", "low", "high", "message"),
    [
        ("traded", "year", False, "2024", "2023", "after"),
        ("traded", "month", True, "2024-03-15", None, "finer than grain"),
        ("traded", "month", True, "2024-13", None, "calendar date"),
        ("traded", "month", True, "24-01", None, "YYYY"),
        ("compliance_rate", "month", True, None, None, "kept by year only"),
        ("energy_tce", "day", False, "2024-03-15", "2024-04-30", "whole months"),
    ],
)
def test_plan_segments_refuses_bad_windows_for_each_case(
    metric: str, grain: str, by_time: bool, low: str | None, high: str | None, message: str
) -> None:
    with pytest.raises(QueryError, match=message):
        plan_segments(
            metric=metric,
            grain=grain,
            by_time=by_time,
            from_period=low,  # type: ignore[arg-type]
            to_period=high,
        )


# --------------------------------------------------------------------------- compliance, trend


def test_query_stats_gives_compliance_rate_per_group(db: Session) -> None:
    per_year = {
        r.period: (r.value, r.count)
        for r in query_stats(db, metric="compliance_rate", grain="year", group_by=["time"])
    }
    assert per_year == {"2023": (0.75, 4), "2024": (2 / 3, 3)}
    by_industry = {
        r.industry: r.value
        for r in query_stats(db, metric="compliance_rate", grain="year", group_by=["industry"])
    }
    assert by_industry == {"C2511": 0.5, "D4411": 0.75, "D4412": 1.0}
    (zhejiang,) = query_stats(
        db, metric="compliance_rate", grain="year", region_code=330000, from_period="2023", to_period="2023"
    )
    assert zhejiang.value == pytest.approx(2 / 3) and zhejiang.count == 3


def test_annual_trend_gives_totals_per_year_oldest_first(db: Session) -> None:
    trend = annual_trend(db, metric="traded")
    assert [(r.period, r.value) for r in trend] == sorted(hand_sum(lambda w, d, p: str(d.year)).items())
    assert [r.period for r in annual_trend(db, metric="traded", from_year=2024, to_year=2024)] == ["2024"]
    assert [r.value for r in annual_trend(db, metric="compliance_rate")] == [0.75, pytest.approx(2 / 3)]


# --------------------------------------------------------------------------- holdings


def test_holding_stats_sums_current_balances_by_region_enterprise_and_token(
    engine: Engine, db: Session
) -> None:
    co2, so2, offset = (
        encode_id(Kind.ALLOWANCE, "CO2", 2024),
        encode_id(Kind.ALLOWANCE, "SO2", 2024),
        encode_id(Kind.OFFSET, "CO2", 2024),
    )
    with engine.begin() as conn:
        conn.execute(
            insert(m.Token),
            [
                {
                    "token_id": t,
                    "kind": k,
                    "pollutant": p,
                    "vintage": 2024,
                    "cap": 0,
                    "issued": 0,
                    "retired": 0,
                }
                for t, k, p in ((co2, 1, 1), (so2, 1, 2), (offset, 2, 1))
            ],
        )
        conn.execute(
            insert(m.Participant), [{"address": "0x" + "e" * 40, "suspended": False, "updated_block": 1}]
        )
        conn.execute(
            insert(m.Holding),
            [
                {"account": A, "token_id": co2, "balance": 100},
                {"account": A, "token_id": offset, "balance": 5},
                {"account": B, "token_id": co2, "balance": 40},
                {"account": C, "token_id": so2, "balance": 7},
                {"account": D, "token_id": co2, "balance": 0},
                {"account": A, "token_id": 0, "balance": 10**9},
                {"account": "0x" + "e" * 40, "token_id": co2, "balance": 999},  # not an enterprise
            ],
        )
    (total,) = holding_stats(db)
    assert (total.balance, total.holdings) == (152, 4)
    province = {r.region: r.balance for r in holding_stats(db, group_by=["region"], region_level="province")}
    assert province == {330000: 145, 110000: 7}
    by_enterprise = {
        r.enterprise: r.balance
        for r in holding_stats(db, group_by=["enterprise"], kind="allowance", pollutant=1)
    }
    assert by_enterprise == {A: 100, B: 40}
    by_token = {r.token_id: r.balance for r in holding_stats(db, group_by=["token"], industry_code="D")}
    assert by_token == {co2: 100, offset: 5, so2: 7}
    (cash,) = holding_stats(db, token_id=0)
    assert cash.balance == 10**9
    with pytest.raises(QueryError, match="cash"):
        holding_stats(db, token_id=0, pollutant=1)


# --------------------------------------------------------------------------- energy


def _sample(tmp_path: Path) -> tuple[Engine, Path, dict[str, str], dict[str, str]]:
    """A read model with three sample enterprises registered, and their monthly energy file."""
    sample = generate_enterprises(3, years=3, seed=7, last_year=2024)
    engine = new_engine(tmp_path / "energy.db")
    accounts = {e.enterprise_id: f"0x{'b' * 39}{i}" for i, e in enumerate(sample.enterprises)}
    with engine.begin() as conn:
        conn.execute(
            insert(m.Participant),
            [
                {
                    "address": accounts[e.enterprise_id],
                    "credit_code": e.credit_code,
                    "region_code": e.region_code,
                    "industry_code": e.industry_code,
                    "suspended": False,
                    "updated_block": 1,
                }
                for e in sample.enterprises
            ],
        )
    codes = {e.enterprise_id: e.credit_code for e in sample.enterprises}
    return engine, write_monthly_sample(sample, tmp_path), codes, accounts


def _energy(engine: Engine) -> dict[tuple[str, str, str], float]:
    r = m.StatRollup
    with engine.connect() as conn:
        rows = conn.execute(select(r.grain, r.period, r.enterprise, r.value).where(r.metric == "energy_tce"))
        return {(g, p, e): v for g, p, e, v in rows}


def test_import_energy_writes_month_and_year_tce_with_profiles(tmp_path: Path) -> None:
    engine, path, codes, accounts = _sample(tmp_path)
    result = import_energy(engine, path, credit_codes=codes)
    file_rows = load_monthly_energy(path)
    assert (result.rows, result.imported, result.enterprises, result.years) == (36 * 3, 36 * 3, 3, 9)
    assert result.unmatched == ()
    stored = _energy(engine)
    for row in file_rows:
        who = accounts[row.enterprise_id or ""]
        assert stored[("month", f"{row.year}-{row.month:02d}", who)] == pytest.approx(tce_of(row.quantities))
    first = accounts["E0001"]
    year_2023 = sum(tce_of(r.quantities) for r in file_rows if r.enterprise_id == "E0001" and r.year == 2023)
    assert stored[("year", "2023", first)] == pytest.approx(year_2023)
    with Session(engine) as db:
        (total,) = query_stats(
            db, metric="energy_tce", grain="month", from_period="2022-01", to_period="2024-12"
        )
        assert total.value == pytest.approx(sum(tce_of(r.quantities) for r in file_rows))
        assert total.count == 108
        profile = db.execute(select(m.Participant.region_code).where(m.Participant.address == first)).scalar()
        (by_region,) = query_stats(
            db, metric="energy_tce", grain="year", group_by=["region"], enterprises=[first]
        )
        assert by_region.region == profile
    engine.dispose()


def test_import_energy_replaces_the_files_months_when_imported_again(tmp_path: Path) -> None:
    engine, path, codes, accounts = _sample(tmp_path)
    import_energy(engine, path, credit_codes=codes)
    before = _energy(engine)
    import_energy(engine, path, credit_codes=codes)
    assert _energy(engine) == before
    # a correction file for one month of one enterprise: that month and its year change, nothing else
    first = accounts["E0001"]
    fix = MonthlyEnergy(
        enterprise_id=None,
        address=first,
        year=2024,
        month=3,
        quantities={"coal": 1000.0, "natural_gas": 0.0, "oil": 0.0, "electricity": 0.0, "heat": 0.0},
    )
    fix_path = write_monthly_energy([fix], tmp_path / "fix.csv")
    result = import_energy(engine, fix_path)
    assert (result.imported, result.years) == (1, 1)
    after = _energy(engine)
    assert after[("month", "2024-03", first)] == pytest.approx(714.3)
    delta = 714.3 - before[("month", "2024-03", first)]
    assert after[("year", "2024", first)] == pytest.approx(before[("year", "2024", first)] + delta)
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {("month", "2024-03", first), ("year", "2024", first)}
    engine.dispose()


def test_import_energy_reports_enterprises_it_cannot_match(tmp_path: Path) -> None:
    engine, path, _codes, _accounts = _sample(tmp_path)
    result = import_energy(engine, path)  # no id -> credit code mapping: nothing matches
    assert result.imported == 0 and result.unmatched == ("E0001", "E0002", "E0003")
    assert _energy(engine) == {}
    engine.dispose()


# --------------------------------------------------------------------------- property


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    built = new_engine(tmp_path_factory.mktemp("stats-property") / "scratch.db")
    yield built
    built.dispose()


facts = st.lists(
    st.tuples(
        st.sampled_from([A, B, C, D]),
        st.dates(min_value=date(2023, 1, 1), max_value=date(2024, 12, 31)),
        st.integers(min_value=1, max_value=3),
        st.integers(min_value=0, max_value=10**6).map(float),
    ),
    min_size=1,
    max_size=40,
)
GROUPINGS: list[tuple[GroupKey, ...]] = [
    g for n in range(1, 5) for g in combinations(("time", "region", "industry", "enterprise"), n)
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    facts=facts,
    grouping=st.sampled_from(GROUPINGS),
    grain=st.sampled_from(["year", "month", "day"]),
    level=st.sampled_from(["province", "city", "county"]),
)
def test_query_stats_sum_over_any_grouping_equals_the_ungrouped_total(
    scratch: Engine,
    facts: list[tuple[str, date, int, float]],
    grouping: tuple[GroupKey, ...],
    grain: str,
    level: str,
) -> None:
    with scratch.begin() as conn:
        conn.execute(delete(m.StatRollup))
        conn.execute(insert(m.StatRollup), rollups(facts))
        rebuild_totals(conn)  # ungrouped and most groupings read the totals, the rest the rollups
    start = min(d for _, d, _, _ in facts)
    end = min(start + timedelta(days=365), max(d for _, d, _, _ in facts))
    window = {
        "from_period": start.isoformat()[: {"year": 4, "month": 7, "day": 10}[grain]],
        "to_period": end.isoformat()[: {"year": 4, "month": 7, "day": 10}[grain]],
    }
    with Session(scratch) as db:
        (total,) = query_stats(db, metric="traded", grain=grain, **window)  # type: ignore[arg-type]
        grouped = query_stats(
            db,
            metric="traded",
            grain=grain,
            group_by=grouping,  # type: ignore[arg-type]
            region_level=level,
            **window,
        )  # type: ignore[arg-type]
    assert sum(r.value for r in grouped) == total.value
    assert sum(r.count for r in grouped) == total.count


# --------------------------------------------------------------------------- query plans


def _plan(db: Session, **query: object) -> str:
    """SQLite's plan of the statement :func:`query_stats` runs for ``query``."""
    captured: list[tuple[str, object]] = []
    from sqlalchemy import event

    def grab(_conn: object, _cursor: object, statement: str, parameters: object, *_: object) -> None:
        if "stat_rollups" in statement or "stat_totals" in statement:
            captured.append((statement, parameters))

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", grab)
    try:
        query_stats(db, **query)  # type: ignore[arg-type]
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    statement, parameters = captured[-1]
    rows = db.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)  # type: ignore[arg-type]
    return "\n".join(str(row[-1]) for row in rows)


#: Queries one of the totals' dimensions answers: a seek of its primary key (the clustered
#: table on SQLite).
TOTALS = "stat_totals USING PRIMARY KEY"


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (
            {
                "metric": "traded",
                "grain": "month",
                "group_by": ["time"],
                "pollutant": 1,
                "from_period": "2023-01",
                "to_period": "2023-12",
            },
            TOTALS,
        ),
        ({"metric": "traded", "grain": "year", "group_by": ["region"], "region_level": "province"}, TOTALS),
        (
            {
                "metric": "traded",
                "grain": "day",
                "group_by": ["time"],
                "region_code": 330000,
                "from_period": "2024-01-01",
                "to_period": "2024-12-31",
            },
            TOTALS,
        ),
        (
            {
                "metric": "traded",
                "grain": "day",
                "group_by": ["time"],
                "industry_code": "D44",
                "from_period": "2024-01-01",
                "to_period": "2024-12-31",
            },
            TOTALS,
        ),
        (
            {
                "metric": "compliance_rate",
                "grain": "year",
                "group_by": ["industry"],
                "industry_code": "D4411",
            },
            TOTALS,
        ),
        (
            {"metric": "traded", "grain": "day", "from_period": "2022-11-15", "to_period": "2025-02-10"},
            TOTALS,
        ),
        ({"metric": "traded", "grain": "year", "group_by": ["enterprise"]}, TOTALS),
        # two of region / industry / enterprise, or named enterprises: the per-enterprise rollups
        (
            {"metric": "traded", "grain": "year", "group_by": ["time"], "enterprises": [A]},
            "stat_rollups USING INDEX ix_stat_rollups_enterprise",
        ),
        (
            {
                "metric": "traded",
                "grain": "day",
                "group_by": ["industry"],
                "region_code": 330000,
                "from_period": "2024-01-01",
                "to_period": "2024-12-31",
            },
            "stat_rollups USING INDEX ix_stat_rollups_region",
        ),
        (
            {
                "metric": "traded",
                "grain": "day",
                "group_by": ["region"],
                "industry_code": "D44",
                "from_period": "2024-01-01",
                "to_period": "2024-12-31",
            },
            "stat_rollups USING INDEX ix_stat_rollups_industry",
        ),
        (
            {
                "metric": "traded",
                "grain": "month",
                "group_by": ["enterprise"],
                "pollutant": 1,
                "from_period": "2023-01",
                "to_period": "2023-12",
            },
            "stat_rollups USING INDEX sqlite_autoindex_stat_rollups_1",
        ),
    ],
)
def test_query_stats_plan_searches_a_rollup_index_for_each_main_query(
    engine: Engine, db: Session, query: dict[str, object], index: str
) -> None:
    with engine.begin() as conn:  # a large table, and statistics of it, as in a real deployment
        conn.execute(
            text(
                "INSERT INTO stat_rollups SELECT 'day', 'bulk' || (rowid % 7), pollutant, period, "
                "enterprise || rowid, region_code, industry_code, value, count FROM stat_rollups"
            )
        )
        conn.execute(
            text(
                "INSERT INTO stat_totals SELECT 'day', 'bulk' || (rowid % 7), 'enterprise', -1, period, "
                "enterprise || rowid, NULL, NULL, enterprise || rowid, value, count FROM stat_rollups"
            )
        )
        conn.execute(text("ANALYZE"))
    plan = _plan(db, **query)
    assert re.search(rf"SEARCH {index}", plan.replace("COVERING INDEX", "INDEX")), plan
    assert not re.search(r"SCAN stat_(rollups|totals)(?! USING)", plan), plan
    assert db.execute(select(func.count()).select_from(m.StatRollup)).scalar_one() > 0
