"""Projections of EmissionsLedger: anchored reading batches (gathered per page, with their
header and packed totals, and their emission statistics: valid readings only), their excluded
and estimated totals (statistics ``excluded_t`` and ``estimated_t``, from the same packed
totals), review decisions (an accepted or substituted reading moves into ``emissions_t``) and
auditors' attestations."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Connection, insert, select, update

from chain.anchoring import unpack_totals
from chain.events import DecodedEvent
from domain.production import HJ212_ALLOWANCE, MASS_UNITS
from domain.review import Action
from domain.tokens import POLLUTANTS
from readmodel import models as m
from readmodel.indexer.projection import Handlers, Projection, int64


def _text(raw_hex: str) -> str:
    return bytes.fromhex(raw_hex[2:]).rstrip(b"\0").decode("ascii", "replace")


def _pollutant_of_hj212(code_hex: str) -> int:
    """AllowanceToken pollutant code of an anchored total's HJ 212 factor (bytes8 hex), or 0."""
    symbol = HJ212_ALLOWANCE.get(_text(code_hex))
    return POLLUTANTS.get(symbol, 0) if symbol else 0


def _total_json(pollutant: str, unit: str, total: int, decimals: int, **extra: object) -> dict[str, object]:
    """A decoded total in the shape the ``totals`` column has always had (bytes8 as 0x-hex)."""
    return {"pollutant": _hex(pollutant), "unit": _hex(unit), "total": total, "decimals": decimals, **extra}


def _batch_anchored(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    """The batch (its header: the event's fields, block and packed totals), its valid totals to
    ``emissions_t``, its excluded readings and gap estimates to their own statistics."""
    a = e.args
    valid, excluded, estimates = unpack_totals(bytes.fromhex(str(a["totals"])[2:]))
    totals = [_total_json(t.pollutant, t.unit, t.total, t.decimals) for t in valid]
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
            "totals": totals,
            "totals_packed": a["totals"],
            "block_number": e.block_number,
            "block_time": e.block_time,
            "tx_hash": e.tx_hash,
        }
    )
    enterprise, period_end = a["enterprise"], int(a["periodEnd"])
    for total in totals:
        tonnes = _tonnes(total)
        if tonnes is not None:
            p.stat(
                "emissions_t", _pollutant_of_hj212(str(total["pollutant"])), enterprise, period_end, tonnes
            )
    for metric, items in (
        ("excluded_t", [_total_json(x.pollutant, x.unit, x.total, x.decimals) for x in excluded]),
        ("estimated_t", [_total_json(x.pollutant, x.unit, x.total, x.decimals) for x in estimates]),
    ):
        for item in items:
            tonnes = _tonnes(item)
            if tonnes is not None:
                p.stat(metric, _pollutant_of_hj212(str(item["pollutant"])), enterprise, period_end, tonnes)


def _tonnes(total: dict[str, object], key: str = "total") -> float | None:
    per_unit = MASS_UNITS.get(_text(str(total["unit"])))
    if per_unit is None:
        return None
    return float(Decimal(str(total[key])).scaleb(-int(str(total["decimals"]))) * per_unit)


def _review_recorded(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    d = a["decision"]
    action = Action(int(d["action"]))
    subject = d["subject"]
    conn.execute(
        insert(m.ReviewDecision).values(
            decision_id=a["id"],
            reviewer=a["reviewer"],
            reviewer_role=int(a["reviewerRole"]),
            enterprise=a["enterprise"],
            subject=subject,
            pollutant=_text(d["pollutant"]),
            month=int(d["month"]),
            action=action.name.lower(),
            method=_text(d["method"]),
            value=str(d["value"]),
            decimals=int(d["decimals"]),
            note_hash=d["noteHash"],
            block_number=e.block_number,
            block_time=e.block_time,
            tx_hash=e.tx_hash,
        )
    )
    reading = conn.execute(
        select(
            m.Reading.value,
            m.Reading.decimals,
            m.Reading.unit,
            m.Reading.pollutant,
            m.Reading.time,
            m.Reading.exclusion,
        ).where(m.Reading.leaf == subject)
    ).first()
    if reading is None:
        return
    value, decimals, unit, pollutant_code, time, exclusion = reading
    original = _tonnes({"unit": _hex(unit), "total": value, "decimals": decimals})
    if original is None:
        return
    counted = 0.0 if action is Action.REJECT else original
    if action is Action.SUBSTITUTE:
        counted = float(Decimal(str(d["value"])).scaleb(-int(d["decimals"])) * MASS_UNITS[unit])
    pollutant = POLLUTANTS.get(HJ212_ALLOWANCE.get(pollutant_code, ""), 0)
    if exclusion is not None:
        # an excluded reading (a mass amount) accepted or substituted moves into emissions
        if action is not Action.REJECT:
            p.stat("excluded_t", pollutant, a["enterprise"], int(time), -original)
            p.stat("emissions_t", pollutant, a["enterprise"], int(time), counted)
    elif counted != original:
        # a valid reading a field alarm marked: a rejection moves it out of emissions, a
        # substitution replaces its amount there (an acceptance keeps it as it is)
        p.stat("emissions_t", pollutant, a["enterprise"], int(time), counted - original)
        if action is Action.REJECT:
            p.stat("excluded_t", pollutant, a["enterprise"], int(time), original)


def _hex(text: str) -> str:
    return "0x" + text.encode("ascii").ljust(8, b"\0").hex()


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
    ("EmissionsLedger", "ReviewDecisionRecorded"): _review_recorded,
    ("EmissionsLedger", "AttestationSubmitted"): _attestation_submitted,
    ("EmissionsLedger", "AttestationRevoked"): _attestation_revoked,
    ("EmissionsLedger", "AttestationRejected"): _attestation_rejected,
}
