"""Projections of DischargePermits: applications (content, returns, refusals, issue), permits
(issue, revisions of outlets and terms, renewals, revocations, cancellations) and annual reviews."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from chain.events import DecodedEvent
from readmodel import models as m
from readmodel.bulk import upsert
from readmodel.indexer.projection import Handlers, Projection, int64


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex() if isinstance(value, bytes | bytearray) else str(value)


def _outlets(raw: Any) -> list[dict[str, str]]:
    return [{"code": str(o["code"]), "mn": str(o["mn"])} for o in raw]


def _term(t: Any) -> dict[str, int]:
    return {
        "pollutant": int(t["pollutant"]),
        "annual_amount": int64(t["annualAmount"], "annual amount"),
        "concentration_limit": int(t["concentrationLimit"]),
    }


def _applied(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    app_id = int(a["applicationId"])
    values: dict[str, Any] = {
        "enterprise": str(a["enterprise"]),
        "status": "submitted",
        "document_hash": _hex(a["documentHash"]),
        "reason": None,
        "submitted_time": e.block_time,
        "decided_time": None,
    }
    if bool(a["resubmission"]):
        conn.execute(
            update(m.PermitApplication)
            .where(m.PermitApplication.application_id == app_id)
            .values(**values, submissions=m.PermitApplication.submissions + 1)
        )
    else:
        row: dict[str, Any] = {
            "application_id": app_id,
            "submissions": 1,
            "outlets": [],
            "terms": [],
            "permit_id": None,
            **values,
        }
        upsert(conn, m.PermitApplication, [row], ("application_id",), replace=tuple(values))


def _content(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    conn.execute(
        update(m.PermitApplication)
        .where(m.PermitApplication.application_id == int(e.args["applicationId"]))
        .values(outlets=_outlets(e.args["outlets"]), terms=[_term(t) for t in e.args["terms"]])
    )


def _decided(status: str) -> Any:
    def handler(p: Projection, conn: Connection, e: DecodedEvent) -> None:
        conn.execute(
            update(m.PermitApplication)
            .where(m.PermitApplication.application_id == int(e.args["applicationId"]))
            .values(status=status, reason=str(e.args["reason"]), decided_time=e.block_time)
        )

    return handler


def _issued(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    permit_id, app_id = int(a["permitId"]), int(a["applicationId"])
    conn.execute(
        update(m.PermitApplication)
        .where(m.PermitApplication.application_id == app_id)
        .values(status="issued", permit_id=permit_id, decided_time=e.block_time)
    )
    row = {
        "permit_id": permit_id,
        "enterprise": str(a["enterprise"]),
        "application_id": app_id,
        "number": str(a["number"]),
        "status": "valid",
        "valid_from": int(a["validFrom"]),
        "valid_until": int(a["validUntil"]),
        "revision": 0,
        "outlets": [],
        "terms": [],
        "reason": None,
        "issued_time": e.block_time,
        "changed_time": e.block_time,
    }
    upsert(conn, m.DischargePermit, [row], ("permit_id",), replace=tuple(k for k in row if k != "permit_id"))


def _append(column: str, item: Any, conn: Connection, permit_id: int, revision: int) -> None:
    permit = m.DischargePermit
    current = conn.execute(
        select(getattr(permit, column)).where(permit.permit_id == permit_id)
    ).scalar_one_or_none()
    if current is None:
        return
    conn.execute(
        update(permit)
        .where(permit.permit_id == permit_id)
        .values({column: [*current, item], "revision": revision})
    )


def _outlet_set(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    item = {"code": str(a["code"]), "mn": str(a["mn"])}
    _append("outlets", item, conn, int(a["permitId"]), int(a["revision"]))


def _term_set(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    _append("terms", _term(a), conn, int(a["permitId"]), int(a["revision"]))


def _changed(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    conn.execute(
        update(m.DischargePermit)
        .where(m.DischargePermit.permit_id == int(e.args["permitId"]))
        .values(revision=int(e.args["revision"]), outlets=[], terms=[], changed_time=e.block_time)
    )


def _renewed(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    conn.execute(
        update(m.DischargePermit)
        .where(m.DischargePermit.permit_id == int(e.args["permitId"]))
        .values(valid_until=int(e.args["newValidUntil"]), changed_time=e.block_time)
    )


def _ended(status: str) -> Any:
    def handler(p: Projection, conn: Connection, e: DecodedEvent) -> None:
        conn.execute(
            update(m.DischargePermit)
            .where(m.DischargePermit.permit_id == int(e.args["permitId"]))
            .values(status=status, reason=str(e.args["reason"]), changed_time=e.block_time)
        )

    return handler


def _reviewed(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    conn.execute(
        insert(m.PermitReview).values(
            permit_id=int(a["permitId"]),
            year=int(a["year"]),
            passed=bool(a["passed"]),
            note=str(a["note"]),
            block_time=e.block_time,
        )
    )


HANDLERS: Handlers = {
    ("DischargePermits", "PermitApplied"): _applied,
    ("DischargePermits", "ApplicationContent"): _content,
    ("DischargePermits", "ApplicationReturned"): _decided("returned"),
    ("DischargePermits", "ApplicationRefused"): _decided("refused"),
    ("DischargePermits", "PermitIssued"): _issued,
    ("DischargePermits", "PermitOutletSet"): _outlet_set,
    ("DischargePermits", "PermitTermSet"): _term_set,
    ("DischargePermits", "PermitChanged"): _changed,
    ("DischargePermits", "PermitRenewed"): _renewed,
    ("DischargePermits", "PermitRevoked"): _ended("revoked"),
    ("DischargePermits", "PermitCancelled"): _ended("cancelled"),
    ("DischargePermits", "AnnualReviewRecorded"): _reviewed,
}
