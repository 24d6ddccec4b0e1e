"""The exchange market's end of day, run by the settlement job (issue 20, rule 8): for every listed
token id, the orders and pending block proposals of the day (or earlier) expire and their escrow
returns, then the day's close (the half-up VWAP of its listing trades, :mod:`domain.market` via
:func:`chain.market.day_quote`) is posted as the reference price of the next trading day. With no
listing trade the reference stays. A re-run sends nothing; a day whose close the chain's clock has
not passed is refused before anything is sent."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from chain.accounts import Signer
from chain.errors import ContractRevertError
from chain.market import MarketClient, cst_time, day_quote, trading_day
from domain.market import TradeMode
from settlement.errors import MarketCloseRefusedError, MarketDayOpenError

logger = logging.getLogger(__name__)

__all__ = ["MarketCloseResult", "TokenClose", "close_market", "market_day"]

_EPOCH = date(1970, 1, 1)


def market_day(day: date) -> int:
    """The Market contract's day number of the CST calendar date ``day`` (days since 1970-01-01)."""
    return (day - _EPOCH).days


@dataclass(frozen=True)
class TokenClose:
    """What the close did for one token id.

    Attributes:
        token_id: the listed token id.
        expired_orders: open orders of the day (or earlier) expired by this run.
        expired_blocks: pending block proposals expired by this run.
        transactions: expiry pages and reference posts sent by this run.
        close: the day's close (VWAP of its listing trades); None when it had no listing trade.
        posted: True when this run posted ``close`` as the reference price.
    """

    token_id: int
    expired_orders: int
    expired_blocks: int
    transactions: int
    close: int | None
    posted: bool


@dataclass(frozen=True)
class MarketCloseResult:
    """The market's close of one trading day over every listed token id (in id order)."""

    day: date
    tokens: tuple[TokenClose, ...]

    @property
    def transactions(self) -> int:
        """Transactions this run sent (0 on a re-run)."""
        return sum(t.transactions for t in self.tokens)

    def token(self, token_id: int) -> TokenClose:
        """The close of ``token_id`` (KeyError when it is not listed)."""
        for t in self.tokens:
            if t.token_id == token_id:
                return t
        raise KeyError(token_id)


@dataclass(frozen=True)
class _Plan:
    token_id: int
    expire: bool
    close: int | None
    post: bool


def listed_tokens(market: MarketClient) -> list[int]:
    """Every token id that ever had a rulebook (``RulebookSet`` events), sorted."""
    return sorted({int(e["args"]["tokenId"]) for e in market.events("RulebookSet")})


def _reference_set_since(market: MarketClient, token_id: int, since: int) -> bool:
    """True when the token's reference price was set (posted or a new rulebook) at or after unix
    time ``since``: the day's close was posted already, or the exchange decided otherwise."""
    names = ("ReferencePriceSet", "RulebookSet")
    last = max((e["block"] for n in names for e in market.events(n, tokenId=token_id)), default=None)
    if last is None:
        return False
    return int(market.chain.w3.eth.get_block(last)["timestamp"]) >= since


def _traded_after(market: MarketClient, token_id: int, day: int) -> bool:
    """True when the token has listing trades of a later day than ``day``: that day's close
    supersedes ``day``'s (days closed out of order never post an older close last)."""
    listed = [t for t in market.trades(token_id) if t.mode is not TradeMode.BLOCK]
    if not listed:
        return False
    stamp = int(market.chain.w3.eth.get_block(listed[-1].block_number)["timestamp"])
    return trading_day(stamp)[0] > day


def _plan(market: MarketClient, token_id: int, day: int, now: int) -> _Plan | None:
    rules = market.rulebook(token_id)
    if rules is None:
        return None
    ends = cst_time(day, rules.close2)
    if now < ends:
        raise MarketDayOpenError(
            f"trading day {date.fromordinal(_EPOCH.toordinal() + day)} of token {token_id} closes at "
            f"{ends} (unix time), the chain is at {now}: nothing sent"
        )
    items, book_day = market.book_state(token_id)
    expire = items > 0 and book_day <= day
    listed = [t for t in market.trades_of_day(token_id, day) if t.mode is not TradeMode.BLOCK]
    close = day_quote(listed, rules.reference_price).close_price if listed else None
    post = (
        close is not None
        and close != rules.reference_price
        and not _reference_set_since(market, token_id, ends)
        and not _traded_after(market, token_id, day)
    )
    return _Plan(token_id, expire, close, post)


def close_market(market: MarketClient, signer: Signer, day: date) -> MarketCloseResult:
    """Close trading day ``day`` (CST calendar date) on ``market`` as ``signer`` (the market's
    settlement agent, holding the EXCHANGE role: the only account whose reference prices it takes).

    For every token id with a rulebook: when its book holds orders or pending block proposals of
    ``day`` or earlier, expire them (paged; escrow returns to the owners); then, when ``day`` had
    listing trades, post their half-up VWAP as the reference price, unless it is the reference
    already, the reference was set after the day's close (a re-run, or the exchange's own
    decision, is not overwritten) or a later day has listing trades (its close supersedes).
    Idempotent: a re-run sends nothing.

    Raises:
        MarketDayOpenError: the chain's clock is before the close (close2) of ``day`` for a listed
            token id; nothing is sent.
        MarketCloseRefusedError: the market would refuse ``signer``'s reference post (not the
            EXCHANGE role, not active, or not the settlement agent: ``MarketNotSettlementAgent``);
            checked before anything is sent.
    """
    number = market_day(day)
    now = market.chain.timestamp()
    plans = [p for p in (_plan(market, t, number, now) for t in listed_tokens(market)) if p is not None]
    for p in plans:
        if p.post and p.close is not None:
            try:  # the post simulated first, so a signer the market refuses sends nothing at all
                market.chain.call(market.set_reference_price_call(p.token_id, p.close), sender=signer.address)
            except ContractRevertError as exc:
                raise MarketCloseRefusedError(
                    f"the market refuses {signer.address}'s close of {day} for token {p.token_id}: "
                    f"{exc.error} {exc.args_}"
                ) from exc
    done = []
    for p in plans:
        orders = blocks = sent = 0
        if p.expire:
            start = market.chain.w3.eth.block_number + 1
            sent += market.expire_all(signer, p.token_id)
            orders = len(market.events("OrderExpired", from_block=start))
            blocks = len(market.events("BlockExpired", from_block=start))
        if p.post and p.close is not None:
            market.set_reference_price(signer, p.token_id, p.close)
            sent += 1
        logger.info(
            "market day closed",
            extra={
                "day": day.isoformat(),
                "token_id": p.token_id,
                "close": p.close,
                "posted": p.post,
                "expired": orders + blocks,
                "transactions": sent,
            },
        )
        done.append(TokenClose(p.token_id, orders, blocks, sent, p.close, p.post))
    return MarketCloseResult(day, tuple(done))
