"""Projections of EmissionCards: cards (issued, replaced, revoked), each card account's months
(committed by loads and recharges, settled with metered, used and returned) and the movements
that make up the card statement (load, settle, release)."""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from chain.events import DecodedEvent
from domain.tokens import decode_id
from readmodel import models as m
from readmodel.bulk import upsert
from readmodel.indexer.projection import Handlers, Projection, int64

_MONTH_KEY = ("account", "token_id", "month")
_SETTLED = ("committed", "settled", "metered", "used", "returned", "updated_time")


def _movement(
    conn: Connection, e: DecodedEvent, kind: str, card: int | None, account: int | None, month: int | None,
    amount: int,
) -> None:  # fmt: skip
    a = e.args
    row = {
        "block_number": e.block_number, "log_index": e.log_index, "kind": kind, "card": card,
        "account": account, "enterprise": str(a["enterprise"]), "token_id": int(a["id"]), "month": month,
        "amount": int64(amount, "card amount"), "block_time": e.block_time, "tx_hash": e.tx_hash,
    }  # fmt: skip
    upsert(conn, m.CardMovement, [row], ("block_number", "log_index"))


def _issued(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    card = int(a["card"])
    row = {
        "card": card, "enterprise": str(a["enterprise"]), "device": str(a["device"]), "mn": str(a["mn"]),
        "account": card, "status": "active", "replaced_by": None, "issued_time": e.block_time,
        "updated_time": e.block_time,
    }  # fmt: skip
    upsert(conn, m.Card, [row], ("card",))


def _replaced(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    old, new = int(a["oldCard"]), int(a["newCard"])
    previous = conn.execute(select(m.Card.device, m.Card.mn).where(m.Card.card == old)).one()
    conn.execute(
        update(m.Card)
        .where(m.Card.card == old)
        .values(status="replaced", replaced_by=new, updated_time=e.block_time)
    )
    row = {
        "card": new, "enterprise": str(a["enterprise"]), "device": previous.device, "mn": previous.mn,
        "account": int(a["account"]), "status": "active", "replaced_by": None, "issued_time": e.block_time,
        "updated_time": e.block_time,
    }  # fmt: skip
    upsert(conn, m.Card, [row], ("card",))


def _revoked(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    conn.execute(
        update(m.Card)
        .where(m.Card.card == int(e.args["card"]))
        .values(status="revoked", updated_time=e.block_time)
    )


def _loaded(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    account, token_id, month = int(a["account"]), int(a["id"]), int(a["month"])
    parts = decode_id(token_id)
    row = {
        "account": account, "token_id": token_id, "month": month, "enterprise": str(a["enterprise"]),
        "pollutant": parts.pollutant, "vintage": parts.vintage,
        "committed": int64(int(a["committed"]), "committed"), "loads": 1, "settled": False,
        "metered": None, "used": None, "returned": None, "updated_time": e.block_time,
    }  # fmt: skip
    upsert(conn, m.CardMonth, [row], _MONTH_KEY, add=("loads",), replace=("committed", "updated_time"))
    _movement(conn, e, "load", int(a["card"]), account, month, int(a["amount"]))


def _settled(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    account, token_id, month = int(a["account"]), int(a["id"]), int(a["month"])
    used, returned = int(a["used"]), int(a["returned"])
    parts = decode_id(token_id)
    row = {
        "account": account, "token_id": token_id, "month": month, "enterprise": str(a["enterprise"]),
        "pollutant": parts.pollutant, "vintage": parts.vintage,
        "committed": int64(used + returned, "committed"), "loads": 0, "settled": True,
        "metered": int64(int(a["metered"]), "metered"), "used": int64(used, "used"),
        "returned": int64(returned, "returned"), "updated_time": e.block_time,
    }  # fmt: skip
    upsert(conn, m.CardMonth, [row], _MONTH_KEY, replace=_SETTLED)
    _movement(conn, e, "settle", int(a["card"]), account, month, returned)


def _released(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    _movement(conn, e, "release", None, None, None, int(e.args["amount"]))


HANDLERS: Handlers = {
    ("EmissionCards", "CardIssued"): _issued,
    ("EmissionCards", "CardReplaced"): _replaced,
    ("EmissionCards", "CardRevoked"): _revoked,
    ("EmissionCards", "CardLoaded"): _loaded,
    ("EmissionCards", "CardMonthSettled"): _settled,
    ("EmissionCards", "CardUsedReleased"): _released,
}
