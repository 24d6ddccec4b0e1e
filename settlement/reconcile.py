"""Reconciliation of a settled day across three sources: on-chain balances and supplies at the
day's last block, the read model's own projection, and the bank statement of cash movements."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine

from domain.tokens import CASH_ID as CASH
from domain.tokens import token_label
from settlement.bank import BankMovement
from settlement.run import ChainView, Settlement, balances, holdings, movements_of

logger = logging.getLogger(__name__)

#: Difference kinds, in report order.
KINDS = (
    "balance",  # an account's closing balance: read model vs chain
    "supply",  # an id's total of closing balances vs the chain's total supply
    "supply_change",  # an id's net issue of the day vs the chain's change in total supply
    "holdings",  # the read model's holdings projection vs its transfer log
    "trade_fee",  # the market's fee account: cash received in market transactions vs the fees charged
    "bank_not_on_chain",  # a bank line with no cash movement on-chain
    "chain_not_in_bank",  # a cash deposit/withdrawal on-chain missing from the bank statement
    "bank_mismatch",  # same reference, different account, amount or direction
)


@dataclass(frozen=True)
class Difference:
    """One way the books do not balance.

    Attributes:
        kind: one of :data:`KINDS`.
        account: the account ("" for an id's totals).
        token_id: the id (0: cash; None for a bank line not on-chain).
        read_model: the read model's figure.
        other: the other source's figure.
        source: ``chain``, ``read-model`` or ``bank``.
        transactions: the day's transactions involved (at most ten).
        detail: a sentence for people.
    """

    kind: str
    account: str
    token_id: int | None
    read_model: int | None
    other: int | None
    source: str
    transactions: tuple[str, ...] = ()
    detail: str = ""

    @property
    def delta(self) -> int | None:
        """``other − read_model`` when both are known."""
        if self.read_model is None or self.other is None:
            return None
        return self.other - self.read_model


@dataclass
class Reconciliation:
    """The differences found and how much was compared per source."""

    differences: list[Difference] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        return not self.differences


def reconcile(
    engine: Engine,
    settlement: Settlement,
    *,
    chain: ChainView | None = None,
    bank: Sequence[BankMovement] | None = None,
) -> Reconciliation:
    """Compare the settled day with the chain (when given), the read model's holdings projection
    and the bank statement (when given).

    Args:
        engine: the read model.
        settlement: the day (:func:`settlement.run.settle`).
        chain: balances and supplies at the day's last block.
        bank: the day's bank statement lines.
    """
    result = Reconciliation()
    if chain is not None and settlement.bounds.last_block >= 0:
        _against_chain(engine, settlement, chain, result)
    _against_holdings(engine, settlement, result)
    _trade_fees(engine, settlement, result)
    if bank is not None:
        _against_bank(settlement, bank, result)
    order = {k: i for i, k in enumerate(KINDS)}
    result.differences.sort(
        key=lambda d: (order[d.kind], d.account.lower(), -1 if d.token_id is None else d.token_id, d.detail)
    )
    logger.info(
        "reconciled",
        extra={
            "day": settlement.bounds.day.isoformat(),
            "differences": len(result.differences),
            **result.checked,
        },
    )
    return result


def _with_txs(engine: Engine, settlement: Settlement, account: str, token_id: int) -> tuple[str, ...]:
    return tuple(movements_of(engine, settlement.bounds, account, token_id))


def _against_chain(engine: Engine, settlement: Settlement, chain: ChainView, result: Reconciliation) -> None:
    block = settlement.bounds.last_block
    pairs = [(line.account, line.token_id) for line in settlement.lines if line.token_id != CASH]
    cash_accounts = [line.account for line in settlement.lines if line.token_id == CASH]
    on_chain = chain.allowance_balances(pairs, block)
    cash = chain.cash_balances(cash_accounts, block)
    result.checked["chain_balances"] = len(pairs) + len(cash_accounts)
    for line in settlement.lines:
        found = cash[line.account] if line.token_id == CASH else on_chain[(line.account, line.token_id)]
        if found != line.closing:
            result.differences.append(
                Difference(
                    "balance",
                    line.account,
                    line.token_id,
                    line.closing,
                    found,
                    "chain",
                    _with_txs(engine, settlement, line.account, line.token_id),
                    f"{token_label(line.token_id)} closing balance {line.closing} in the read model, "
                    f"{found} on-chain at block {block}",
                )
            )
    ids = sorted({CASH} | {t for _, t in pairs})
    supply = chain.supplies(ids, block)
    result.checked["chain_supplies"] = len(ids)
    held: dict[int, int] = defaultdict(int)
    issued: dict[int, int] = defaultdict(int)
    for line in settlement.lines:
        held[line.token_id] += line.closing
        issued[line.token_id] += line.net
    for token_id in ids:
        if supply[token_id] != held[token_id]:
            result.differences.append(
                Difference(
                    "supply",
                    "",
                    token_id,
                    held[token_id],
                    supply[token_id],
                    "chain",
                    (),
                    f"{token_label(token_id)}: balances in the read model sum to {held[token_id]}, "
                    f"total supply on-chain is {supply[token_id]}",
                )
            )
    first = settlement.bounds.first_block
    before = chain.supplies(ids, first - 1) if first > 0 else dict.fromkeys(ids, 0)
    for token_id in ids:
        change = supply[token_id] - before[token_id]
        if change != issued[token_id]:
            result.differences.append(
                Difference(
                    "supply_change",
                    "",
                    token_id,
                    issued[token_id],
                    change,
                    "chain",
                    (),
                    f"{token_label(token_id)}: the day's movements issue {issued[token_id]} net, "
                    f"total supply on-chain changed by {change}",
                )
            )


def _against_holdings(engine: Engine, settlement: Settlement, result: Reconciliation) -> None:
    with engine.connect() as conn:
        now = holdings(conn)
        later = balances(conn, settlement.bounds.last_block, after=True)
    closing = {(line.account, line.token_id): line.closing for line in settlement.lines}
    result.checked["read_model_holdings"] = len(closing)
    for key in sorted(set(now) | set(closing)):
        derived = now.get(key, 0) - later.get(key, 0)
        if derived != closing.get(key, 0):
            account, token_id = key
            result.differences.append(
                Difference(
                    "holdings",
                    account,
                    token_id,
                    closing.get(key, 0),
                    derived,
                    "read-model",
                    _with_txs(engine, settlement, account, token_id),
                    f"{token_label(token_id)}: the transfer log gives {closing.get(key, 0)} at the close, "
                    f"the holdings projection (less later movements) {derived}",
                )
            )


def _trade_fees(engine: Engine, settlement: Settlement, result: Reconciliation) -> None:
    """The fee account's cash from the day's market transactions (its ``Transfer`` legs) against
    the fees the day's fills charged (``TradeExecuted`` buyer fee plus seller fee)."""
    market = settlement.market
    if market is None:
        return
    result.checked["market_fills"] = market.fills
    if market.fee_transfers == market.fees_charged:
        return
    account = market.fee_account or ""
    result.differences.append(
        Difference(
            "trade_fee",
            account,
            CASH,
            market.fees_charged,
            market.fee_transfers,
            "read-model",
            _with_txs(engine, settlement, account, CASH) if account else (),
            f"the day's {market.fills} fills charged {market.fees_charged} fen of fees; the fee account "
            f"{account or '(none set)'} received {market.fee_transfers} fen in market transactions",
        )
    )


def _against_bank(settlement: Settlement, bank: Sequence[BankMovement], result: Reconciliation) -> None:
    on_chain = {e.bank_ref_hash: e for e in settlement.bank_events}
    in_bank = {m.ref_hash: m for m in bank}
    result.checked["bank_lines"] = len(bank)
    result.checked["chain_bank_events"] = len(on_chain)
    for ref, line in in_bank.items():
        event = on_chain.get(ref)
        if event is None:
            result.differences.append(
                Difference(
                    "bank_not_on_chain",
                    line.account,
                    CASH,
                    None,
                    line.amount,
                    "bank",
                    (),
                    f"bank line {line.line} ({line.bank_ref}, {line.direction} {line.amount}) has no "
                    "cash movement on-chain this day",
                )
            )
            continue
        problems = []
        if event.account.lower() != line.account.lower():
            problems.append(f"account {event.account} on-chain, {line.account} at the bank")
        if event.amount != line.amount:
            problems.append(f"amount {event.amount} on-chain, {line.amount} at the bank")
        if event.direction != line.direction:
            problems.append(f"{event.direction} on-chain, {line.direction} at the bank")
        if problems:
            result.differences.append(
                Difference(
                    "bank_mismatch",
                    event.account,
                    CASH,
                    event.amount,
                    line.amount,
                    "bank",
                    (event.tx_hash,),
                    f"bank line {line.line} ({line.bank_ref}): " + "; ".join(problems),
                )
            )
    for ref, event in on_chain.items():
        if ref not in in_bank:
            result.differences.append(
                Difference(
                    "chain_not_in_bank",
                    event.account,
                    CASH,
                    event.amount,
                    None,
                    "bank",
                    (event.tx_hash,),
                    f"{event.direction} of {event.amount} (bank reference hash {ref}) is not in the "
                    "bank statement",
                )
            )
