"""Projections of GovernmentReserve and closures: reserve movements (plan feeds, sales,
confiscations, closure sweeps; one row per token id), offers to projects (offered, accepted,
withdrawn) and closures (the registry's ``EnterpriseClosed`` with the sweep of the same
transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from chain.events import DecodedEvent
from domain.tokens import decode_id
from readmodel import models as m
from readmodel.bulk import upsert
from readmodel.indexer.projection import Handlers, Projection, int64


def _movement(
    e: DecodedEvent, position: int, kind: str, token_id: int, amount: int, party: str | None, ref: int
) -> dict[str, Any]:
    parts = decode_id(token_id)
    return {
        "block_number": e.block_number, "log_index": e.log_index, "position": position, "kind": kind,
        "token_id": token_id, "pollutant": parts.pollutant, "vintage": parts.vintage,
        "amount": int64(amount, "reserve amount"), "party": party, "ref": ref,
        "block_time": e.block_time, "tx_hash": e.tx_hash,
    }  # fmt: skip


def _insert(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        upsert(conn, m.ReserveMovement, rows, ("block_number", "log_index", "position"))


def _fed(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    _insert(conn, [_movement(e, 0, "fed", int(a["id"]), int(a["amount"]), None, int(a["annualPlanId"]))])


def _offered(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    quantity, price = int(a["quantity"]), int(a["price"])
    row = {
        "offer_id": int(a["offerId"]), "project": str(a["project"]), "token_id": int(a["id"]),
        "quantity": int64(quantity, "quantity"), "price": int64(price, "price"),
        "payment": int64(quantity * price, "payment"), "annual_plan_id": int(a["annualPlanId"]),
        "deadline": int(a["deadline"]), "status": "open", "offered_time": e.block_time,
        "decided_time": None, "tx_hash": None,
    }  # fmt: skip
    upsert(conn, m.ReserveOffer, [row], ("offer_id",))


def _sold(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    offer_id = int(a["offerId"])
    conn.execute(
        update(m.ReserveOffer)
        .where(m.ReserveOffer.offer_id == offer_id)
        .values(status="accepted", decided_time=e.block_time, tx_hash=e.tx_hash)
    )
    row = _movement(e, 0, "sold", int(a["id"]), -int(a["quantity"]), str(a["project"]), offer_id)
    _insert(conn, [row])


def _withdrawn(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    conn.execute(
        update(m.ReserveOffer)
        .where(m.ReserveOffer.offer_id == int(e.args["offerId"]))
        .values(status="withdrawn", decided_time=e.block_time)
    )


def _confiscated(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    closure_id = int(a["closureId"])
    kind = "closure" if closure_id else "confiscated"
    holder = str(a["holder"])
    rows = [
        _movement(e, i, kind, int(token_id), int(amount), holder, closure_id)
        for i, (token_id, amount) in enumerate(zip(a["ids"], a["amounts"], strict=True))
        if int(amount) != 0
    ]
    _insert(conn, rows)


def _closed(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    closure_id = int(a["closureId"])
    swept = conn.execute(
        select(m.ReserveMovement.token_id, m.ReserveMovement.amount).where(
            m.ReserveMovement.kind == "closure", m.ReserveMovement.ref == closure_id
        )
    ).all()
    row = {
        "closure_id": closure_id, "enterprise": str(a["enterprise"]), "permit_id": int(a["permitId"]),
        "devices": int(a["devices"]), "reason_code": int(a["reasonCode"]), "reason": str(a["reason"]),
        "swept": [{"token_id": int(t), "amount": int(n)} for t, n in swept],
        "block_time": e.block_time, "tx_hash": e.tx_hash,
    }  # fmt: skip
    upsert(conn, m.Closure, [row], ("closure_id",))


HANDLERS: Handlers = {
    ("GovernmentReserve", "ReserveFed"): _fed,
    ("GovernmentReserve", "ReserveOffered"): _offered,
    ("GovernmentReserve", "ReserveSold"): _sold,
    ("GovernmentReserve", "ReserveOfferWithdrawn"): _withdrawn,
    ("GovernmentReserve", "ReserveConfiscated"): _confiscated,
    ("ConsortiumRegistry", "EnterpriseClosed"): _closed,
}
