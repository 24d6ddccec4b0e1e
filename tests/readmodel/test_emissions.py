"""readmodel.emissions on SQLite and PostgreSQL: metered history per enterprise from the yearly
emission rollups; a plan's progress per pollutant, region and year (path × share, the adopted
annual cap and its reserve, the executed cap) against metered rollups and active attestations."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import insert
from sqlalchemy.orm import Session

from readmodel import models as m
from readmodel.emissions import ProgressFigures, metered_history, plan_progress
from readmodel.migrate import upgrade
from readmodel.session import make_engine

SO2, NOX = 2, 3
TAIZHOU, HANGZHOU = 331_000, 330_100
A, B = "0x" + "aa" * 20, "0x" + "bb" * 20
FIVE = {
    "pollutants": [{"pollutant": SO2, "base_emissions": 10_000, "target_bps": 1_600,
                    "path": [10_000, 9_600, 9_200, 8_800, 8_400]}],
    "regions": [{"region": TAIZHOU, "share_bps": 6_000}, {"region": HANGZHOU, "share_bps": 4_000}],
}  # fmt: skip
ANNUAL = {
    "caps": [
        {"pollutant": SO2, "region": TAIZHOU, "cap": 5_600, "reserve_share_bps": 1_000, "guide_price": 0},
        {"pollutant": SO2, "region": HANGZHOU, "cap": 3_999, "reserve_share_bps": 500, "guide_price": 0},
    ],
    "targets": [],
}


def _rollup(enterprise: str, region: int, period: str, value: float, *, pollutant: int = SO2,
             grain: str = "year") -> dict[str, object]:  # fmt: skip
    return {"grain": grain, "metric": "emissions_t", "pollutant": pollutant, "period": period,
            "enterprise": enterprise, "region_code": region, "industry_code": "D4411", "value": value,
            "count": 1}  # fmt: skip


def _attestation(n: int, enterprise: str, verified: int, status: str = "active") -> dict[str, object]:
    return {"attestation_id": "0x" + f"{n:064x}", "auditor": "0x" + "cc" * 20, "enterprise": enterprise,
            "pollutant": SO2, "year": 2027, "verified": verified, "offsets_eligible": 0, "evidence": [],
            "report_hash": "0x" + "00" * 32, "status": status, "submitted_time": 1}  # fmt: skip


def _plan(
    plan_id: int,
    kind: str,
    start: int,
    end: int,
    content: Mapping[str, object],
    status: str = "adopted",
    five: int | None = None,
) -> dict[str, object]:
    return {"plan_id": plan_id, "kind": kind, "status": status, "version": 1, "five_year_plan_id": five,
            "start_year": start, "end_year": end, "base_year": 2025 if five is None else None,
            "content": content, "drafted_time": 1, "adopted_time": 2}  # fmt: skip


def test_progress_and_history_from_rollups_and_attestations(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(insert(m.Participant), [
            {"address": A, "region_code": TAIZHOU, "updated_block": 1},
            {"address": B, "region_code": HANGZHOU, "updated_block": 1},
        ])  # fmt: skip
        conn.execute(insert(m.StatRollup), [
            _rollup(A, TAIZHOU, "2027", 1_234.5), _rollup(A, TAIZHOU, "2026", 2_000.0),
            _rollup(B, HANGZHOU, "2027", 100.25), _rollup(A, TAIZHOU, "2027-01", 55.0, grain="month"),
            _rollup(A, TAIZHOU, "2027", 77.0, pollutant=NOX),
        ])  # fmt: skip
        conn.execute(insert(m.Attestation), [
            _attestation(1, A, 1_200), _attestation(2, A, 999, "superseded"), _attestation(3, B, 90),
        ])  # fmt: skip
        conn.execute(insert(m.Plan), [
            _plan(1, "five_year", 2026, 2030, FIVE), _plan(2, "annual", 2027, 2027, ANNUAL, five=1),
            _plan(3, "annual", 2028, 2028, ANNUAL, status="draft", five=1),
        ])  # fmt: skip
        conn.execute(insert(m.PlanCapExecution).values(token_id=1, plan_id=2, pollutant=SO2, year=2027,
                                                        cap=9_599, block_time=3))  # fmt: skip
    with Session(engine) as db:
        assert metered_history(db, SO2) == {A: {2026: 2_000.0, 2027: 1_234.5}, B: {2027: 100.25}}
        assert metered_history(db, SO2, before=2027) == {A: {2026: 2_000.0}}
        annual = plan_progress(db, db.get(m.Plan, 2))  # type: ignore[arg-type]
        assert annual == [
            ProgressFigures(SO2, TAIZHOU, 2027, 5_600, 5_760, 5_600, 560, 1_234.5, 1_200, 9_599),
            ProgressFigures(SO2, HANGZHOU, 2027, 3_999, 3_840, 3_999, 199, 100.25, 90, 9_599),
        ]
        five = plan_progress(db, db.get(m.Plan, 1))  # type: ignore[arg-type]
        assert len(five) == 5 * 2 and [f.year for f in five[:2]] == [2026, 2026]
        by = {(f.region, f.year): f for f in five}
        expected = ProgressFigures(SO2, TAIZHOU, 2027, 5_760, 5_760, 5_600, 560, 1_234.5, 1_200, 9_599)
        assert by[(TAIZHOU, 2027)] == expected
        assert by[(TAIZHOU, 2026)].metered_t == 2_000.0 and by[(TAIZHOU, 2026)].annual_cap_t is None
        assert by[(HANGZHOU, 2028)].annual_cap_t is None  # the 2028 plan is a draft
    engine.dispose()
