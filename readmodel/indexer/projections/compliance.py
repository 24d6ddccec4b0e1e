"""Projections of ComplianceManager: year rules, notices, applications, final outcomes (with the
obligation and compliance statistics) and penalties. An obligation is keyed by (enterprise,
pollutant, year); every cycle event carries its pollutant."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, update

from chain.events import DecodedEvent
from readmodel import models as m
from readmodel.bulk import upsert
from readmodel.indexer.projection import Handlers, Projection, int64


def _year_configured(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    row = {
        "year": a["year"],
        "offset_cap_bps": a["offsetCapBps"],
        "make_good_bps": a["makeGoodBps"],
        "fine_per_tonne": int64(a["finePerTonne"], "fine"),
        "no_report_fine": int64(a["noReportFine"], "fine"),
    }
    upsert(
        conn,
        m.ComplianceYear,
        [row],
        ("year",),
        replace=("offset_cap_bps", "make_good_bps", "fine_per_tonne", "no_report_fine"),
    )


def _notice(conn: Connection, e: DecodedEvent, **values: Any) -> None:
    conn.execute(
        update(m.Notice)
        .where(
            m.Notice.enterprise == e.args["enterprise"],
            m.Notice.pollutant == e.args["pollutant"],
            m.Notice.year == e.args["year"],
        )
        .values(**values)
    )


def _notice_issued(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    row = {
        "enterprise": a["enterprise"],
        "year": a["year"],
        "pollutant": a["pollutant"],
        "allocated": int64(a["allocated"], "allocated"),
        "rules_hash": a["rulesHash"],
        "submission_deadline": a["submissionDeadline"],
        "ack_deadline": a["ackDeadline"],
        "issued_time": e.block_time,
    }
    upsert(
        conn,
        m.Notice,
        [row],
        ("enterprise", "year", "pollutant"),
        replace=(
            "allocated",
            "rules_hash",
            "submission_deadline",
            "ack_deadline",
            "issued_time",
        ),
    )


def _notice_acknowledged(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    _notice(conn, e, acknowledged_time=e.args["acknowledgedAt"], late=e.args["late"])


def _application_submitted(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    conn.execute(
        insert(m.Application).values(
            application_id=a["applicationId"],
            enterprise=a["enterprise"],
            year=a["year"],
            pollutant=a["pollutant"],
            attestation_id=a["input"]["attestationId"],
            verified=int64(a["verified"], "verified"),
            offsets=int64(a["offsets"], "offsets"),
            allowances=int64(a["allowances"], "allowances"),
            surrender=a["input"],
            status="submitted",
            submitted_time=e.block_time,
        )
    )


def _application(conn: Connection, e: DecodedEvent, **values: Any) -> None:
    conn.execute(
        update(m.Application)
        .where(m.Application.application_id == e.args["applicationId"])
        .values(decided_time=e.block_time, **values)
    )


def _application_approved(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    _application(
        conn,
        e,
        status="approved",
        surrendered=int64(e.args["surrendered"], "surrendered"),
        uncovered=int64(e.args["uncovered"], "uncovered"),
    )


def _application_rejected(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    _application(conn, e, status="rejected", reason_code=e.args["reasonCode"], reason=e.args["reason"])


def _obligation_finalized(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    values = {k: int64(a[k], k) for k in ("verified", "surrendered", "shortfall", "fine")}
    _notice(conn, e, outcome=a["outcome"], make_good=int64(a["makeGood"], "make-good"), **values)
    pollutant = a["pollutant"]
    periods = (("year", str(a["year"])),)
    p.stat("obligations", pollutant, a["enterprise"], e.block_time, 1, periods)
    p.stat("compliant", pollutant, a["enterprise"], e.block_time, int(a["outcome"] == 1), periods)


def _penalty_paid(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    _notice(conn, e, fine_paid=int64(e.args["amount"], "fine"))


HANDLERS: Handlers = {
    ("ComplianceManager", "YearConfigured"): _year_configured,
    ("ComplianceManager", "NoticeIssued"): _notice_issued,
    ("ComplianceManager", "NoticeAcknowledged"): _notice_acknowledged,
    ("ComplianceManager", "ApplicationSubmitted"): _application_submitted,
    ("ComplianceManager", "ApplicationApproved"): _application_approved,
    ("ComplianceManager", "ApplicationRejected"): _application_rejected,
    ("ComplianceManager", "ObligationFinalized"): _obligation_finalized,
    ("ComplianceManager", "PenaltyPaid"): _penalty_paid,
}
