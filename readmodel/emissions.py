"""Emissions as the read model knows them, for plans and the allocation planner: metered totals
from the statistics' yearly rollups of anchored batches (metric ``emissions_t``), verified totals
from auditors' active attestations, per enterprise or per region; and a plan's progress: per
pollutant, region and year the five-year path, the adopted annual cap and its reserve against the
metered and verified emissions."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.plan_allocation import reserve_of
from domain.plans import BPS
from readmodel import models as m

METRIC = "emissions_t"


def metered_history(db: Session, pollutant: int, *, before: int | None = None) -> dict[str, dict[int, float]]:
    """``enterprise -> {year: metered t}`` of ``pollutant`` from the yearly rollups (years before
    ``before`` only, when given)."""
    r = m.StatRollup
    q = select(r.enterprise, r.period, r.value).where(
        r.grain == "year", r.metric == METRIC, r.pollutant == pollutant
    )
    out: dict[str, dict[int, float]] = {}
    for enterprise, period, value in db.execute(q):
        year = int(period)
        if before is None or year < before:
            out.setdefault(str(enterprise), {})[year] = float(value)
    return out


def metered_in_region(db: Session, pollutant: int, year: int, region: int) -> float:
    """Metered t of ``pollutant`` in ``year`` by the enterprises of ``region`` (their region at the time)."""
    r = m.StatRollup
    q = select(func.coalesce(func.sum(r.value), 0.0)).where(
        r.grain == "year",
        r.metric == METRIC,
        r.pollutant == pollutant,
        r.period == str(year),
        r.region_code == region,
    )
    return float(db.execute(q).scalar_one())


def verified_in_region(db: Session, pollutant: int, year: int, region: int) -> int:
    """Verified t of ``pollutant`` in ``year`` by the enterprises of ``region`` (active attestations)."""
    q = (
        select(func.coalesce(func.sum(m.Attestation.verified), 0))
        .join(m.Participant, m.Participant.address == m.Attestation.enterprise)
        .where(m.Attestation.status == "active", m.Attestation.pollutant == pollutant)
        .where(m.Attestation.year == year, m.Participant.region_code == region)
    )
    return int(db.execute(q).scalar_one())


@dataclass(frozen=True, slots=True)
class ProgressFigures:
    """One pollutant, region and year of a plan: what the plans allow against what was emitted.

    Attributes:
        planned_t: the plan's own amount (five-year: path × regional share; annual: the region's cap).
        path_t: the five-year path × the region's share.
        annual_cap_t: the region's cap in the adopted annual plan of that year (None without one).
        reserve_t: the part of that cap kept for the reserve (None without an annual plan).
        metered_t: metered from anchored batches; verified_t: verified by active attestations.
        executed_cap: the vintage cap executed on chain from the annual plan (all regions).
    """

    pollutant: int
    region: int
    year: int
    planned_t: int
    path_t: int | None
    annual_cap_t: int | None
    reserve_t: int | None
    metered_t: float
    verified_t: int
    executed_cap: int | None


def _executed(db: Session, plan_id: int, pollutant: int, year: int) -> int | None:
    q = select(m.PlanCapExecution.cap).where(
        m.PlanCapExecution.plan_id == plan_id,
        m.PlanCapExecution.pollutant == pollutant,
        m.PlanCapExecution.year == year,
    )
    row = db.execute(q).scalar_one_or_none()
    return None if row is None else int(row)


def _adopted_annual(db: Session, five_year_plan_id: int, year: int) -> m.Plan | None:
    q = select(m.Plan).where(
        m.Plan.kind == "annual",
        m.Plan.status == "adopted",
        m.Plan.five_year_plan_id == five_year_plan_id,
        m.Plan.start_year == year,
    )
    return db.execute(q.order_by(m.Plan.plan_id.desc()).limit(1)).scalar_one_or_none()


def _paths(five: m.Plan | None) -> dict[tuple[int, int, int], int]:
    """(pollutant, region, year) -> path × share of a five-year plan's content."""
    if five is None:
        return {}
    return {
        (line["pollutant"], r["region"], five.start_year + offset): path * r["share_bps"] // BPS
        for line in five.content.get("pollutants", [])
        for offset, path in enumerate(line["path"])
        for r in five.content.get("regions", [])
    }


def _caps(annual: m.Plan | None) -> dict[tuple[int, int], tuple[int, int]]:
    """(pollutant, region) -> (cap, reserve t) of an annual plan's content."""
    if annual is None:
        return {}
    return {
        (c["pollutant"], c["region"]): (c["cap"], reserve_of(c["cap"], c["reserve_share_bps"]))
        for c in annual.content.get("caps", [])
    }


def plan_progress(db: Session, plan: m.Plan) -> list[ProgressFigures]:
    """Progress of ``plan``: a five-year plan per pollutant, region and year of its period (against
    the adopted annual plan of each year); an annual plan per (pollutant, region) line of its year
    (against its five-year path)."""
    rows: list[ProgressFigures] = []
    if plan.kind == "five_year":
        paths = _paths(plan)
        annuals = {y: _adopted_annual(db, plan.plan_id, y) for y in range(plan.start_year, plan.end_year + 1)}
        caps = {y: _caps(a) for y, a in annuals.items()}
        keys = sorted(paths, key=lambda k: (k[0], k[2], k[1]))
        for pollutant, region, year in keys:
            cap = caps[year].get((pollutant, region))
            annual = annuals[year]
            executed = _executed(db, annual.plan_id, pollutant, year) if annual is not None else None
            rows.append(
                ProgressFigures(
                    pollutant,
                    region,
                    year,
                    paths[(pollutant, region, year)],
                    paths[(pollutant, region, year)],
                    None if cap is None else cap[0],
                    None if cap is None else cap[1],
                    metered_in_region(db, pollutant, year, region),
                    verified_in_region(db, pollutant, year, region),
                    executed,
                )
            )
        return rows
    five = db.get(m.Plan, plan.five_year_plan_id) if plan.five_year_plan_id else None
    paths = _paths(five)
    year = plan.start_year
    for c in plan.content.get("caps", []):
        pollutant, region = c["pollutant"], c["region"]
        rows.append(
            ProgressFigures(
                pollutant,
                region,
                year,
                c["cap"],
                paths.get((pollutant, region, year)),
                c["cap"],
                reserve_of(c["cap"], c["reserve_share_bps"]),
                metered_in_region(db, pollutant, year, region),
                verified_in_region(db, pollutant, year, region),
                _executed(db, plan.plan_id, pollutant, year),
            )
        )
    return rows
