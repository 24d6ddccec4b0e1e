"""Projections of AllowanceToken and SettlementToken: transfers and balances (gathered per page),
caps, issuance, retirement, allocations and frozen balances."""

from __future__ import annotations

from sqlalchemy import Connection, insert, update

from chain.events import ZERO_ADDRESS, DecodedEvent
from domain.tokens import CASH_ID, Kind, decode_id
from readmodel import models as m
from readmodel.bulk import upsert
from readmodel.indexer.projection import Handlers, Projection, int64

# ---------------------------------------------------------------------- transfers (hot path)


def transfer(
    p: Projection, event: DecodedEvent, token_id: int, sender: str, recipient: str, value: int
) -> None:
    """Gather the transfer row, the balance changes and the allocation or trade statistic."""
    amount = int64(value, f"{event.name} amount")
    p.transfers.append(
        {
            "event_id": m.event_id(event.block_number, event.log_index),
            "block_number": event.block_number,
            "log_index": event.log_index,
            "block_time": event.block_time,
            "tx_hash": event.tx_hash,
            "token_id": token_id,
            "sender": sender,
            "recipient": recipient,
            "amount": amount,
        }
    )
    if sender != ZERO_ADDRESS:
        p.holdings[(sender, token_id)] -= amount
    if recipient != ZERO_ADDRESS:
        p.holdings[(recipient, token_id)] += amount
    if token_id == CASH_ID or recipient == ZERO_ADDRESS:
        return
    token = decode_id(token_id)
    if sender == ZERO_ADDRESS:
        if token.kind is Kind.ALLOWANCE and recipient not in p.system:
            p.stat("allocated", token.pollutant, recipient, event.block_time, amount)
    elif sender == p.auction_house or (sender not in p.system and recipient not in p.system):
        # a trade: account to account, or an auction delivering to its buyer
        p.stat("traded", token.pollutant, recipient, event.block_time, amount)


def _transfer_single(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    transfer(p, e, int(a["id"]), a["from"], a["to"], a["value"])


def _transfer_batch(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    for token_id, value in zip(a["ids"], a["values"], strict=True):
        transfer(p, e, int(token_id), a["from"], a["to"], value)


def _cash_transfer(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    transfer(p, e, CASH_ID, e.args["from"], e.args["to"], e.args["value"])


# ---------------------------------------------------------------------- supply


def _token_row(conn: Connection, token_id: int) -> None:
    token = decode_id(token_id)
    row = {
        "token_id": token_id,
        "kind": int(token.kind),
        "pollutant": token.pollutant,
        "vintage": token.vintage,
        "cap": 0,
        "issued": 0,
        "retired": 0,
    }
    upsert(conn, m.Token, [row], ("token_id",))


def _token_add(conn: Connection, token_id: int, column: str, amount: int) -> None:
    _token_row(conn, token_id)
    col = m.Token.__table__.c[column]
    conn.execute(update(m.Token).where(m.Token.token_id == token_id).values({col: col + amount}))


def _cap_set(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    token_id = int(e.args["id"])
    _token_row(conn, token_id)
    conn.execute(
        update(m.Token).where(m.Token.token_id == token_id).values(cap=int64(e.args["newCap"], "cap"))
    )


def _allocated(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    total = int64(a["total"], "allocation total")
    conn.execute(
        insert(m.Allocation).values(
            token_id=int(a["id"]),
            batch_ref=a["batchRef"],
            recipients=a["recipients"],
            total=total,
            block_number=e.block_number,
            block_time=e.block_time,
            tx_hash=e.tx_hash,
        )
    )
    _token_add(conn, int(a["id"]), "issued", total)


def _issued_to_auction(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    _token_add(conn, int(e.args["id"]), "issued", int64(e.args["amount"], "amount"))


def _returned_to_cap(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    _token_add(conn, int(e.args["id"]), "issued", -int64(e.args["amount"], "amount"))


def _retired(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    amount = int64(e.args["amount"], "amount")
    _token_add(conn, int(e.args["id"]), "retired", amount)
    token = decode_id(int(e.args["id"]))
    p.stat("retired", token.pollutant, e.args["account"], e.block_time, amount)


# ---------------------------------------------------------------------- frozen balances


def _frozen(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    row = {
        "account": e.args["holder"],
        "token_id": int(e.args["id"]),
        "balance": 0,
        "frozen_reason": e.args["reasonCode"],
    }
    upsert(conn, m.Holding, [row], ("account", "token_id"), replace=("frozen_reason",))


def _released(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    conn.execute(
        update(m.Holding)
        .where(m.Holding.account == e.args["holder"], m.Holding.token_id == int(e.args["id"]))
        .values(frozen_reason=None)
    )


HANDLERS: Handlers = {
    ("AllowanceToken", "TransferSingle"): _transfer_single,
    ("AllowanceToken", "TransferBatch"): _transfer_batch,
    ("AllowanceToken", "CapSet"): _cap_set,
    ("AllowanceToken", "AllowancesAllocated"): _allocated,
    ("AllowanceToken", "AllowancesIssuedToAuction"): _issued_to_auction,
    ("AllowanceToken", "AllowancesReturnedToCap"): _returned_to_cap,
    ("AllowanceToken", "AllowancesRetired"): _retired,
    ("AllowanceToken", "BalanceFrozen"): _frozen,
    ("AllowanceToken", "BalanceReleased"): _released,
    ("SettlementToken", "Transfer"): _cash_transfer,
}
