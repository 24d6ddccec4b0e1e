"""Projections of EmissionsLedger: anchored reading batches (gathered per page, with their
emission statistics) and auditors' attestations."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Connection, insert, update

from chain.events import DecodedEvent
from domain.production import HJ212_ALLOWANCE, MASS_UNITS
from domain.tokens import POLLUTANTS
from readmodel import models as m
from readmodel.indexer.projection import Handlers, Projection, int64


def _text(raw_hex: str) -> str:
    return bytes.fromhex(raw_hex[2:]).rstrip(b"\0").decode("ascii", "replace")


def _pollutant_of_hj212(code_hex: str) -> int:
    """AllowanceToken pollutant code of an anchored total's HJ 212 factor (bytes8 hex), or 0."""
    symbol = HJ212_ALLOWANCE.get(_text(code_hex))
    return POLLUTANTS.get(symbol, 0) if symbol else 0


def _batch_anchored(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    p.batches.append(
        {
            "batch_id": a["batchId"],
            "device": a["device"],
            "enterprise": a["enterprise"],
            "first_sequence": a["firstSequence"],
            "last_sequence": a["lastSequence"],
            "previous_sequence": a["previousSequence"],
            "period_start": a["periodStart"],
            "period_end": a["periodEnd"],
            "count": a["count"],
            "root": a["root"],
            "totals": a["totals"],
            "block_number": e.block_number,
            "block_time": e.block_time,
            "tx_hash": e.tx_hash,
        }
    )
    for total in a["totals"]:
        per_unit = MASS_UNITS.get(_text(total["unit"]))
        if per_unit is None:
            continue
        tonnes = float(Decimal(total["total"]).scaleb(-int(total["decimals"])) * per_unit)
        pollutant = _pollutant_of_hj212(total["pollutant"])
        p.stat("emissions_t", pollutant, a["enterprise"], int(a["periodEnd"]), tonnes)


def _attestation_submitted(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    supersedes = None if int(a["supersedes"], 16) == 0 else a["supersedes"]
    conn.execute(
        insert(m.Attestation).values(
            attestation_id=a["id"],
            auditor=a["auditor"],
            enterprise=a["enterprise"],
            pollutant=a["pollutant"],
            year=a["year"],
            verified=int64(a["verifiedEmissions"], "verified emissions"),
            offsets_eligible=int64(a["offsetsEligible"], "offsets"),
            evidence=a["evidence"],
            report_hash=a["reportHash"],
            supersedes=supersedes,
            status="active",
            submitted_time=e.block_time,
        )
    )
    if supersedes is not None:
        conn.execute(
            update(m.Attestation)
            .where(m.Attestation.attestation_id == supersedes)
            .values(status="superseded", closed_time=e.block_time)
        )


def _attestation_closed(conn: Connection, e: DecodedEvent, status: str) -> None:
    conn.execute(
        update(m.Attestation)
        .where(m.Attestation.attestation_id == e.args["id"])
        .values(
            status=status,
            reason_code=e.args["reasonCode"],
            reason=e.args["reason"],
            closed_time=e.block_time,
        )
    )


def _attestation_revoked(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    _attestation_closed(conn, e, "revoked")


def _attestation_rejected(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    _attestation_closed(conn, e, "rejected")


HANDLERS: Handlers = {
    ("EmissionsLedger", "BatchAnchored"): _batch_anchored,
    ("EmissionsLedger", "AttestationSubmitted"): _attestation_submitted,
    ("EmissionsLedger", "AttestationRevoked"): _attestation_revoked,
    ("EmissionsLedger", "AttestationRejected"): _attestation_rejected,
}
