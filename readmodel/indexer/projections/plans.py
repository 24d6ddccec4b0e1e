"""Projections of TotalControlPlans: plans as drafted (header and content), their adoption and
supersession, and the vintage caps executed from annual plans."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, update

from chain.events import DecodedEvent
from domain.tokens import decode_id
from readmodel import models as m
from readmodel.indexer.projection import Handlers, Projection, int64

KINDS = {1: "five_year", 2: "annual"}


def _plan_drafted(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    supersedes = int(a["supersedes"])
    conn.execute(
        insert(m.Plan).values(
            plan_id=int(a["planId"]),
            kind=KINDS.get(int(a["kind"]), "unknown"),
            status="draft",
            version=int(a["version"]),
            supersedes=supersedes or None,
            start_year=int(a["startYear"]),
            end_year=int(a["endYear"]),
            content={},
            drafted_time=e.block_time,
        )
    )


def _five_year_content(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    plan = e.args["plan"]
    content = {
        "pollutants": [
            {
                "pollutant": int(line["pollutant"]),
                "base_emissions": int64(line["baseEmissions"], "base emissions"),
                "target_bps": int(line["targetBps"]),
                "path": [int64(v, "path") for v in line["path"]],
            }
            for line in plan["pollutants"]
        ],
        "regions": [{"region": int(r["region"]), "share_bps": int(r["shareBps"])} for r in plan["regions"]],
    }
    conn.execute(
        update(m.Plan)
        .where(m.Plan.plan_id == int(e.args["planId"]))
        .values(content=content, base_year=int(plan["baseYear"]), document_hash=plan["documentHash"])
        .values(uri=plan["uri"])
    )


def _annual_content(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    plan = e.args["plan"]
    targets = [(t["enterprise"], int(t["pollutant"]), int(t["targetBps"])) for t in plan["targets"]]
    content = {
        "caps": [
            {
                "pollutant": int(c["pollutant"]),
                "region": int(c["region"]),
                "cap": int64(c["cap"], "cap"),
                "reserve_share_bps": int(c["reserveShareBps"]),
                "guide_price": int64(c["guidePrice"], "guide price"),
            }
            for c in plan["caps"]
        ],
        "targets": [{"enterprise": a, "pollutant": p_, "target_bps": bps} for a, p_, bps in targets],
    }
    conn.execute(
        update(m.Plan)
        .where(m.Plan.plan_id == int(e.args["planId"]))
        .values(
            content=content,
            five_year_plan_id=int(plan["fiveYearPlanId"]),
            document_hash=plan["documentHash"],
            uri=plan["uri"],
        )
    )


def _plan_adopted(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    conn.execute(
        update(m.Plan)
        .where(m.Plan.plan_id == int(e.args["planId"]))
        .values(status="adopted", adopted_time=e.block_time)
    )


def _plan_superseded(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    conn.execute(
        update(m.Plan)
        .where(m.Plan.plan_id == int(e.args["planId"]))
        .values(status="superseded", superseded_by=int(e.args["byPlanId"]))
    )


def _cap_executed(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    token_id = int(e.args["tokenId"])
    parts = decode_id(token_id)
    conn.execute(delete(m.PlanCapExecution).where(m.PlanCapExecution.token_id == token_id))
    conn.execute(
        insert(m.PlanCapExecution).values(
            token_id=token_id,
            plan_id=int(e.args["planId"]),
            pollutant=parts.pollutant,
            year=parts.vintage,
            cap=int64(e.args["cap"], "cap"),
            block_time=e.block_time,
        )
    )


HANDLERS: Handlers = {
    ("TotalControlPlans", "PlanDrafted"): _plan_drafted,
    ("TotalControlPlans", "FiveYearPlanContent"): _five_year_content,
    ("TotalControlPlans", "AnnualPlanContent"): _annual_content,
    ("TotalControlPlans", "PlanAdopted"): _plan_adopted,
    ("TotalControlPlans", "PlanSuperseded"): _plan_superseded,
    ("TotalControlPlans", "CapExecuted"): _cap_executed,
}
